import Foundation

/// A local stand-in for a WooCommerce shop's REST API v3, speaking its JSON shapes: orders (with
/// pagination headers), notes, refunds, products with variations, and the batch endpoints. It keeps
/// what is written, so tests assert the exact requests and the resulting state.
public final class WooCommerceFixture: @unchecked Sendable {
    let lock = NSLock()
    public var orders: [[String: Any]] = []
    public var notes: [Int: [[String: Any]]] = [:]
    public var refunds: [Int: [[String: Any]]] = [:]
    public var products: [[String: Any]] = []
    public var variations: [Int: [[String: Any]]] = [:]
    /// Answers to give before the normal one, by path prefix: a 429, a 500, a malformed body.
    public var faults: [(path: String, response: HTTPServerFixture.Response)] = []
    /// Answers given instead of the normal one once the request has been carried out (a write that
    /// reached the shop, whose answer is lost), by method and path prefix.
    public var faultsAfterApplying: [(request: String, response: HTTPServerFixture.Response)] = []
    public var server: HTTPServerFixture!

    public init() throws {
        server = try HTTPServerFixture { [unowned self] request in self.handle(request) }
    }

    public var requests: [HTTPServerFixture.Request] { server.requests }

    /// Writes (anything but GET), as `METHOD path`.
    public var writes: [String] { requests.filter { $0.method != "GET" }.map { "\($0.method) \($0.path)" } }

    /// An order as `GET /orders` returns it; `at` is when it was created and last modified (GMT, without
    /// a zone, as WooCommerce writes `date_created_gmt` and `date_modified_gmt`).
    public static func order(_ id: Int, status: String = "processing", lines: [(id: Int, sku: String, qty: Int, total: String)],
                      postcode: String = "LS6 2DT", at: String = "2026-11-30T07:15:00") -> [String: Any] {
        [
            "id": id, "number": String(id), "status": status, "date_created_gmt": at, "date_modified_gmt": at,
            "customer_note": "Leave with the neighbour",
            "billing": ["first_name": "Amelia", "last_name": "Hart", "email": "amelia@example.com", "phone": "+44 7700 900123"],
            "shipping": ["first_name": "Amelia", "last_name": "Hart", "company": "", "address_1": "14 Mill Lane", "address_2": "",
                         "city": "Leeds", "state": "", "postcode": postcode, "country": "GB"],
            "line_items": lines.map { ["id": $0.id, "name": "Item \($0.sku)", "sku": $0.sku, "quantity": $0.qty,
                                       "total": $0.total, "price": (Double($0.total) ?? 0) / Double($0.qty)] as [String: Any] },
            "shipping_lines": [["method_id": "flat_rate", "method_title": "Express"]],
            "meta_data": [["id": 1, "key": "gift_message", "value": "Happy birthday"], ["id": 2, "key": "_internal", "value": "x"]],
            "shipping_total": "3.95", "total": "23.95",
        ]
    }

