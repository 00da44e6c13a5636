import FileTransport
import Foundation
import Logging

/// A Centra store through its GraphQL Integration API (`<url>/graphql`, an Integration API token as a
/// bearer token).
///
/// In Centra the warehouse does not pick an order but a **shipment**: an order is split into one or more
/// shipments, and a shipment that is good to go is what a WMS fetches and, once packed, completes with its
/// tracking number. So here a voxbatch "order" is a Centra shipment, and its Peoplevox `SalesOrderNumber`
/// is the shipment's number (`39790-1`, `39790-2` for a split order): each shipment reaches the warehouse
/// once, under its own number, and none is lost because another of the same order was sent.
///
/// Every write looks before it writes: packages are recorded as `[voxbatch fulfilment …]` markers in the
/// shipment's `additionalMessage`, returns voxbatch creates carry `[voxbatch return …]` in their comment,
/// and a shipment or return already completed is not completed again — so a retry or a rerun after a
/// crash finds what it did and does nothing twice.
///
/// Packages that cover only part of a shipment (the warehouse split it): voxbatch **waits** — each package
/// is recorded on the shipment as it comes (`updateShipment`), and the shipment is completed, with the
/// number of packages and the last tracking number, when its last line has left. Centra completes a
/// shipment as a whole, so completing it on the first package would tell the customer that goods still on
/// the shelf have been sent.
public final class CentraStorefront: Storefront, ReturnsSource, RefundAuditing {
    /// The ready statuses Centra has (for shipments): good to go and not shipped; or also paid.
    public static let readyStatuses = ["good-to-go", "good-to-go-paid"]

    let connection: GraphQLConnection
    let settings: Configuration.Storefront
    let logger: Logger
    var location: String { connection.location }
    /// The job's clock (how far back cancelled orders are looked for is counted from it).
    public let clock: () -> Date
    /// How far back cancelled orders are looked for.
    public var cancelledLookbackDays = 30
    /// Shipments read in this run, by number.
    private var shipments: [String: CentraShipment] = [:]
    /// Identifier (SKU or EAN, per `sku_field`) → product size, once per run.
    private var catalogue: [String: (product: CentraProduct, variant: CentraProduct.Variant, size: CentraProduct.Size)]?

    /// Connects to the Centra store at `configuration.url` with the token it references.
    ///
    /// - Throws: ``StorefrontError`` when the token cannot be read.
    public init(configuration: Configuration.Storefront, retry: RetryPolicy = RetryPolicy(), http: HTTPClient? = nil,
                logger: Logger = Logger(label: "voxbatch.centra"), clock: @escaping () -> Date) throws {
        connection = try GraphQLConnection(
            storefront: "centra", configuration: configuration, tokenName: "Integration API token",
            credentialHint: " and that it has the Order, Shipment, Return, Product and Stock permissions", retry: retry,
            http: http, logger: logger, clock: clock)
        settings = configuration
        self.logger = logger
        self.clock = clock
    }

    // MARK: - GraphQL

    private func query(_ operation: GraphQLOperation) throws -> [String: Any] { try connection.query(operation) }

    @discardableResult
    private func mutate(_ operation: GraphQLOperation, payload: String) throws -> [String: Any] {
        try connection.mutate(operation, payload: payload)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ value: Any?, _ what: String) throws -> T {
        try connection.decode(type, value, what)
    }

    /// A `limit`/`page` list a page at a time, until a page comes back short.
    private func pages<T: Decodable>(_ type: T.Type, _ name: String, _ document: String, field: String,
                                     variables: [String: Any], pageSize: Int, _ body: ([T]) throws -> Void) throws {
        let limit = min(100, max(1, pageSize))
        var page = 1
        while true {
            var vars = variables
            vars["limit"] = limit
            vars["page"] = page
            let data = try query(GraphQLOperation(name, document, variables: vars))
            let items = try decode([T].self, data[field], "\(name) page \(page)")
            try body(items)
            if items.count < limit { return }
            page += 1
        }
    }

    // MARK: - Orders (shipments)

