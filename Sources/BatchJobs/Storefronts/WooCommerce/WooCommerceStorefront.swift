import FileTransport
import Foundation
import Logging

/// A WooCommerce shop through its REST API v3 (`/wp-json/wc/v3/`), with consumer key and secret (HTTP
/// Basic over HTTPS).
///
/// Every write looks before it adds: despatches and cancellations are order notes carrying a
/// `[voxbatch …]` marker, refunds carry the return number in their reason, so a retry or a rerun after
/// a crash finds what it already did and adds nothing twice.
public final class WooCommerceStorefront: Storefront {
    let base: String
    let auth: HTTPRequest.BasicAuth
    let http: HTTPClient
    let settings: Configuration.Storefront
    let logger: Logger
    private var orderCache: [String: (order: StorefrontOrder, raw: WooOrder)] = [:]
    private var skuMap: [String: WooProduct]?
    /// Orders whose notes and refunds were read in this run.
    private var detailed: Set<String> = []

    /// Connects to the shop at `configuration.url` with the key and secret it references.
    ///
    /// - Parameter clock: The job's clock (how far back cancelled orders are looked for is counted from it).
    /// - Throws: ``StorefrontError`` when the credentials cannot be read.
    public init(configuration: Configuration.Storefront, retry: RetryPolicy = RetryPolicy(), http: HTTPClient? = nil,
                logger: Logger = Logger(label: "voxbatch.woocommerce"), clock: @escaping () -> Date) throws {
        self.clock = clock
        guard let url = configuration.url, let key = configuration.key, let secret = configuration.secret else {
            throw StorefrontError(storefront: "woocommerce", message: "url, key and secret are required", isTransient: false)
        }
        do {
            auth = .init(user: try key.read(), password: try secret.read())
        } catch {
            throw StorefrontError(storefront: "woocommerce", message: "cannot read the API credentials: \(error)",
                                  isTransient: false)
        }
        base = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/wp-json/wc/v3"
        settings = configuration
        var httpSettings = HTTPSettings()
        httpSettings.timeout = configuration.timeout
        httpSettings.requestsPerSecond = configuration.requestsPerSecond
        httpSettings.retry = retry
        self.http = http ?? HTTPClient(settings: httpSettings, logger: logger, clock: clock)
        self.logger = logger
    }

    // MARK: - HTTP

    private var rest: RESTConnection {
        var connection = RESTConnection(storefront: "woocommerce", base: base, http: http, refusedCredentials: { what, status, detail in
            // Permanent: retrying with the same credentials cannot help. Where they come from, never their value.
            "\(what): the shop refused the API credentials (HTTP \(status)" + (detail.map { ": \($0)" } ?? "")
                + "); check the consumer key in "
                + "\(self.settings.key.map(String.init(describing:)) ?? "key_env/key_file") and the secret in "
                + "\(self.settings.secret.map(String.init(describing:)) ?? "secret_env/secret_file")"
                + " and that the key has read/write permission"
        })
        connection.basicAuth = auth
        connection.detail = { (try? JSONSerialization.jsonObject(with: $0) as? [String: Any])?["message"] as? String }
        return connection
    }