    private func handle(_ request: HTTPServerFixture.Request) -> HTTPServerFixture.Response {
        lock.lock()
        defer { lock.unlock() }
        let full = request.path
        let path = String(full.prefix { $0 != "?" }).replacingOccurrences(of: "/wp-json/wc/v3", with: "")
        let query = Dictionary(uniqueKeysWithValues: (URLComponents(string: full)?.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        if let i = faults.firstIndex(where: { full.replacingOccurrences(of: "/wp-json/wc/v3", with: "").hasPrefix($0.path) }) {
            return faults.remove(at: i).response
        }
        let answer = respond(request, path: path, query: query)
        let line = request.method + " " + full.replacingOccurrences(of: "/wp-json/wc/v3", with: "")
        if let i = faultsAfterApplying.firstIndex(where: { line.hasPrefix($0.request) }) {
            return faultsAfterApplying.remove(at: i).response
        }
        return answer
    }

    private func respond(_ request: HTTPServerFixture.Request, path: String, query: [String: String])
        -> HTTPServerFixture.Response
    {
        guard request.headers["authorization"] == "Basic " + Data("ck_test:cs_test".utf8).base64EncodedString() else {
            return .json(["code": "woocommerce_rest_cannot_view"], status: 401)
        }
        let parts = path.split(separator: "/").map(String.init)
        func page(_ items: [[String: Any]]) -> HTTPServerFixture.Response {
            let per = Int(query["per_page"] ?? "10") ?? 10
            let n = Int(query["page"] ?? "1") ?? 1
            let slice = Array(items.dropFirst((n - 1) * per).prefix(per))
            let pages = max(1, (items.count + per - 1) / per)
            return .json(slice, headers: ["X-WP-Total": String(items.count), "X-WP-TotalPages": String(pages)])
        }
        switch (request.method, parts.count, parts.first) {
        case ("GET", 1, "orders"):
            let statuses = Set((query["status"] ?? "").split(separator: ",").map(String.init))
            if let search = query["search"] { return .json(orders.filter { $0["number"] as? String == search }) }
            // `modified_after`: "Limit response to resources modified after a given ISO8601 compliant date"
            // (https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders).
            if let after = query["modified_after"] {
                guard let since = Self.gmt(after) else { return .json(["code": "rest_invalid_param"], status: 400) }
                return page(orders.filter {
                    statuses.contains($0["status"] as! String) && (Self.gmt($0["date_modified_gmt"] as? String) ?? .distantPast) > since
                })
            }
            return page(orders.filter { statuses.contains($0["status"] as! String) })
        case ("GET", 2, "orders"):
            guard let o = orders.first(where: { String($0["id"] as! Int) == parts[1] }) else {
                return .json(["code": "woocommerce_rest_shop_order_invalid_id"], status: 404)
            }
            return .json(o)
        case ("PUT", 2, "orders"):
            guard let i = orders.firstIndex(where: { String($0["id"] as! Int) == parts[1] }),
                  let body = request.json as? [String: Any] else { return .json([:], status: 400) }
            if let status = body["status"] as? String { orders[i]["status"] = status }
            return .json(orders[i])
        case (_, 3, "orders") where parts[2] == "notes":
            let id = Int(parts[1])!
            if request.method == "POST", let body = request.json as? [String: Any] {
                notes[id, default: []].append(["id": notes[id, default: []].count + 1, "note": body["note"] as? String ?? "",
                                               "customer_note": body["customer_note"] as? Bool ?? false])
                return .json(notes[id]!.last!, status: 201)
            }
            return .json(notes[id] ?? [])
        case (_, 3, "orders") where parts[2] == "refunds":
            let id = Int(parts[1])!
            if request.method == "POST", let body = request.json as? [String: Any] {
                refunds[id, default: []].append(["id": 900 + refunds[id, default: []].count, "reason": body["reason"] ?? "",
                                                 "amount": body["amount"] ?? "", "restock_items": body["restock_items"] ?? false])
                return .json(refunds[id]!.last!, status: 201)
            }
            return .json(refunds[id] ?? [])
        case ("GET", 1, "products"):
            return page(products)
        case ("GET", 3, "products") where parts[2] == "variations":
            return page(variations[Int(parts[1])!] ?? [])
        case ("POST", 2, "products") where parts[1] == "batch":
            return batch(&products, request)
        case ("POST", 4, "products") where parts[3] == "batch":
            var list = variations[Int(parts[1])!] ?? []
            let response = batch(&list, request)
            variations[Int(parts[1])!] = list
            return response
        default:
            return .json(["code": "rest_no_route"], status: 404)
        }
    }

    /// A WooCommerce date: ISO 8601 with or without a zone (GMT when none is given).
    public static func gmt(_ text: String?) -> Date? {
        guard let text else { return nil }
        let iso = ISO8601DateFormatter()
        return iso.date(from: text) ?? iso.date(from: text + "Z")
    }

    private func batch(_ list: inout [[String: Any]], _ request: HTTPServerFixture.Request) -> HTTPServerFixture.Response {
        let updates = (request.json as? [String: Any])?["update"] as? [[String: Any]] ?? []
        guard updates.count <= 100 else { return .json(["code": "woocommerce_rest_request_entity_too_large"], status: 413) }
        for u in updates {
            if let i = list.firstIndex(where: { $0["id"] as? Int == u["id"] as? Int }), let q = u["stock_quantity"] {
                list[i]["stock_quantity"] = q
            }
        }
        return .json(["update": updates])
    }
}
