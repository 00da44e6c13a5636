import CSVKit
import Foundation

/// export-orders: storefront orders ready for fulfilment become Peoplevox sales orders.
///
/// Never an order twice: the ledger key is the storefront's order id, so a storefront that returns the
/// same order again, or a rerun, creates no second sales order. Before anything is sent, each order is
/// checked the way the warehouse would: every SKU known to the warehouse, a complete delivery address
/// with a postcode valid for the country, positive quantities. An order that fails goes to the
/// exception queue with the exact reason and is tried again on the next run; the others are sent.
public struct ExportOrdersFlow: OutboundFlow {
    public static let flowName = "sales-orders"
    public let name = ExportOrdersFlow.flowName
    public let template: CSVTemplate
    public let fileNamePattern: String
    public let problemKinds = ["unknown-sku", "missing-sku", "invalid-address", "invalid-quantity"]
    public let recordsOrderEvents = true
    public let jobName: String
    let storefront: any Storefront
    let manifest: Manifest
    let configuration: Configuration

    /// - Parameter jobName: The job it runs as (export-orders; export-transfers for the inventory master's).
    public init(configuration: Configuration, storefront: any Storefront, manifest: Manifest,
                jobName: JobName = .exportOrders) {
        self.jobName = jobName.rawValue
        self.configuration = configuration
        self.storefront = storefront
        self.manifest = manifest
        template = configuration.template("sales_orders")!.0
        fileNamePattern = configuration.files.salesOrders
    }

    /// Ready orders are read this many at a time.
    public var pageSize = 1000

    public func collect() throws -> [OutboundRecord] { try allPages() }

    /// A file goes out while the next page is read: sending one touches only the manifest and the transport.
    public var sendsWhileCollecting: Bool { true }

    /// Ready orders, a page at a time: the pipeline sends each page before the next is read, so a run
    /// holds one page of orders (and the file being filled), however many are ready.
    public func collect(pages body: ([OutboundRecord]) throws -> Void) throws {
        // Item codes found known on an earlier page (they stay known): a run looks each code up once at most,
        // and holds no more codes than its orders name.
        var knownCodes: Set<String> = []
        let layout = SalesOrder.Layout(template)  // bound once for the run
        try storefront.orders(statuses: configuration.storefront.readyStatuses, pageSize: pageSize) { orders in
            // Cancelled before they were sent: withheld for good, even if the shop shows them as ready again.
            let withheld = Set(try manifest.applied(flow: ExportCancellationsFlow.flowName, keys: orders.map(\.id)).keys)
            // Each order's sales order (by the order's place in the page), and the page's item codes not known yet.
            // Nothing here copies an order or a sales order whole (each copy retains and releases some 30 strings):
            // orders are read in place, sales orders kept in a box their record's two renderings share.
            var salesOrders: [(order: Int, sales: SalesOrderRendering)] = []
            salesOrders.reserveCapacity(orders.count)
            var codes: [String] = []
            orders.withUnsafeBufferPointer { orders in
                for i in orders.indices {
                    guard withheld.isEmpty || !withheld.contains(orders[i].id) else { continue }
                    let rendering = SalesOrderRendering(salesOrder(for: orders[i]), layout)
                    for line in rendering.salesOrder.lines where !knownCodes.contains(line.itemCode) { codes.append(line.itemCode) }
                    salesOrders.append((i, rendering))
                }
            }
            // The page's item codes the warehouse knows, looked up for this page (never the whole catalogue).
            knownCodes.formUnion(try manifest.itemCodesTheWarehouseKnows(among: codes))
            var records: [OutboundRecord] = []
            records.reserveCapacity(salesOrders.count)
            orders.withUnsafeBufferPointer { orders in
                for (i, rendering) in salesOrders {
                    var record = OutboundRecord(
                        key: orders[i].id, reference: orders[i].number, rows: { rendering.rows() },
                        packedRows: { rendering.packedRows() },
                        problem: preflight(orders[i], lines: rendering.salesOrder.lines, shipping: rendering.salesOrder.shipping,
                                           warehouseItems: knownCodes))
                    record.finance = Self.finance(orders[i], kind: "sent", reference: "")
                    records.append(record)
                }
            }
            salesOrders = []
            try body(records)
        }
    }