    /// - Parameter idempotent: a POST that may safely be sent twice (absolute stock values).
    private func call(_ method: String, _ path: String, query: [(String, String)] = [], body: Any? = nil,
                      idempotent: Bool = false) throws -> HTTPResponse
    {
        try rest.call(method, path, query: query, body: body, idempotent: idempotent)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, _ what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw StorefrontError(storefront: "woocommerce", message: "\(what): the shop's answer is not the JSON "
                                  + "WooCommerce sends (\(error))", isTransient: false)
        }
    }

    /// Every page of a list endpoint (`per_page=100`, following `X-WP-TotalPages`).
    private func all<T: Decodable>(_ type: T.Type, _ path: String, query: [(String, String)] = []) throws -> [T] {
        var items: [T] = []
        try pages(type, path, query: query, perPage: 100) { items += $0 }
        return items
    }

    /// A list endpoint a page at a time (`per_page` at most 100, WooCommerce's limit), following
    /// `X-WP-TotalPages`; `body` gets each page before the next is asked for.
    private func pages<T: Decodable>(_ type: T.Type, _ path: String, query: [(String, String)], perPage: Int,
                                     _ body: ([T]) throws -> Void) throws {
        var page = 1
        while true {
            let response = try call("GET", path, query: query + [("per_page", String(min(100, max(1, perPage)))),
                                                                 ("page", String(page))])
            let items = try decode([T].self, response, "GET \(path) page \(page)")
            try body(items)
            let pages = Int(response.headers["x-wp-totalpages"] ?? "") ?? 1
            if page >= pages || items.isEmpty { return }
            page += 1
        }
    }

    // MARK: - Orders

    /// How far back cancelled orders are looked for (the set of cancelled orders only grows).
    public var cancelledLookbackDays = 30
    /// The job's clock.
    public let clock: () -> Date

    public func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws {
        var query = [("status", statuses.joined(separator: ",")), ("orderby", "id"), ("order", "asc")]
        let cancelled = Set(statuses) == Set(settings.cancelledStatuses)
        if cancelled {
            let since = clock().addingTimeInterval(-Double(cancelledLookbackDays) * 86_400)
            query.append(("modified_after", UTCTime.iso8601(since)))
        }
        try pages(WooOrder.self, "/orders", query: query, perPage: pageSize) { raw in
            try body(raw.map { woo in
                let order = woo.storefrontOrder()
                // The cancelled orders of the look-back window are few and each is acted on next: keep them.
                // Ready orders are not kept, so a listing holds one page, however many there are.
                if cancelled && !detailed.contains(order.number) { orderCache[order.number] = (order, woo) }
                return order
            })
        }
    }

    public func order(number: String) throws -> StorefrontOrder? {
        if detailed.contains(number), let cached = orderCache[number] { return cached.order }
        let woo: WooOrder
        if let cached = orderCache[number] {
            woo = cached.raw
        } else if let id = Int(number) {
            do {
                woo = try decode(WooOrder.self, try call("GET", "/orders/\(id)"), "GET /orders/\(id)")
            } catch let error as StorefrontError where error.message.contains("HTTP 404") {
                return nil
            }
        } else {
            let found = try decode([WooOrder].self, try call("GET", "/orders", query: [("search", number)]), "search")
            guard let match = found.first(where: { $0.number == number }) else { return nil }
            woo = match
        }
        var order = woo.storefrontOrder()
        // What voxbatch already did: its notes (despatches) and refunds (returns).
        let notes = try decode([WooNote].self, try call("GET", "/orders/\(woo.id)/notes"), "GET notes")
        for note in notes {
            for (id, sku, quantity) in StorefrontMarker.quantities(in: note.note, kind: "fulfilment")
                where order.fulfilmentIDs.insert(id).inserted {
                if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].fulfilled += quantity }
            }
        }
        let refunds = try decode([WooRefund].self, try call("GET", "/orders/\(woo.id)/refunds"), "GET refunds")
        for refund in refunds {
            for (id, sku, quantity) in StorefrontMarker.quantities(in: refund.reason ?? "", kind: "return")
                where order.refundIDs.insert(id).inserted {
                if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].refunded += quantity }
            }
        }
        orderCache[number] = (order, woo)
        detailed.insert(number)
        return order
    }

    public func fulfil(_ fulfilment: Fulfilment) throws {
        guard let order = try order(number: fulfilment.orderNumber), let raw = orderCache[fulfilment.orderNumber]?.raw else {
            throw StorefrontError(storefront: "woocommerce", message: "no order \(fulfilment.orderNumber)", isTransient: false)
        }
        let new = fulfilment.lines.filter { !order.fulfilmentIDs.contains(fulfilment.package + "/" + $0.sku) }
        guard !new.isEmpty else { return }  // already recorded: nothing twice
        let what = new.map { "\($0.quantity) x \($0.sku)" }.joined(separator: ", ")
        let marker = "[voxbatch fulfilment " + new.map { "\(fulfilment.package)/\($0.sku)=\($0.quantity)" }
            .joined(separator: " ") + "]"
        let note = "Despatched \(what) with \(fulfilment.carrier)" + (fulfilment.service.isEmpty ? "" : " \(fulfilment.service)")
            + (fulfilment.trackingNumber.isEmpty ? "" : ", tracking number \(fulfilment.trackingNumber)")
            + " (package \(fulfilment.package), \(fulfilment.despatchDate)). \(marker)"
        _ = try call("POST", "/orders/\(raw.id)/notes", body: ["note": note, "customer_note": settings.notifyCustomer])
        var update: [String: Any] = [
            "meta_data": [["key": settings.trackingMetaKey,
                           "value": ["carrier": fulfilment.carrier, "service": fulfilment.service,
                                     "tracking_number": fulfilment.trackingNumber, "package": fulfilment.package,
                                     "date": fulfilment.despatchDate]]],
        ]
        var updated = order
        for line in new {
            updated.fulfilmentIDs.insert(fulfilment.package + "/" + line.sku)
            if let i = updated.lines.firstIndex(where: { $0.sku == line.sku }) { updated.lines[i].fulfilled += line.quantity }
        }
        if updated.isFullyFulfilled {
            update["status"] = "completed"
            updated.status = "completed"
        }
        _ = try call("PUT", "/orders/\(raw.id)", body: update)
        orderCache[fulfilment.orderNumber] = (updated, raw)
    }

    public func refund(_ refund: Refund) throws {
        guard let order = try order(number: refund.orderNumber), let raw = orderCache[refund.orderNumber]?.raw else {
            throw StorefrontError(storefront: "woocommerce", message: "no order \(refund.orderNumber)", isTransient: false)
        }
        guard !order.refundIDs.contains(refund.id) else { return }
        guard let item = raw.line_items.first(where: { $0.sku == refund.sku }) else {
            throw StorefrontError(storefront: "woocommerce", message: "order \(refund.orderNumber) has no line \(refund.sku)",
                                  isTransient: false)
        }
        let unit = (Decimal(string: item.total ?? "") ?? 0) / Decimal(max(1, item.quantity))
        var amount = unit * Decimal(refund.quantity)
        var rounded = Decimal()
        NSDecimalRound(&rounded, &amount, 2, .plain)
        let total = "\(rounded)"
        _ = try call("POST", "/orders/\(raw.id)/refunds", body: [
            "amount": total,
            "reason": "Return \(refund.returnNumber): \(refund.reason) [voxbatch return \(refund.id)=\(refund.quantity)]",
            "api_refund": settings.refundPayment,
            "restock_items": refund.restock,
            "line_items": [["id": item.id, "quantity": refund.quantity, "refund_total": total]],
        ])
        var updated = order
        updated.refundIDs.insert(refund.id)
        if let i = updated.lines.firstIndex(where: { $0.sku == refund.sku }) { updated.lines[i].refunded += refund.quantity }
        orderCache[refund.orderNumber] = (updated, raw)
    }

    public func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws {
        guard (try order(number: orderNumber)) != nil, let raw = orderCache[orderNumber]?.raw else { return }
        let marker = "[voxbatch cancellation \(outcome.rawValue)]"
        let notes = try decode([WooNote].self, try call("GET", "/orders/\(raw.id)/notes"), "GET notes")
        guard !notes.contains(where: { $0.note.contains(marker) }) else { return }
        let text = outcome.note(detail: detail)
        _ = try call("POST", "/orders/\(raw.id)/notes", body: ["note": "\(text) \(marker)", "customer_note": false])
    }

    // MARK: - Check

    public func check(readyStatuses: [String]) throws -> StorefrontCheck {
        let orders = try call("GET", "/orders", query: [("status", readyStatuses.joined(separator: ",")), ("per_page", "10"),
                                                        ("page", "1"), ("orderby", "id"), ("order", "asc")])
        let found = try decode([WooOrder].self, orders, "GET /orders")
        let products = try call("GET", "/products", query: [("per_page", "10"), ("page", "1")])
        let catalogue = try decode([WooProduct].self, products, "GET /products")
        return StorefrontCheck(
            storefront: "woocommerce", location: HTTPClient.redacted(base), readyOrders: found.count,
            totalReadyOrders: Int(orders.headers["x-wp-total"] ?? ""), products: catalogue.count,
            totalProducts: Int(products.headers["x-wp-total"] ?? ""), exampleOrders: found.prefix(3).map(\.number),
            exampleSKUs: catalogue.compactMap(\.sku).filter { !$0.isEmpty }.prefix(3).map { $0 },
            notes: ["write permission is shown only by a write: the REST API key must be Read/Write "
                    + "(WooCommerce → Settings → Advanced → REST API)"])
    }

    // MARK: - Catalogue and stock

    /// SKU → product or variation, built from every product page (and each variable product's
    /// variations), once per run and again when an SKU is missing.
    private func catalogue(refresh: Bool = false) throws -> [String: WooProduct] {
        if let skuMap, !refresh { return skuMap }
        var map: [String: WooProduct] = [:]
        for product in try all(WooProduct.self, "/products") {
            if product.type == "variable" {
                for var variation in try all(WooProduct.self, "/products/\(product.id)/variations") {
                    variation.parentID = product.id
                    if variation.name == nil { variation.name = product.name }
                    if let sku = variation.sku, !sku.isEmpty { map[sku] = variation }
                }
            } else if let sku = product.sku, !sku.isEmpty {
                map[sku] = product
            }
        }
        skuMap = map
        return map
    }

    public func products() throws -> [Product] {
        try catalogue().values.sorted { ($0.sku ?? "") < ($1.sku ?? "") }.map { p in
            Product(sku: p.sku ?? "", barcode: p.global_unique_id ?? "", name: p.name ?? "",
                    attributes: (p.attributes ?? []).compactMap(\.option), weightGrams: p.weight ?? "",
                    price: p.regular_price ?? p.price ?? "")
        }
    }

    public func stockLevels() throws -> [String: Int] {
        try catalogue().compactMapValues { $0.manage_stock == true ? $0.stock_quantity : nil }
    }

    public func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String> {
        var map = try catalogue()
        if levels.contains(where: { map[$0.sku] == nil }) { map = try catalogue(refresh: true) }
        var unknown: Set<String> = []
        var byEndpoint: [String: [[String: Any]]] = [:]
        for level in levels {
            guard let product = map[level.sku] else {
                unknown.insert(level.sku)
                continue
            }
            guard product.manage_stock == true else {
                logger.notice("stock not managed in the shop for this SKU: left alone", metadata: ["sku": "\(level.sku)"])
                continue
            }
            let endpoint = product.parentID.map { "/products/\($0)/variations/batch" } ?? "/products/batch"
            byEndpoint[endpoint, default: []].append(["id": product.id, "stock_quantity": level.quantity])
            skuMap?[level.sku]?.stock_quantity = level.quantity
        }
        for (endpoint, updates) in byEndpoint.sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: updates.count, by: 100) {
                _ = try call("POST", endpoint, body: ["update": Array(updates[start..<min(updates.count, start + 100)])],
                             idempotent: true)  // absolute quantities: sending twice changes nothing
            }
        }
        return unknown
    }
}
