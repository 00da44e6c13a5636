import Foundation

/// A local stand-in for a SCAYLE tenant's Admin API (REST, JSON, `X-Access-Token`), on the loopback HTTP
/// fixture. It answers with the shapes SCAYLE's docs show — orders with unit items, prices in cents and
/// `currencyCode` (https://scayle.dev/en/developer-guide/transactions-and-orders/manage-transactions),
/// create-shipment / create-cancellation / create-return by order item and return key
/// (https://scayle.dev/en/onboarding-guide/onboarding-backend/send-order-updates), stock per variant and
/// warehouse with `changedAt`, where an older `changedAt` changes nothing and the current stock is
/// returned (https://scayle.dev/en/onboarding-guide/onboarding-backend/update-your-variants-stock),
/// collections as `entities` with a `cursor`, errors as `{"errors": [{code, message, field}]}` — and keeps
/// what is written.
public final class ScayleFixture: @unchecked Sendable {
    public struct Item {
        public var id: Int
        public var sku: String
        public var priceCents: Int
        /// `open`, `delivered`, `cancelled`, `returned`.
        public var status = "open"
        public var returnKey: String?
    }

    public struct Order {
        public var id: Int
        public var status: String
        public var currency = "EUR"
        public var postcode = "LS6 2DT"
        public var customData: [String: String] = ["gift_message": "Happy birthday"]
        public var updatedAt = "2026-11-30T07:15:00+00:00"
        public var items: [Item]
        public var shipments: [[String: Any]] = []
        public var returns: [[String: Any]] = []
        public var cancellations: [[Int]] = []
    }

    public struct Variant {
        public var id: Int
        public var referenceKey: String
        public var ean: String
        /// Per warehouse reference key: quantity and the changedAt it was set with.
        public var stocks: [String: (quantity: Int, changedAt: String)]
        public init(id: Int, referenceKey: String, ean: String, stocks: [String: (quantity: Int, changedAt: String)] = [:]) {
            self.id = id
            self.referenceKey = referenceKey
            self.ean = ean
            self.stocks = stocks
        }
    }

    let lock = NSLock()
    public var orders: [Order] = []
    public var variants: [Variant] = []
    public let token: String
    public var shopKey = "ms"
    public var countryCode = "GB"
    /// Answered instead of handling, to the first request whose `METHOD path` starts with the prefix.
    public var faults: [(request: String, response: HTTPServerFixture.Response)] = []
    /// Answered after the request was carried out (its answer is lost).
    public var faultsAfterApplying: [(request: String, response: HTTPServerFixture.Response)] = []
    public private(set) var server: HTTPServerFixture!
    private var nextItem = 90_000

    public init(token: String = "scayle-test-token") throws {
        self.token = token
        server = try HTTPServerFixture { [unowned self] request in self.handle(request) }
    }

    public var requests: [HTTPServerFixture.Request] { server.requests }
    public var baseURL: String { server.baseURL + "/api/admin/v1" }

    public func withLock<T>(_ body: (ScayleFixture) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(self)
    }

    /// Seeds an order: `lines` become one unit item per piece.
    public func addOrder(_ id: Int, status: String = "confirmed", lines: [(sku: String, quantity: Int, priceCents: Int)]) {
        var items: [Item] = []
        for line in lines {
            for _ in 0..<line.quantity {
                nextItem += 1
                items.append(Item(id: nextItem, sku: line.sku, priceCents: line.priceCents))
            }
        }
        orders.append(Order(id: id, status: status, items: items))
    }

    // MARK: - Answers

    private func error(_ status: Int, _ message: String, code: String = "VALIDATION", field: String? = nil) -> HTTPServerFixture.Response {
        var entry: [String: Any] = ["code": code, "message": message]
        if let field { entry["field"] = field }
        return .json(["errors": [entry]], status: status)
    }