    /// A sales order and the layout it is rendered in, shared by its record's two renderings (each closure held its
    /// own copy of both).
    final class SalesOrderRendering: Sendable {
        let salesOrder: SalesOrder
        let layout: SalesOrder.Layout
        init(_ salesOrder: SalesOrder, _ layout: SalesOrder.Layout) {
            self.salesOrder = salesOrder
            self.layout = layout
        }
        func rows() -> [[String]] { salesOrder.rows(in: layout) }
        func packedRows() -> PackedRows { salesOrder.packedRows(in: layout) }
    }

    /// Finance lines for `order`'s lines (or `lines` of it), at the prices the storefront charged.
    static func finance(_ order: StorefrontOrder, kind: String, reference: String,
                        lines: [(sku: String, quantity: Int)]? = nil) -> [FinanceLine] {
        let wanted = lines ?? order.lines.map { ($0.sku, $0.quantity) }
        let currency = order.currency.isEmpty ? (order.fields["currency"] ?? "") : order.currency
        return wanted.map { line in
            FinanceLine(orderNumber: order.number, kind: kind, reference: reference, sku: line.sku, quantity: line.quantity,
                        unitCents: FinanceLine.cents(order.lines.first { $0.sku == line.sku }?.price ?? "") ?? 0,
                        currency: currency)
        }
    }

    /// The Peoplevox sales order for a storefront order: SKUs mapped, operational fields carried.
    func salesOrder(for order: StorefrontOrder) -> SalesOrder {
        let skus = configuration.mappings.skus
        var so = SalesOrder(
            number: order.number, customer: order.shipping.name, email: order.email, contactName: order.shipping.name,
            shipping: order.shipping, createdDate: Self.peoplevoxDate(order.createdAt), serviceType: order.service,
            channelName: configuration.client,
            lines: order.lines.map { SalesOrder.Line(itemCode: skus[$0.sku] ?? $0.sku, quantity: $0.quantity,
                                                    salePrice: $0.price) })
        so.shipping.country = PostcodeRules.countryCode(order.shipping.country)
        so.customer = order.shipping.company.isEmpty ? order.shipping.name : order.shipping.company
        so.shippingCost = order.shippingCost
        so.totalSale = order.total
        var fields = order.fields
        if !order.customerNote.isEmpty { fields["customer_note"] = order.customerNote }
        for (column, field) in configuration.mappings.extraColumns {
            if let value = fields[field], !value.isEmpty { so.extraColumns[column] = value }
        }
        if !configuration.mappings.orderFields.isEmpty {
            let all = order.allFields
            for (column, field) in configuration.mappings.orderFields.sorted(by: { $0.key < $1.key }) {
                if let value = all[field], !value.isEmpty {
                    so.set(column: column, to: column == "ShippingAddressCountry" ? PostcodeRules.countryCode(value) : value)
                }
            }
        }
        return so
    }

