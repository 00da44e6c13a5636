import FileTransport
import Foundation
import Logging

/// A SCAYLE shop through its **Admin API** (REST, JSON; the access token in `X-Access-Token`), for one
/// shop country (`shop_key`, `country_code`).
///
/// A voxbatch order is a SCAYLE order, its Peoplevox `SalesOrderNumber` the order id. SCAYLE order items
/// are units, so a sales-order line is the open items of one variant (`referenceKey` as the SKU); items
/// already cancelled are not sent.
///
/// Order updates are sent the way SCAYLE asks: one create-shipment per Peoplevox **package**, carrying
/// the tracking number as `shipmentKey` and, per item, a `returnKey` voxbatch can find again
/// (`PACKAGE/ITEM-ID`) — which also makes the shipment idempotent, since a rerun sees the order's items
/// already carrying that package's keys. A return is a create-return by those return keys, its
/// `referenceKey` the warehouse's return line (`RETURN/SKU`), so it is never sent twice. Lines the
/// warehouse cannot fulfil are a create-cancellation, so the customer is refunded for what never ships.
/// Stock goes to `POST /variants/key=REF/stocks` for the 3PL's warehouse with the warehouse's **snapshot
/// time** as `changedAt`: SCAYLE releases reservations only for younger stock, and ignores an older one.
public final class ScayleStorefront: Storefront, LineCancelling {
    let base: String
    let token: String
    let http: HTTPClient
    let settings: Configuration.Storefront
    let logger: Logger
    public let clock: () -> Date
    public var cancelledLookbackDays = 30
    private var orders: [String: ScayleOrder] = [:]
    private var catalogue: [String: ScayleProduct.Variant]?

    public init(configuration: Configuration.Storefront, retry: RetryPolicy = RetryPolicy(), http: HTTPClient? = nil,
                logger: Logger = Logger(label: "voxbatch.scayle"), clock: @escaping () -> Date) throws {
        guard let url = configuration.url, let source = configuration.token else {
            throw StorefrontError(storefront: "scayle", message: "url and token_env/token_file are required", isTransient: false)
        }
        do {
            token = try source.read()
        } catch {
            throw StorefrontError(storefront: "scayle", message: "cannot read the Admin API token: \(error)", isTransient: false)
        }
        base = url.hasSuffix("/") ? String(url.dropLast()) : url
        var httpSettings = HTTPSettings()
        httpSettings.timeout = configuration.timeout
        httpSettings.requestsPerSecond = configuration.requestsPerSecond
        httpSettings.retry = retry
        self.http = http ?? HTTPClient(settings: httpSettings, logger: logger, clock: clock)
        settings = configuration
        self.logger = logger
        self.clock = clock
    }

    var shopKey: String { settings.shopKey ?? "" }
    var countryCode: String { settings.countryCode ?? "" }

    // MARK: - HTTP