    private func handle(_ request: HTTPServerFixture.Request) -> HTTPServerFixture.Response {
        lock.lock()
        defer { lock.unlock() }
        let full = request.path.replacingOccurrences(of: "/api/admin/v1", with: "")
        let line = request.method + " " + full
        if let i = faults.firstIndex(where: { line.hasPrefix($0.request) }) { return faults.remove(at: i).response }
        guard request.headers["x-access-token"] == token else {
            return error(401, "Invalid access token", code: "UNAUTHORIZED")
        }
        let answer = respond(request, path: String(full.prefix { $0 != "?" }),
                             query: Dictionary((URLComponents(string: full)?.queryItems ?? []).map { ($0.name, $0.value ?? "") },
                                               uniquingKeysWith: { a, _ in a }))
        if let i = faultsAfterApplying.firstIndex(where: { line.hasPrefix($0.request) }) {
            return faultsAfterApplying.remove(at: i).response
        }
        return answer
    }

    private func page(_ items: [[String: Any]], _ query: [String: String]) -> HTTPServerFixture.Response {
        let perPage = min(100, Int(query["perPage"] ?? "") ?? 100)
        let start = Int(query["cursor"].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? "") ?? 0
        let slice = Array(items.dropFirst(start).prefix(perPage))
        let next = start + slice.count < items.count ? Data(String(start + slice.count).utf8).base64EncodedString() : nil
        return .json(["entities": slice, "cursor": ["next": next ?? NSNull()] as [String: Any]])
    }

    private func respond(_ request: HTTPServerFixture.Request, path: String, query: [String: String]) -> HTTPServerFixture.Response {
        let body = request.json as? [String: Any] ?? [:]
        let parts = path.split(separator: "/").map(String.init)
        switch (request.method, parts.first ?? "", parts.count) {
        case ("GET", "orders", 1):
            let statuses = Set((query["filters[status]"] ?? "").split(separator: ",").map(String.init))
            var found = orders.filter { statuses.isEmpty || statuses.contains($0.status) }
            if let since = query["filters[updatedAt][gte]"].flatMap({ ISO8601DateFormatter().date(from: $0) }) {
                found = found.filter { (ISO8601DateFormatter().date(from: $0.updatedAt) ?? .distantPast) >= since }
            }
            return page(found.sorted { $0.id < $1.id }.map(json), query)
        case ("GET", "orders", 2):
            guard let order = orders.first(where: { String($0.id) == parts[1] }) else { return error(404, "Order not found", code: "NOT_FOUND") }
            return .json(json(order))
        case ("PUT", "orders", 3) where parts[2] == "custom-data":
            guard let i = orders.firstIndex(where: { String($0.id) == parts[1] }) else { return error(404, "Order not found", code: "NOT_FOUND") }
            orders[i].customData = body.compactMapValues { $0 as? String }
            return .json(orders[i].customData)
        case ("POST", "shipments", 1):
            guard let i = orders.firstIndex(where: { $0.id == body["orderId"] as? Int }) else { return error(404, "Order not found", code: "NOT_FOUND") }
            guard body["shopKey"] as? String == shopKey, body["countryCode"] as? String == countryCode else {
                return error(400, "shopKey and countryCode must match the order's shop country", field: "shopKey")
            }
            guard body["carrier"] as? String != nil else { return error(400, "carrier is required", field: "carrier") }
            for item in body["items"] as? [[String: Any]] ?? [] {
                guard let n = orders[i].items.firstIndex(where: { $0.id == item["orderItemId"] as? Int }),
                      orders[i].items[n].status == "open" else {
                    return error(400, "item \(item["orderItemId"] ?? "") is not open", field: "items")
                }
            }
            for item in body["items"] as? [[String: Any]] ?? [] {
                let n = orders[i].items.firstIndex { $0.id == item["orderItemId"] as? Int }!
                orders[i].items[n].status = "delivered"
                orders[i].items[n].returnKey = item["returnKey"] as? String
            }
            orders[i].shipments.append(body)
            return .json(["id": orders[i].shipments.count], status: 201)
        case ("POST", "cancellations", 1):
            guard let i = orders.firstIndex(where: { $0.id == body["orderId"] as? Int }) else { return error(404, "Order not found", code: "NOT_FOUND") }
            var ids: [Int] = []
            for item in body["items"] as? [[String: Any]] ?? [] {
                guard let n = orders[i].items.firstIndex(where: { $0.id == item["orderItemId"] as? Int }),
                      orders[i].items[n].status == "open" else { return error(400, "item is not open", field: "items") }
                orders[i].items[n].status = "cancelled"
                ids.append(orders[i].items[n].id)
            }
            orders[i].cancellations.append(ids)
            return .json(["id": orders[i].cancellations.count], status: 201)
        case ("POST", "returns", 1):
            guard let i = orders.firstIndex(where: { $0.id == body["orderId"] as? Int }) else { return error(404, "Order not found", code: "NOT_FOUND") }
            var returned: [Int] = []
            for item in body["items"] as? [[String: Any]] ?? [] {
                let key = item["returnKey"] as? String
                guard let n = orders[i].items.firstIndex(where: { $0.returnKey.map { $0 == key } ?? (String($0.id) == key) }),
                      orders[i].items[n].status == "delivered" else {
                    return error(400, "no delivered item with return key \(item["returnKey"] ?? "")", field: "items")
                }
                orders[i].items[n].status = "returned"
                returned.append(orders[i].items[n].id)
            }
            var record = body
            record["items"] = returned.map { ["orderItemId": $0] }
            orders[i].returns.append(record)
            return .json(["id": orders[i].returns.count], status: 201)
        case ("GET", "products", 1):
            let grouped = variants.map { v -> [String: Any] in
                ["id": v.id, "name": "Product \(v.referenceKey)", "variants": [json(v)]]
            }
            return page(grouped, query)
        case ("POST", "variants", 3) where parts[2] == "stocks" && parts[1].hasPrefix("key="):
            let key = String(parts[1].dropFirst(4)).removingPercentEncoding ?? ""
            guard let i = variants.firstIndex(where: { $0.referenceKey == key }) else { return error(404, "Variant not found", code: "NOT_FOUND") }
            guard let warehouse = body["warehouseReferenceKey"] as? String, let quantity = body["quantity"] as? Int,
                  let changedAt = body["changedAt"] as? String, let when = ISO8601DateFormatter().date(from: changedAt) else {
                return error(400, "quantity, warehouseReferenceKey and changedAt are required")
            }
            if let current = variants[i].stocks[warehouse], let then = ISO8601DateFormatter().date(from: current.changedAt), when < then {
                return .json(["quantity": current.quantity, "changedAt": current.changedAt])  // outdated: unchanged
            }
            variants[i].stocks[warehouse] = (quantity, changedAt)
            return .json(["quantity": quantity, "changedAt": changedAt])
        default:
            return error(404, "No route \(request.method) \(path)", code: "NOT_FOUND")
        }
    }