    /// The warehouse's own checks on an order and its sales order's `lines` and `shipping` address, made before sending
    /// so a bad order is caught with a reason.
    func preflight(_ order: StorefrontOrder, lines: [SalesOrder.Line], shipping: Address,
                   warehouseItems: Set<String>) -> OutboundProblem? {
        if order.lines.isEmpty {
            return OutboundProblem(kind: "invalid-quantity", message: "order \(order.number) has no lines",
                                   owner: .customerService)
        }
        if let line = order.lines.first(where: { $0.sku.isEmpty }) {
            return OutboundProblem(kind: "missing-sku", message: "order \(order.number) was not sent: a line (quantity "
                                   + "\(line.quantity)) has no SKU in the shop; give the product an SKU", owner: .merchandising)
        }
        let unknown = lines.map(\.itemCode).filter { !warehouseItems.contains($0) }
        if !unknown.isEmpty {
            let list = unknown.map { "\"\($0)\"" }.joined(separator: ", ")
            return OutboundProblem(kind: "unknown-sku", message: "order \(order.number) was not sent: SKU \(list) "
                                   + "is not in the warehouse's item list (send it with export-items, or fix the SKU "
                                   + "mapping), then the order goes out on the next run", owner: .merchandising)
        }
        if let bad = lines.first(where: { $0.quantity <= 0 }) {
            return OutboundProblem(kind: "invalid-quantity", message: "order \(order.number) was not sent: quantity "
                                   + "\(bad.quantity) for SKU \(bad.itemCode) is not positive", owner: .customerService)
        }
        if !configuration.mappings.requiredFields.isEmpty {
            let all = order.allFields
            let absent = configuration.mappings.requiredFields.filter { (all[$0] ?? "").trimmingCharacters(in: .whitespaces).isEmpty }
            if !absent.isEmpty {
                let described = absent.map { field -> String in
                    let columns = configuration.mappings.orderFields.filter { $0.value == field }.keys.sorted()
                        + configuration.mappings.extraColumns.filter { $0.value == field }.keys.sorted()
                    return "\"\(field)\"" + (columns.isEmpty ? "" : " (for " + columns.joined(separator: ", ") + ")")
                }
                return OutboundProblem(kind: "missing-field", message: "order \(order.number) was not sent: it has no "
                                       + described.joined(separator: ", ") + ", which the mappings require; fill it in the "
                                       + "shop, and the order goes out on the next run", owner: .customerService)
            }
        }
        var missing: [String] = []
        let address = shipping
        if address.name.isEmpty { missing.append("name") }
        if address.line1.isEmpty { missing.append("address line 1") }
        if address.city.isEmpty { missing.append("town/city") }
        if address.postcode.isEmpty { missing.append("postcode") }
        if address.country.count != 2 || !address.country.allSatisfy(\.isLetter) {
            missing.append(address.country.isEmpty ? "country" : "a country code (got \"\(order.shipping.country)\")")
        }
        if !missing.isEmpty {
            return OutboundProblem(kind: "invalid-address", message: "order \(order.number) was not sent: the delivery "
                                   + "address has no " + missing.joined(separator: ", "), owner: .customerService)
        }
        var postcode = address.postcode
        let valid = postcode.withUTF8 { PostcodeRules.isValid($0, country: address.country) }
        if valid == false {
            return OutboundProblem(kind: "invalid-address", message: "order \(order.number) was not sent: postcode "
                                   + "\"\(address.postcode)\" is not a valid \(address.country) postcode",
                                   owner: .customerService)
        }
        return nil
    }

    /// An ISO 8601 timestamp as Peoplevox writes dates (`dd/MM/yyyy HH:mm`); other text is kept.
    static func peoplevoxDate(_ iso: String) -> String {
        var text = iso
        let ascii = text.withUTF8 { b -> String? in
            guard b.count >= 16, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return iso }
            guard b.prefix(16).allSatisfy({ $0 < 0x80 }) else { return nil }
            // yyyy-MM-ddTHH:mm → dd/MM/yyyy HH:mm, byte by byte.
            return String(unsafeUninitializedCapacity: 16) { out in
                out[0] = b[8]; out[1] = b[9]; out[2] = UInt8(ascii: "/")
                out[3] = b[5]; out[4] = b[6]; out[5] = UInt8(ascii: "/")
                out[6] = b[0]; out[7] = b[1]; out[8] = b[2]; out[9] = b[3]; out[10] = UInt8(ascii: " ")
                for i in 11..<16 { out[i] = b[i] }
                return 16
            }
        }
        if let ascii { return ascii }
        // Other text in the first 16 bytes: cut by characters, as ever (when there are 16 of them).
        guard iso.count >= 16 else { return iso }
        func part(_ from: Int, _ to: Int) -> Substring {
            iso[iso.index(iso.startIndex, offsetBy: from)..<iso.index(iso.startIndex, offsetBy: to)]
        }
        return "\(part(8, 10))/\(part(5, 7))/\(part(0, 4)) \(part(11, 16))"
    }
}