    private func shipmentFilter(_ statuses: [String]) -> [String: Any] {
        var filter: [String: Any] = ["isGoodToGo": true, "isShipped": false]
        if statuses.contains("good-to-go-paid") && !statuses.contains("good-to-go") { filter["isPaid"] = true }
        return filter
    }

    public func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws {
        let wantsReady = statuses.contains { Self.readyStatuses.contains($0) }
        let wantsCancelled = !Set(statuses).isDisjoint(with: settings.cancelledStatuses)
        if wantsReady {
            try pages(CentraShipment.self, "ReadyShipments", CentraDocuments.readyShipments, field: "shipments",
                      variables: ["where": shipmentFilter(statuses)], pageSize: pageSize) { page in
                try body(page.map(storefrontOrder))
            }
        }
        if wantsCancelled {
            // An order cancelled in Centra: what the warehouse may hold are its shipments' numbers; an
            // order cancelled before any shipment existed is listed under its own number.
            let since = clock().addingTimeInterval(-Double(cancelledLookbackDays) * 86_400)
            let filter: [String: Any] = ["status": ["CANCELLED"], "updatedAt": ["from": UTCTime.iso8601(since)]]
            try pages(CentraOrder.self, "Orders", CentraDocuments.orders, field: "orders", variables: ["where": filter],
                      pageSize: pageSize) { page in
                try body(page.flatMap { order -> [StorefrontOrder] in
                    let base = storefrontOrder(order)
                    guard let shipments = order.shipments, !shipments.isEmpty else { return [base] }
                    return shipments.map { shipment in
                        var o = base
                        o.id = String(shipment.id)
                        o.number = shipment.number
                        return o
                    }
                })
            }
        }
    }

    private func sku(_ size: CentraSizeRef?) -> String {
        (settings.skuField == "ean" ? size?.EAN : size?.SKU) ?? ""
    }