    // MARK: - JSON

    private func json(_ variant: Variant) -> [String: Any] {
        ["id": variant.id, "referenceKey": variant.referenceKey, "ean": variant.ean,
         "stocks": variant.stocks.sorted { $0.key < $1.key }.map {
             ["warehouseReferenceKey": $0.key, "quantity": $0.value.quantity, "changedAt": $0.value.changedAt] as [String: Any]
         }]
    }

    private func json(_ order: Order) -> [String: Any] {
        [
            "id": order.id, "referenceKey": "REF-\(order.id)", "publicKey": "P\(order.id)", "status": order.status,
            "currencyCode": order.currency, "createdAt": "2026-11-30T07:15:00+00:00", "updatedAt": order.updatedAt,
            "address": ["shipping": ["firstName": "Amelia", "lastName": "Hart", "street": "Mill Lane", "houseNumber": "14",
                                     "zipCode": order.postcode, "city": "Leeds", "countryCode": "GB"]],
            "customer": ["email": "amelia@example.com"],
            "cost": ["withTax": order.items.reduce(0) { $0 + $1.priceCents } + 395],
            "shipping": ["deliveryCosts": 395, "shippingMethod": "Express"],
            "customData": order.customData,
            "items": order.items.map { item -> [String: Any] in
                var j: [String: Any] = ["id": item.id, "status": item.status, "variant": ["id": item.id + 1, "referenceKey": item.sku],
                                        "price": ["withTax": item.priceCents]]
                if let key = item.returnKey { j["returnKey"] = key }
                return j
            },
            "returns": order.returns.map { r -> [String: Any] in
                ["referenceKey": r["referenceKey"] ?? NSNull(), "items": r["items"] ?? []]
            },
        ]
    }
}
