import CSVKit
import FileTransport
import Foundation
import Logging

/// A seller on a Marketplacer marketplace, through the GraphQL **Seller API** (`<url>/graphql`, the
/// seller's API key as a bearer token). The legacy REST API is not used.
///
/// The seller's part of a customer order is an **invoice**: here a voxbatch order is an invoice, its
/// Peoplevox `SalesOrderNumber` the invoice's `legacyId` (the number the seller portal shows), its lines
/// the invoice's line items. An invoice is ready for the warehouse when it carries every status flag in
/// `ready_statuses` (default `PAID`) and none of `SENT`, `CANCELLED`, `REFUNDED` — so orders the
/// marketplace has not approved never congest the warehouse.
///
/// A variant is one item code by `sku_field`: its `sku`, its `barcode`, or an external id
/// (`external_id:KEY`); `mappings.skus` then renames where needed. A line whose variant has no value
/// for the rule is sent as no SKU (`missing-sku`, for ops), never guessed.
///
/// Every write looks first: a package is one `shipmentCreate` carrying `[voxbatch fulfilment …]` in its
/// note, for the shipped line items and quantities only; a return is a refund request carrying
/// `[voxbatch return …]` in its notes, marked returned (`refundRequestReturn`) only when the warehouse
/// reports a final state; cancellation outcomes are invoice annotations.
public final class MarketplacerStorefront: Storefront {
    let connection: GraphQLConnection
    let settings: Configuration.Storefront
    let logger: Logger
    var location: String { connection.location }
    public let clock: () -> Date
    /// How far back cancelled invoices are looked for.
    public var cancelledLookbackDays = 30
    /// Flags that take an invoice out of the warehouse's hands.
    static let closedFlags: Set<String> = ["SENT", "CANCELLED", "REFUNDED"]
    private var invoices: [String: MarketplacerInvoice] = [:]
    private var catalogue: [String: MarketplacerVariant]?
    private var carriers: [String: String]?

    public init(configuration: Configuration.Storefront, retry: RetryPolicy = RetryPolicy(), http: HTTPClient? = nil,
                logger: Logger = Logger(label: "voxbatch.marketplacer"), clock: @escaping () -> Date) throws {
        connection = try GraphQLConnection(
            storefront: "marketplacer", configuration: configuration, tokenName: "Seller API key",
            credentialHint: " (seller portal → API & Integrations) and that it has not expired", retry: retry, http: http,
            logger: logger, clock: clock)
        settings = configuration
        self.logger = logger
        self.clock = clock
    }

    // MARK: - GraphQL

    private var graphql: GraphQLClient { connection.client }

    private func api<T>(_ what: String, _ body: () throws -> T) throws -> T { try connection.api(what, body) }

    @discardableResult
    private func mutate(_ operation: GraphQLOperation, payload: String) throws -> [String: Any] {
        try connection.mutate(operation, payload: payload)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ value: Any?, _ what: String) throws -> T {
        try connection.decode(type, value, what)
    }

    // MARK: - Orders (invoices)

    private func isReady(_ invoice: MarketplacerInvoice, _ statuses: [String]) -> Bool {
        let flags = invoice.flags
        return statuses.allSatisfy { flags.contains($0.uppercased()) } && flags.isDisjoint(with: Self.closedFlags)
    }

    public func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws {
        let cancelled = Set(statuses.map { $0.uppercased() }) == Set(settings.cancelledStatuses.map { $0.uppercased() })
        var filters: [String: Any] = [:]
        if cancelled {
            let since = clock().addingTimeInterval(-Double(cancelledLookbackDays) * 86_400)
            filters["updatedSince"] = UTCTime.iso8601(since)
        } else {
            filters["notDispatched"] = true
        }
        let operation = GraphQLOperation("Invoices", MarketplacerDocuments.invoices, variables: ["filters": filters])
        try api("Invoices") {
            try graphql.pages(operation, connection: ["invoices"], pageSize: min(100, max(1, pageSize))) { nodes in
                let page = try decode([MarketplacerInvoice].self, nodes, "Invoices")
                let wanted = page.filter { invoice in
                    cancelled ? invoice.flags.contains("CANCELLED") : isReady(invoice, statuses)
                }
                try body(wanted.map(storefrontOrder))
            }
        }
    }