    private func storefrontOrder(_ shipment: CentraShipment) -> StorefrontOrder {
        let address = shipment.shippingAddress ?? shipment.order?.shippingAddress
        var fields = shipment.order?.fields ?? [:]
        if let order = shipment.order { fields["centra_order_number"] = String(order.number) }
        var order = StorefrontOrder(
            id: String(shipment.id), number: shipment.number, status: status(of: shipment),
            createdAt: shipment.createdAt ?? shipment.order?.createdAt ?? "",
            email: address?.email ?? shipment.order?.customer?.email ?? "",
            phone: address?.phoneNumber ?? address?.cellPhoneNumber ?? "", shipping: address?.address ?? Address(),
            service: shipment.order?.shippingMethod?.name ?? "", shippingCost: "",
            total: shipment.grandTotal?.value.map { String(format: "%.2f", $0) } ?? "", customerNote: "", fields: fields,
            lines: shipment.lines.map { line in
                StorefrontOrder.Line(sku: sku(line.productSize), quantity: line.quantity,
                                     price: line.unitPrice?.value.map { String(format: "%.2f", $0) } ?? "")
            })
        // What voxbatch already recorded: its package markers, and its or the customer's completed returns.
        for (id, sku, quantity) in StorefrontMarker.quantities(in: shipment.additionalMessage ?? "", kind: "fulfilment")
            where order.fulfilmentIDs.insert(id).inserted {
            if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].fulfilled += quantity }
        }
        if shipment.isShipped == true && order.fulfilmentIDs.isEmpty {
            // Completed in Centra by hand: every line has left.
            for i in order.lines.indices { order.lines[i].fulfilled = order.lines[i].quantity }
        }
        for ret in shipment.returns ?? [] where ret.isCompleted {
            let markers = StorefrontMarker.quantities(in: ret.comment ?? "", kind: "return")
            if !markers.isEmpty {
                for (id, sku, quantity) in markers where order.refundIDs.insert(id).inserted {
                    if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].refunded += quantity }
                }
            } else {
                for line in ret.lines ?? [] {
                    guard let shipped = shipment.lines.first(where: { $0.id == line.shipmentLine?.id }) else { continue }
                    let sku = sku(shipped.productSize)
                    order.refundIDs.insert("\(ret.id)/\(sku)")
                    if let i = order.lines.firstIndex(where: { $0.sku == sku }) { order.lines[i].refunded += line.quantity }
                }
            }
        }
        return order
    }

    private func storefrontOrder(_ order: CentraOrder) -> StorefrontOrder {
        let address = order.shippingAddress
        return StorefrontOrder(
            id: order.id ?? String(order.number), number: String(order.number),
            status: (order.status ?? "").lowercased() == "cancelled" ? "cancelled" : (order.status ?? "").lowercased(),
            createdAt: order.createdAt ?? "", email: address?.email ?? order.customer?.email ?? "",
            phone: address?.phoneNumber ?? "", shipping: address?.address ?? Address(),
            service: order.shippingMethod?.name ?? "", fields: order.fields,
            lines: (order.lines ?? []).map { StorefrontOrder.Line(sku: sku($0.productSize), quantity: $0.quantity) })
    }

    private func status(of shipment: CentraShipment) -> String {
        if let status = shipment.order?.status?.lowercased(), status == "cancelled" { return "cancelled" }
        if shipment.isShipped == true { return "completed" }
        if shipment.isGoodToGo == true { return "good-to-go" }
        return "pending"
    }

    /// A shipment by its number, read once per run (and again after voxbatch wrote to it).
    private func shipment(number: String) throws -> CentraShipment? {
        if let cached = shipments[number] { return cached }
        let data = try query(GraphQLOperation("ShipmentByNumber", CentraDocuments.shipmentByNumber,
                                              variables: ["number": number]))
        guard let found = try decode([CentraShipment].self, data["shipments"], "ShipmentByNumber")
            .first(where: { $0.number == number }) else { return nil }
        shipments[number] = found
        return found
    }

    public func order(number: String) throws -> StorefrontOrder? {
        if let shipment = try shipment(number: number) { return storefrontOrder(shipment) }
        // An order number (an order cancelled before it had a shipment).
        guard let n = Int(number) else { return nil }
        let data = try query(GraphQLOperation("Orders", CentraDocuments.orders,
                                              variables: ["where": ["number": n], "limit": 1, "page": 1]))
        return try decode([CentraOrder].self, data["orders"], "Orders").first(where: { $0.number == n }).map(storefrontOrder)
    }

    // MARK: - Despatches

    public func fulfil(_ fulfilment: Fulfilment) throws {
        guard let shipment = try shipment(number: fulfilment.orderNumber) else {
            throw StorefrontError(storefront: "centra", message: "no shipment \(fulfilment.orderNumber)", isTransient: false)
        }
        let order = storefrontOrder(shipment)
        let new = fulfilment.lines.filter { !order.fulfilmentIDs.contains(fulfilment.package + "/" + $0.sku) }
        guard !new.isEmpty else { return }  // already recorded: nothing twice
        if shipment.isShipped == true {
            logger.notice("shipment already completed in Centra: package not recorded",
                          metadata: ["shipment": "\(shipment.number)", "package": "\(fulfilment.package)"])
            return
        }
        var updated = order
        for line in new {
            updated.fulfilmentIDs.insert(fulfilment.package + "/" + line.sku)
            if let i = updated.lines.firstIndex(where: { $0.sku == line.sku }) { updated.lines[i].fulfilled += line.quantity }
        }
        let marker = "[voxbatch fulfilment " + new.map { "\(fulfilment.package)/\($0.sku)=\($0.quantity)" }
            .joined(separator: " ") + "]"
        let note = "Package \(fulfilment.package): " + new.map { "\($0.quantity) x \($0.sku)" }.joined(separator: ", ")
            + " with \(fulfilment.carrier)" + (fulfilment.trackingNumber.isEmpty ? "" : " \(fulfilment.trackingNumber)")
            + " \(marker)"
        let message = [shipment.additionalMessage ?? "", note].filter { !$0.isEmpty }.joined(separator: "\n")
        var written = shipment
        if updated.isFullyFulfilled {
            if shipment.isPaid != true && settings.captureOnDespatch {
                try mutate(GraphQLOperation("CaptureShipment", CentraDocuments.captureShipment, variables: ["id": shipment.id]),
                       payload: "captureShipment")
                written.isPaid = true
            }
            let packages = Set(updated.fulfilmentIDs.map { $0.split(separator: "/").first.map(String.init) ?? "" }).count
            var info: [String: Any] = ["carrier": fulfilment.carrier, "packagesNumber": packages]
            if !fulfilment.service.isEmpty { info["service"] = fulfilment.service }
            if !fulfilment.trackingNumber.isEmpty { info["trackingNumber"] = fulfilment.trackingNumber }
            var input: [String: Any] = ["sendEmail": settings.notifyCustomer, "additionalMessage": message, "shipmentInfo": info]
            if let shipped = PeoplevoxTemplates.iso8601(fulfilment.despatchDate) { input["shippedAt"] = shipped }
            try mutate(GraphQLOperation("CompleteShipment", CentraDocuments.completeShipment,
                                        variables: ["id": shipment.id, "input": input]), payload: "completeShipment")
            written.isShipped = true
        } else {
            try mutate(GraphQLOperation("UpdateShipment", CentraDocuments.updateShipment,
                                        variables: ["id": shipment.id, "input": ["additionalMessage": message]]),
                       payload: "updateShipment")
        }
        written.additionalMessage = message
        shipments[fulfilment.orderNumber] = written
    }

    // MARK: - Returns

    /// Completes the Centra return a warehouse return stands for — the customer's own return when the
    /// warehouse booked the parcel in under its number (the RMA voxbatch announced), else one voxbatch
    /// creates on the shipment for this line (`[voxbatch return RMA/SKU=N]` in its comment), with the stock
    /// going back to the warehouse only when the goods are restocked. Never twice: a completed return is
    /// left alone, and one created but not completed (a crash between the two) is completed.
    ///
    /// The Integration API has no refund mutation: the money goes back when Centra processes the completed
    /// return (its refund settings, or the Order API); voxbatch's part is to complete it, only once the
    /// warehouse reports a final state.
    public func refund(_ refund: Refund) throws {
        guard let shipment = try shipment(number: refund.orderNumber) else {
            throw StorefrontError(storefront: "centra", message: "no shipment \(refund.orderNumber)", isTransient: false)
        }
        let returns = shipment.returns ?? []
        if let id = Int(refund.returnNumber), let own = returns.first(where: { $0.id == id }) {
            guard !own.isCompleted else { return }
            try complete(returnID: own.id, shipment: shipment)
            return
        }
        if let created = returns.first(where: {
            StorefrontMarker.all(in: $0.comment ?? "", kind: "return").contains { $0.hasPrefix(refund.id + "=") }
        }) {
            if !created.isCompleted { try complete(returnID: created.id, shipment: shipment) }
            return
        }
        guard let line = shipment.lines.first(where: { sku($0.productSize) == refund.sku }) else {
            throw StorefrontError(storefront: "centra", message: "shipment \(refund.orderNumber) has no line \(refund.sku)",
                                  isTransient: false)
        }
        let policy: [String: Any] = refund.restock ? ["releaseItemsBackToWarehouse": true] : ["removeItemsFromStock": true]
        let comment = "Return \(refund.returnNumber) reported by the warehouse: \(refund.reason) "
            + "[voxbatch return \(refund.id)=\(refund.quantity)]"
        let created = try mutate(GraphQLOperation("CreateReturn", CentraDocuments.createReturn, variables: ["input": [
            "shipment": ["id": shipment.id],
            "lines": [["shipmentLine": ["id": line.id], "quantity": refund.quantity]],
            "returnStockActionPolicy": policy,
            "comment": comment,
        ]]), payload: "createReturn")
        guard let id = (created["return"] as? [String: Any])?["id"] as? Int else {
            throw StorefrontError(storefront: "centra", message: "CreateReturn: the answer has no return id", isTransient: false)
        }
        var written = shipment
        written.returns = returns + [CentraReturn(id: id, status: "IN_PROGRESS", comment: comment, lines: nil)]
        shipments[refund.orderNumber] = written
        try complete(returnID: id, shipment: written)
    }

    private func complete(returnID: Int, shipment: CentraShipment) throws {
        try mutate(GraphQLOperation("CompleteReturn", CentraDocuments.completeReturn,
                                    variables: ["id": returnID, "input": ["sendEmail": settings.notifyCustomer]]),
                   payload: "completeReturn")
        var written = shipment
        written.returns = (shipment.returns ?? []).map { ret in
            var r = ret
            if r.id == returnID { r.status = "COMPLETED" }
            return r
        }
        shipments[shipment.number] = written
    }

    public func announcedReturns(pageSize: Int, _ body: ([AnnouncedReturn]) throws -> Void) throws {
        try pages(CentraReturn.self, "AnnouncedReturns", CentraDocuments.announcedReturns, field: "returns",
                  variables: ["where": ["status": ["IN_PROGRESS"]]], pageSize: pageSize) { page in
            try body(page.compactMap { ret -> AnnouncedReturn? in
                // Returns voxbatch created from the warehouse's own reports are not announcements.
                guard StorefrontMarker.all(in: ret.comment ?? "", kind: "return").isEmpty,
                      let shipmentNumber = ret.shipment?.number else { return nil }
                return AnnouncedReturn(
                    returnNumber: String(ret.id), orderNumber: shipmentNumber, createdAt: ret.createdAt ?? "",
                    reason: ret.comment ?? "",
                    lines: (ret.lines ?? []).map { AnnouncedReturn.Line(sku: sku($0.shipmentLine?.productSize), quantity: $0.quantity) })
            })
        }
    }

    /// Orders changed since `since` that Centra refunded more often than their shipments have returns
    /// (failed refund attempts are not counted). The orders are named by their shipments' numbers, the
    /// ones the warehouse knows, or the order number when none was sent.
    public func refundsWithoutReturn(since: Date) throws -> [DisconnectedRefund] {
        var found: [DisconnectedRefund] = []
        let filter: [String: Any] = ["updatedAt": ["from": UTCTime.iso8601(since)]]
        try pages(CentraRefundedOrder.self, "RefundedOrders", CentraDocuments.refundedOrders, field: "orders",
                  variables: ["where": filter], pageSize: 100) { page in
            for order in page {
                let refunds = (order.paymentHistory ?? []).filter {
                    $0.entryType?.uppercased() == "REFUND" && !["FAILED", "ERROR"].contains($0.status?.uppercased() ?? "")
                }
                let returns = (order.shipments ?? []).reduce(0) { $0 + ($1.returns?.count ?? 0) }
                guard refunds.count > returns, let last = refunds.last else { continue }
                let numbers = (order.shipments ?? []).map(\.number)
                found.append(DisconnectedRefund(
                    orderNumber: numbers.isEmpty ? String(order.number) : numbers.joined(separator: ", "),
                    refundedAt: last.createdAt ?? "", amount: last.value?.value.map { String(format: "%.2f", $0) } ?? "",
                    refunds: refunds.count, returns: returns))
            }
        }
        return found
    }

    // MARK: - Cancellations

    /// Recorded on each shipment of the cancelled order the warehouse knows (a marker in its
    /// `additionalMessage`); an order cancelled before it had a shipment never reached the warehouse, and
    /// its cancelled status in Centra already says all there is.
    public func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws {
        guard let shipment = try shipment(number: orderNumber) else {
            logger.info("cancelled before any shipment: nothing to record in Centra", metadata: ["order": "\(orderNumber)"])
            return
        }
        let marker = "[voxbatch cancellation \(outcome.rawValue)]"
        guard !(shipment.additionalMessage ?? "").contains(marker) else { return }
        let text = outcome.note(detail: detail)
        let message = [shipment.additionalMessage ?? "", "\(text) \(marker)"].filter { !$0.isEmpty }.joined(separator: "\n")
        try mutate(GraphQLOperation("UpdateShipment", CentraDocuments.updateShipment,
                                    variables: ["id": shipment.id, "input": ["additionalMessage": message]]),
                   payload: "updateShipment")
        var written = shipment
        written.additionalMessage = message
        shipments[orderNumber] = written
    }

    // MARK: - Catalogue and stock

    private func sizes(refresh: Bool = false) throws
        -> [String: (product: CentraProduct, variant: CentraProduct.Variant, size: CentraProduct.Size)]
    {
        if let catalogue, !refresh { return catalogue }
        var map: [String: (product: CentraProduct, variant: CentraProduct.Variant, size: CentraProduct.Size)] = [:]
        try pages(CentraProduct.self, "Products", CentraDocuments.products, field: "products", variables: [:],
                  pageSize: 100) { page in
            for product in page {
                for variant in product.variants ?? [] {
                    for size in variant.productSizes ?? [] {
                        let key = settings.skuField == "ean" ? size.EAN : size.SKU
                        if let key, !key.isEmpty { map[key] = (product, variant, size) }
                    }
                }
            }
        }
        catalogue = map
        return map
    }

    public func products() throws -> [Product] {
        try sizes().sorted { $0.key < $1.key }.map { key, entry in
            Product(sku: key, barcode: entry.size.EAN ?? "",
                    name: [entry.product.name, entry.variant.name].compactMap { $0 }.filter { !$0.isEmpty }
                        .joined(separator: " "),
                    attributes: [entry.variant.name, entry.size.size?.name].compactMap { $0 }.filter { !$0.isEmpty })
        }
    }

    public func stockLevels() throws -> [String: Int] {
        let warehouse = settings.stockWarehouse ?? ""
        return try sizes().compactMapValues { entry in
            guard let stock = entry.size.stock?.first(where: { $0.warehouse?.name == warehouse }) else { return nil }
            return settings.stockQuantityType == "FREE_TO_ALLOCATE" ? stock.freeToAllocateQuantity : stock.physicalQuantity
        }
    }

    public func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String> {
        guard let warehouse = settings.stockWarehouse else {
            throw StorefrontError(storefront: "centra", message: "stock_warehouse is not set", isTransient: false)
        }
        var map = try sizes()
        if levels.contains(where: { map[$0.sku] == nil }) { map = try sizes(refresh: true) }
        var unknown: Set<String> = []
        var updates: [[String: Any]] = []
        for level in levels {
            guard let entry = map[level.sku] else {
                unknown.insert(level.sku)
                continue
            }
            updates.append(["productSize": ["id": entry.size.id], "quantity": max(0, level.quantity)])
        }
        for start in stride(from: 0, to: updates.count, by: 100) {
            // Absolute quantities: a rerun sets the same values again, and nothing is counted twice.
            try mutate(GraphQLOperation("SetStock", CentraDocuments.setStock, variables: ["input": [
                "warehouse": ["name": warehouse],
                "description": "Stock from the warehouse (voxbatch)",
                "productSizes": Array(updates[start..<min(updates.count, start + 100)]),
                "stockQuantityType": settings.stockQuantityType,
            ]]), payload: "setStock")
        }
        return unknown
    }

    // MARK: - Check

    public func check(readyStatuses: [String]) throws -> StorefrontCheck {
        let found = try query(GraphQLOperation("CheckShipments", CentraDocuments.checkShipments,
                                               variables: ["where": shipmentFilter(readyStatuses)]))
        let shipments = (found["shipments"] as? [[String: Any]]) ?? []
        let catalogue = try query(GraphQLOperation("CheckProducts", CentraDocuments.checkProducts))
        let products = (catalogue["products"] as? [[String: Any]]) ?? []
        let sizes = products.flatMap { ($0["variants"] as? [[String: Any]] ?? []).flatMap { $0["productSizes"] as? [[String: Any]] ?? [] } }
        let field = settings.skuField == "ean" ? "EAN" : "SKU"
        return StorefrontCheck(
            storefront: "centra", location: location, readyOrders: shipments.count,
            totalReadyOrders: (found["counters"] as? [String: Any])?["shipments"] as? Int,
            products: sizes.count, totalProducts: (catalogue["counters"] as? [String: Any])?["products"] as? Int,
            exampleOrders: shipments.prefix(3).compactMap { $0["number"] as? String },
            exampleSKUs: sizes.compactMap { $0[field] as? String }.filter { !$0.isEmpty }.prefix(3).map { $0 },
            notes: ["ready orders are Centra shipments that are good to go and not shipped; their numbers are the "
                    + "sales order numbers the warehouse sees",
                    "write permission is shown only by a write: the token needs Shipment:write, Return:write and "
                    + "StockChange:write besides the read permissions"])
    }
}