    /// - Parameter idempotent: safe to send again after a failure in transit (absolute stock, custom data).
    private func call(_ method: String, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil,
                      idempotent: Bool = false) throws -> HTTPResponse {
        var rest = RESTConnection(storefront: "scayle", base: base, http: http, refusedCredentials: { what, status, detail in
            "\(what): the Admin API refused the token (HTTP \(status)" + (detail.map { ": \($0)" } ?? "")
                + "); check the token in \(self.settings.token.map(String.init(describing:)) ?? "token_env/token_file")"
        })
        rest.headers["X-Access-Token"] = token
        rest.refusalCodes = [400, 422]
        rest.detail = { (try? JSONDecoder().decode(ScayleErrors.self, from: $0))?.text }
        return try rest.call(method, path, query: query, body: body, idempotent: idempotent)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, _ what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw StorefrontError(storefront: "scayle", message: "\(what): the answer is not the JSON SCAYLE sends (\(error))",
                                  isTransient: false)
        }
    }

    /// A collection a page at a time, following `cursor.next`.
    private func pages<T: Decodable>(_ type: T.Type, _ path: String, query: [(String, String)], perPage: Int,
                                     _ body: ([T]) throws -> Void) throws {
        var cursor: String?
        var seen: Set<String> = []
        while true {
            let response = try call("GET", path, query: query + [("perPage", String(min(100, max(1, perPage))))]
                                        + (cursor.map { [("cursor", $0)] } ?? []))
            let page = try decode(ScaylePage<T>.self, response, "GET \(path)")
            try body(page.entities)
            guard let next = page.cursor?.next, !page.entities.isEmpty else { return }
            guard seen.insert(next).inserted else {
                throw StorefrontError(storefront: "scayle", message: "GET \(path): the same cursor twice; the pages would never end",
                                      isTransient: false)
            }
            cursor = next
        }
    }

    // MARK: - Orders

    public func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws {
        var query = [("filters[status]", statuses.joined(separator: ",")), ("filters[shopKey]", shopKey),
                     ("filters[countryCode]", countryCode)]
        if Set(statuses) == Set(settings.cancelledStatuses) {
            let since = clock().addingTimeInterval(-Double(cancelledLookbackDays) * 86_400)
            query.append(("filters[updatedAt][gte]", UTCTime.iso8601(since)))
        }
        try pages(ScayleOrder.self, "/orders", query: query, perPage: pageSize) { page in
            try body(page.map(storefrontOrder))
        }
    }

    private func storefrontOrder(_ scayle: ScayleOrder) -> StorefrontOrder {
        let a = scayle.address?.shipping
        let cents = { (value: Int?) in value.map { String(format: "%.2f", Double($0) / 100) } ?? "" }
        var fields = scayle.customData ?? [:]
        fields["referenceKey"] = scayle.referenceKey
        fields["publicKey"] = scayle.publicKey
        fields["currency"] = scayle.currencyCode
        // Lines: the order's items by variant, in the order they first appear; cancelled items are not lines.
        var lines: [StorefrontOrder.Line] = []
        for item in scayle.items where item.status != "cancelled" {
            let sku = item.variant?.referenceKey ?? ""
            if let i = lines.firstIndex(where: { $0.sku == sku }) {
                lines[i].quantity += 1
            } else {
                lines.append(StorefrontOrder.Line(sku: sku, quantity: 1, price: cents(item.price?.withTax)))
            }
        }
        let status = scayle.items.allSatisfy { $0.status != "open" } && !scayle.items.isEmpty
            && scayle.items.contains { $0.status == "delivered" || $0.status == "returned" } ? "completed" : scayle.status
        var order = StorefrontOrder(
            id: String(scayle.id), number: String(scayle.id), status: status, createdAt: scayle.createdAt ?? "",
            email: scayle.customer?.email ?? "", phone: a?.phone ?? scayle.customer?.phone ?? "",
            shipping: Address(name: [a?.firstName, a?.lastName].compactMap { $0 }.joined(separator: " "),
                              company: a?.companyName ?? "",
                              line1: Self.streetLine(a),
                              line2: a?.additional ?? "", city: a?.city ?? "", postcode: a?.zipCode ?? "",
                              country: a?.countryCode ?? ""),
            service: scayle.shipping?.shippingMethod ?? scayle.shipping?.carrierKey ?? "",
            shippingCost: cents(scayle.shipping?.deliveryCosts), total: cents(scayle.cost?.withTax), fields: fields, lines: lines)
        order.currency = scayle.currencyCode ?? ""
        for item in scayle.items {
            guard let key = item.returnKey, let package = Self.package(ofReturnKey: key) else { continue }
            let sku = item.variant?.referenceKey ?? ""
            order.fulfilmentIDs.insert(package + "/" + sku)
            if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].fulfilled += 1 }
        }
        for ret in scayle.returns ?? [] {
            guard let id = ret.referenceKey, order.refundIDs.insert(id).inserted else { continue }
            let sku = id.split(separator: "/").last.map(String.init) ?? ""
            if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].refunded += ret.items?.count ?? 0 }
        }
        return order
    }

    /// Countries that write the house number before the street (`14 Mill Lane`); elsewhere after it
    /// (`Torstraße 12`), as SCAYLE keeps them apart.
    static let numberFirst: Set<String> = ["GB", "IE", "US", "CA", "AU", "NZ", "FR"]

    static func streetLine(_ a: ScayleOrder.Address?) -> String {
        let parts = [a?.street, a?.houseNumber].compactMap { $0 }.filter { !$0.isEmpty }
        return (numberFirst.contains(a?.countryCode ?? "") ? parts.reversed() : parts).joined(separator: " ")
    }

    /// voxbatch's return keys are `PACKAGE/ITEM-ID`.
    static func package(ofReturnKey key: String) -> String? {
        guard let slash = key.lastIndex(of: "/"), Int(key[key.index(after: slash)...]) != nil else { return nil }
        return String(key[..<slash])
    }

    private func scayleOrder(number: String) throws -> ScayleOrder? {
        if let cached = orders[number] { return cached }
        guard let id = Int(number) else { return nil }
        let found: ScayleOrder
        do {
            found = try decode(ScayleOrder.self, try call("GET", "/orders/\(id)", query: [("shopKey", shopKey),
                                                                                           ("countryCode", countryCode)]),
                               "GET /orders/\(id)")
        } catch let error as StorefrontError where error.message.contains("HTTP 404") {
            return nil
        }
        orders[number] = found
        return found
    }

    public func order(number: String) throws -> StorefrontOrder? {
        try scayleOrder(number: number).map(storefrontOrder)
    }

    private func forget(_ number: String) { orders[number] = nil }

    // MARK: - Despatches

    public func fulfil(_ fulfilment: Fulfilment) throws {
        guard let scayle = try scayleOrder(number: fulfilment.orderNumber) else {
            throw StorefrontError(storefront: "scayle", message: "no order \(fulfilment.orderNumber)", isTransient: false)
        }
        let order = storefrontOrder(scayle)
        let new = fulfilment.lines.filter { !order.fulfilmentIDs.contains(fulfilment.package + "/" + $0.sku) }
        guard !new.isEmpty else { return }  // the package's items already carry its return keys
        var items: [[String: Any]] = []
        for line in new {
            let open = scayle.items.filter { $0.status == "open" && $0.variant?.referenceKey == line.sku && $0.returnKey == nil }
            guard open.count >= line.quantity else {
                throw StorefrontError(storefront: "scayle", message: "order \(fulfilment.orderNumber) has \(open.count) open "
                                        + "item(s) of \(line.sku), the package ships \(line.quantity)", isTransient: false,
                                      refusesRecord: true)
            }
            items += open.prefix(line.quantity).map { ["orderItemId": $0.id, "returnKey": "\(fulfilment.package)/\($0.id)"] }
        }
        var body: [String: Any] = [
            "shopKey": shopKey, "countryCode": countryCode, "orderId": scayle.id, "carrier": fulfilment.carrier,
            "shipmentKey": fulfilment.trackingNumber.isEmpty ? fulfilment.package : fulfilment.trackingNumber, "items": items,
        ]
        if let date = PeoplevoxTemplates.iso8601(fulfilment.despatchDate) {
            body["deliveryDate"] = date.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")
        }
        _ = try call("POST", "/shipments", body: body)
        forget(fulfilment.orderNumber)
    }

    // MARK: - Returns and cancellations

    /// A create-return for the returned units, found by the return keys their shipment set, with the
    /// warehouse's return line as its `referenceKey`.
    public func refund(_ refund: Refund) throws {
        guard let scayle = try scayleOrder(number: refund.orderNumber) else {
            throw StorefrontError(storefront: "scayle", message: "no order \(refund.orderNumber)", isTransient: false)
        }
        if (scayle.returns ?? []).contains(where: { $0.referenceKey == refund.id }) { return }
        // Shipped units of the SKU, by the return key their shipment set (or, shipped outside voxbatch, their
        // order item id, which SCAYLE accepts as the return key).
        let shipped = scayle.items.filter { $0.status == "delivered" && $0.variant?.referenceKey == refund.sku }
        guard shipped.count >= refund.quantity else {
            throw StorefrontError(storefront: "scayle", message: "order \(refund.orderNumber) has \(shipped.count) shipped, "
                                    + "not yet returned item(s) of \(refund.sku); the return has \(refund.quantity)",
                                  isTransient: false, refusesRecord: true)
        }
        _ = try call("POST", "/returns", body: [
            "shopKey": shopKey, "countryCode": countryCode, "orderId": scayle.id, "referenceKey": refund.id,
            "items": shipped.prefix(refund.quantity).map { ["returnKey": $0.returnKey ?? String($0.id)] },
            "customData": ["restock": refund.restock, "reason": refund.reason] as [String: Any],
        ])
        forget(refund.orderNumber)
    }

    /// Units the warehouse cannot fulfil: a create-cancellation for that many open items of each SKU.
    public func cancelLines(orderNumber: String, lines: [(sku: String, quantity: Int)]) throws {
        guard let scayle = try scayleOrder(number: orderNumber) else {
            throw StorefrontError(storefront: "scayle", message: "no order \(orderNumber)", isTransient: false)
        }
        var items: [[String: Any]] = []
        for line in lines {
            let open = scayle.items.filter { $0.status == "open" && $0.variant?.referenceKey == line.sku && $0.returnKey == nil }
            items += open.prefix(line.quantity).map { ["orderItemId": $0.id] }
        }
        guard !items.isEmpty else { return }  // cancelled already (or shipped after all)
        _ = try call("POST", "/cancellations", body: ["shopKey": shopKey, "countryCode": countryCode, "orderId": scayle.id,
                                                      "items": items])
        forget(orderNumber)
    }

    public func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws {
        guard let scayle = try scayleOrder(number: orderNumber) else { return }
        guard scayle.customData?["voxbatchCancellation"] != outcome.rawValue else { return }
        var data = scayle.customData ?? [:]
        data["voxbatchCancellation"] = outcome.rawValue
        data["voxbatchCancellationNote"] = outcome.note(detail: detail)
        _ = try call("PUT", "/orders/\(scayle.id)/custom-data", body: data, idempotent: true)
        forget(orderNumber)
    }

    // MARK: - Catalogue and stock

    private func variants(refresh: Bool = false) throws -> [String: ScayleProduct.Variant] {
        if let catalogue, !refresh { return catalogue }
        var map: [String: ScayleProduct.Variant] = [:]
        try pages(ScayleProduct.self, "/products", query: [("with", "variants.stocks")], perPage: 100) { page in
            for product in page {
                for variant in product.variants ?? [] { if let key = variant.referenceKey, !key.isEmpty { map[key] = variant } }
            }
        }
        catalogue = map
        return map
    }

    public func products() throws -> [Product] {
        try variants().sorted { $0.key < $1.key }.map { Product(sku: $0.key, barcode: $0.value.ean ?? "", name: $0.key) }
    }

    public func stockLevels() throws -> [String: Int] {
        let warehouse = settings.stockWarehouse ?? ""
        return try variants().compactMapValues { $0.stocks?.first { $0.warehouseReferenceKey == warehouse }?.quantity }
    }

    public func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String> {
        try setStock(levels, snapshotAt: levels.map { _ in clock() })
    }

    public func setStock(_ levels: [(sku: String, quantity: Int)], snapshotAt: [Date]) throws -> Set<String> {
        guard let warehouse = settings.stockWarehouse else {
            throw StorefrontError(storefront: "scayle", message: "stock_warehouse (the warehouse reference key) is not set",
                                  isTransient: false)
        }
        var map = try variants()
        if levels.contains(where: { map[$0.sku] == nil }) { map = try variants(refresh: true) }
        var unknown: Set<String> = []
        for (i, level) in levels.enumerated() {
            guard map[level.sku] != nil else {
                unknown.insert(level.sku)
                continue
            }
            let key = level.sku.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? level.sku
            // Absolute and stamped with the snapshot's time: sending it again, or late, changes nothing.
            _ = try call("POST", "/variants/key=\(key)/stocks", body: [
                "quantity": max(0, level.quantity), "warehouseReferenceKey": warehouse,
                "changedAt": UTCTime.iso8601(i < snapshotAt.count ? snapshotAt[i] : clock()), "sellableWithoutStock": false,
            ], idempotent: true)
        }
        return unknown
    }

    // MARK: - Check

    public func check(readyStatuses: [String]) throws -> StorefrontCheck {
        let orders = try decode(ScaylePage<ScayleOrder>.self, try call("GET", "/orders", query: [
            ("filters[status]", readyStatuses.joined(separator: ",")), ("filters[shopKey]", shopKey),
            ("filters[countryCode]", countryCode), ("perPage", "10"),
        ]), "GET /orders")
        let products = try decode(ScaylePage<ScayleProduct>.self, try call("GET", "/products", query: [
            ("with", "variants"), ("perPage", "10"),
        ]), "GET /products")
        let variants = products.entities.flatMap { $0.variants ?? [] }
        return StorefrontCheck(
            storefront: "scayle", location: HTTPClient.redacted(base), readyOrders: orders.entities.count, totalReadyOrders: nil,
            products: variants.count, totalProducts: nil, exampleOrders: orders.entities.prefix(3).map { String($0.id) },
            exampleSKUs: variants.compactMap(\.referenceKey).prefix(3).map { $0 },
            notes: ["shop \(shopKey), country \(countryCode); write permission is shown only by a write: the token needs "
                    + "the order, shipment, cancellation, return and stock scopes"])
    }
}