    /// The value of the identifier rule (`sku_field`) on a variant.
    func identifier(_ variant: MarketplacerVariant?) -> String {
        guard let variant else { return "" }
        let rule = settings.skuField
        if rule == "barcode" { return variant.barcode ?? "" }
        if rule.hasPrefix("external_id:") {
            let key = String(rule.dropFirst("external_id:".count))
            return variant.externalIds?.first { $0.key == key }?.value ?? ""
        }
        return variant.sku ?? ""
    }

    static func amount(_ formatted: String?) -> String {
        guard let formatted else { return "" }
        let digits = formatted.filter { $0.isNumber || $0 == "." }
        return Double(digits).map { String(format: "%.2f", $0) } ?? ""
    }

    private func storefrontOrder(_ invoice: MarketplacerInvoice) -> StorefrontOrder {
        let a = invoice.shippingAddress
        let name = [a?.firstName ?? invoice.buyerFirstName, a?.surname ?? invoice.buyerSurname].compactMap { $0 }
            .filter { !$0.isEmpty }.joined(separator: " ")
        let flags = invoice.flags
        let status = flags.contains("CANCELLED") ? "cancelled" : flags.contains("SENT") ? "completed"
            : flags.contains("PAID") ? "PAID" : (invoice.statusFlags?.first ?? "")
        var order = StorefrontOrder(
            id: invoice.id, number: String(invoice.legacyId), status: status,
            createdAt: invoice.paidAt ?? invoice.createdAt ?? "", email: invoice.buyerEmailAddress ?? "",
            phone: a?.phone ?? invoice.buyerPhone ?? "",
            shipping: Address(name: name, company: a?.companyName ?? "", line1: a?.address ?? "", city: a?.city ?? "",
                              region: a?.state?.short ?? "", postcode: a?.postcode ?? "", country: a?.country?.code ?? ""),
            service: invoice.shippingOptionName ?? "", shippingCost: Self.amount(invoice.postageFormatted),
            total: Self.amount(invoice.totalFormatted), customerNote: invoice.buyerMessageToSeller ?? "",
            fields: invoice.fields,
            lines: invoice.lineItems.map {
                StorefrontOrder.Line(sku: identifier($0.variant), quantity: $0.quantity, price: Self.amount($0.unitPriceFormatted))
            })
        for shipment in invoice.shipments ?? [] {
            for (id, sku, quantity) in StorefrontMarker.quantities(in: shipment.note ?? "", kind: "fulfilment")
                where order.fulfilmentIDs.insert(id).inserted {
                if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].fulfilled += quantity }
            }
        }
        for request in invoice.refundRequests ?? [] where Self.isReturned(request) {
            for (id, sku, quantity) in StorefrontMarker.quantities(in: request.text, kind: "return")
                where order.refundIDs.insert(id).inserted {
                if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].refunded += quantity }
            }
        }
        return order
    }

    /// A refund request past `AWAITING`: the goods are back (returned, refunded, or further on).
    static func isReturned(_ request: MarketplacerInvoice.RefundRequest) -> Bool {
        !["AWAITING", "DECLINED", "REJECTED"].contains(request.status?.uppercased() ?? "")
    }

    private func invoice(number: String) throws -> MarketplacerInvoice? {
        if let cached = invoices[number] { return cached }
        guard let legacyId = Int(number) else { return nil }
        let data = try api("InvoiceByNumber") {
            try graphql.query(GraphQLOperation("InvoiceByNumber", MarketplacerDocuments.invoiceByNumber,
                                               variables: ["legacyId": legacyId]))
        }
        let nodes = (data["invoices"] as? [String: Any])?["nodes"]
        guard let found = try decode([MarketplacerInvoice].self, nodes, "InvoiceByNumber").first(where: { $0.legacyId == legacyId })
        else { return nil }
        invoices[number] = found
        return found
    }

    public func order(number: String) throws -> StorefrontOrder? {
        try invoice(number: number).map(storefrontOrder)
    }

    // MARK: - Despatches

    /// The marketplace's carrier id for a carrier name (after `mappings.carriers`), case-insensitively.
    private func carrierID(_ name: String) throws -> String? {
        if carriers == nil {
            let data = try api("PostageCarriers") {
                try graphql.query(GraphQLOperation("PostageCarriers", MarketplacerDocuments.postageCarriers))
            }
            var map: [String: String] = [:]
            for carrier in data["postageCarriers"] as? [[String: Any]] ?? [] {
                if let id = carrier["id"] as? String, let name = carrier["name"] as? String { map[name.lowercased()] = id }
            }
            carriers = map
        }
        return carriers?[name.lowercased()]
    }

    public func fulfil(_ fulfilment: Fulfilment) throws {
        guard let invoice = try invoice(number: fulfilment.orderNumber) else {
            throw StorefrontError(storefront: "marketplacer", message: "no invoice \(fulfilment.orderNumber)", isTransient: false)
        }
        let order = storefrontOrder(invoice)
        let new = fulfilment.lines.filter { !order.fulfilmentIDs.contains(fulfilment.package + "/" + $0.sku) }
        guard !new.isEmpty else { return }  // already recorded: nothing twice
        guard let carrier = try carrierID(fulfilment.carrier) else {
            throw StorefrontError(storefront: "marketplacer",
                                  message: "carrier \"\(fulfilment.carrier)\" is not one of the marketplace's postage carriers; "
                                    + "map the warehouse's carrier to one in mappings.carriers", isTransient: false,
                                  refusesRecord: true)
        }
        var items: [[String: Any]] = []
        for line in new {
            guard let item = invoice.lineItems.first(where: { identifier($0.variant) == line.sku }) else {
                throw StorefrontError(storefront: "marketplacer", message: "invoice \(fulfilment.orderNumber) has no line item "
                                        + "for \(line.sku)", isTransient: false, refusesRecord: true)
            }
            items.append(["lineItemId": item.id, "quantity": line.quantity])
        }
        let marker = "[voxbatch fulfilment " + new.map { "\(fulfilment.package)/\($0.sku)=\($0.quantity)" }
            .joined(separator: " ") + "]"
        var input: [String: Any] = [
            "invoiceId": invoice.id, "postageCarrierId": carrier, "trackingNumber": fulfilment.trackingNumber,
            "shippedItems": items,
            "note": "Package \(fulfilment.package)" + (fulfilment.service.isEmpty ? "" : " (\(fulfilment.service))") + " \(marker)",
        ]
        if let date = PeoplevoxTemplates.iso8601(fulfilment.despatchDate) { input["dispatchedAt"] = date }
        let created = try mutate(GraphQLOperation("ShipmentCreate", MarketplacerDocuments.shipmentCreate,
                                                  variables: ["input": input]), payload: "shipmentCreate")
        var written = invoice
        written.shipments = (invoice.shipments ?? []) + [MarketplacerInvoice.Shipment(
            id: (created["shipment"] as? [String: Any])?["id"] as? String ?? "", note: input["note"] as? String,
            trackingNumber: fulfilment.trackingNumber, shippedItems: nil)]
        invoices[fulfilment.orderNumber] = written
    }

    // MARK: - Returns

    /// The warehouse's return line in a final state becomes a refund request marked returned — the
    /// customer's own (`AWAITING`, for that line item) when there is one, else one voxbatch raises — with
    /// `[voxbatch return RMA/SKU=N]` in its notes. A request voxbatch raised but did not mark returned (a
    /// crash between the two) is marked returned; one already returned is left alone. The marketplace's
    /// refund settings then pay the customer.
    public func refund(_ refund: Refund) throws {
        guard let invoice = try invoice(number: refund.orderNumber) else {
            throw StorefrontError(storefront: "marketplacer", message: "no invoice \(refund.orderNumber)", isTransient: false)
        }
        let requests = invoice.refundRequests ?? []
        let marker = "[voxbatch return \(refund.id)=\(refund.quantity)]"
        let note = "Return \(refund.returnNumber) reported by the warehouse: \(refund.reason); goods back in stock: "
            + (refund.restock ? "yes" : "no") + " \(marker)"
        if let mine = requests.first(where: {
            StorefrontMarker.all(in: $0.text, kind: "return").contains { $0.hasPrefix(refund.id + "=") }
        }) {
            if !Self.isReturned(mine) { try markReturned(mine.id, note: nil, invoice: invoice) }
            return
        }
        guard let item = invoice.lineItems.first(where: { identifier($0.variant) == refund.sku }) else {
            throw StorefrontError(storefront: "marketplacer", message: "invoice \(refund.orderNumber) has no line item for "
                                    + "\(refund.sku)", isTransient: false, refusesRecord: true)
        }
        if let customers = requests.first(where: { request in
            !Self.isReturned(request) && StorefrontMarker.all(in: request.text, kind: "return").isEmpty
                && (request.lineItems ?? []).contains { $0.lineItem?.id == item.id && $0.quantity == refund.quantity }
        }) {
            try markReturned(customers.id, note: note, invoice: invoice)
            return
        }
        let created = try mutate(GraphQLOperation("RefundRequestCreate", MarketplacerDocuments.refundRequestCreate, variables: [
            "input": [
                "invoiceId": invoice.id,
                "lineItems": [["lineItemId": item.id, "quantity": refund.quantity, "reason": refund.reason]],
                "notes": [["note": note]],
            ] as [String: Any],
        ]), payload: "refundRequestCreate")
        guard let id = (created["refundRequest"] as? [String: Any])?["id"] as? String else {
            throw StorefrontError(storefront: "marketplacer", message: "RefundRequestCreate: the answer has no refund request id",
                                  isTransient: false)
        }
        var written = invoice
        written.refundRequests = requests + [MarketplacerInvoice.RefundRequest(
            id: id, status: "AWAITING", notes: [.init(note: note)], lineItems: nil)]
        invoices[refund.orderNumber] = written
        try markReturned(id, note: nil, invoice: written)
    }

    private func markReturned(_ id: String, note: String?, invoice: MarketplacerInvoice) throws {
        var input: [String: Any] = ["refundRequestId": id]
        if let note { input["notes"] = [["note": note]] }
        try mutate(GraphQLOperation("RefundRequestReturn", MarketplacerDocuments.refundRequestReturn,
                                    variables: ["input": input]), payload: "refundRequestReturn")
        var written = invoice
        written.refundRequests = (invoice.refundRequests ?? []).map { request in
            var r = request
            if r.id == id {
                r.status = "RETURNED"
                if let note { r.notes = (r.notes ?? []) + [.init(note: note)] }
            }
            return r
        }
        invoices[String(invoice.legacyId)] = written
    }

    // MARK: - Cancellations

    public func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws {
        guard let invoice = try invoice(number: orderNumber) else { return }
        let marker = "[voxbatch cancellation \(outcome.rawValue)]"
        guard !(invoice.annotations ?? []).contains(where: { ($0.message ?? "").contains(marker) }) else { return }
        let text = outcome.note(detail: detail)
        try mutate(GraphQLOperation("InvoiceAnnotationCreate", MarketplacerDocuments.invoiceAnnotationCreate,
                                    variables: ["input": ["invoiceId": invoice.id, "message": "\(text) \(marker)"]]),
                   payload: "invoiceAnnotationCreate")
        var written = invoice
        written.annotations = (invoice.annotations ?? []) + [.init(id: nil, message: "\(text) \(marker)")]
        invoices[orderNumber] = written
    }

    // MARK: - Catalogue and inventory

    private func variants(refresh: Bool = false) throws -> [String: MarketplacerVariant] {
        if let catalogue, !refresh { return catalogue }
        var map: [String: MarketplacerVariant] = [:]
        var titles: [String: String] = [:]
        try api("Adverts") {
            try graphql.pages(GraphQLOperation("Adverts", MarketplacerDocuments.adverts), connection: ["adverts"],
                              pageSize: 100) { nodes in
                for advert in try decode([MarketplacerAdvert].self, nodes, "Adverts") {
                    for variant in advert.variants?.nodes ?? [] {
                        let key = identifier(variant)
                        if !key.isEmpty {
                            map[key] = variant
                            titles[key] = advert.title
                        }
                    }
                }
            }
        }
        catalogue = map
        advertTitles = titles
        return map
    }

    private var advertTitles: [String: String] = [:]

    public func products() throws -> [Product] {
        try variants().sorted { $0.key < $1.key }.map { key, variant in
            Product(sku: key, barcode: variant.barcode ?? "",
                    name: [advertTitles[key], variant.label].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " "),
                    attributes: [variant.label].compactMap { $0 })
        }
    }

    public func stockLevels() throws -> [String: Int] {
        try variants().compactMapValues(\.countOnHand)
    }

    /// Sets `countOnHand` of each variant the rule finds (one `variantUpdate` each; a variant already at
    /// the level is not written); the identifiers no variant of the seller has are returned.
    public func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String> {
        var map = try variants()
        if levels.contains(where: { map[$0.sku] == nil }) { map = try variants(refresh: true) }
        var unknown: Set<String> = []
        for level in levels {
            guard let variant = map[level.sku] else {
                unknown.insert(level.sku)
                continue
            }
            let quantity = max(0, level.quantity)
            if variant.countOnHand == quantity { continue }
            try mutate(GraphQLOperation("VariantUpdate", MarketplacerDocuments.variantUpdate, variables: [
                "input": ["variantId": variant.id, "attributes": ["countOnHand": quantity]] as [String: Any],
            ]), payload: "variantUpdate")
            catalogue?[level.sku]?.countOnHand = quantity
        }
        return unknown
    }

    // MARK: - Check

    public func check(readyStatuses: [String]) throws -> StorefrontCheck {
        let found = try api("Invoices") {
            try graphql.query(GraphQLOperation("Invoices", MarketplacerDocuments.invoices,
                                               variables: ["first": 10, "after": NSNull(), "filters": ["notDispatched": true]]))
        }
        let connection = found["invoices"] as? [String: Any]
        let page = try decode([MarketplacerInvoice].self, connection?["nodes"], "Invoices").filter { isReady($0, readyStatuses) }
        let adverts = try api("Adverts") {
            try graphql.query(GraphQLOperation("Adverts", MarketplacerDocuments.adverts, variables: ["first": 10, "after": NSNull()]))
        }
        let advertConnection = adverts["adverts"] as? [String: Any]
        let variants = try decode([MarketplacerAdvert].self, advertConnection?["nodes"], "Adverts")
            .flatMap { $0.variants?.nodes ?? [] }
        return StorefrontCheck(
            storefront: "marketplacer", location: location, readyOrders: page.count,
            totalReadyOrders: nil, products: variants.count, totalProducts: advertConnection?["totalCount"] as? Int,
            exampleOrders: page.prefix(3).map { String($0.legacyId) },
            exampleSKUs: variants.map(identifier).filter { !$0.isEmpty }.prefix(3).map { $0 },
            notes: ["ready orders are invoices not yet dispatched that carry " + readyStatuses.joined(separator: ", ")
                    + " (and none of SENT, CANCELLED, REFUNDED); the marketplace's count of undispatched invoices was "
                    + "\((connection?["totalCount"] as? Int).map(String.init) ?? "not given")",
                    "write permission is shown only by a write: the Seller API key must allow shipments, refund requests "
                    + "and variant updates"])
    }
}
