import CSVKit
import Foundation

/// An order as the storefront has it.
public struct StorefrontOrder: Sendable, Hashable {
    /// The storefront's own id (the export ledger's key).
    public var id: String
    /// The number customers and the warehouse see (Peoplevox's SalesOrderNumber).
    public var number: String
    public var status: String
    /// ISO 8601.
    public var createdAt: String
    public var email: String
    public var phone: String
    public var shipping: Address
    /// The shipping service or priority chosen at checkout.
    public var service: String
    public var shippingCost: String
    public var total: String
    public var customerNote: String
    /// Any other field the shop exports (gift_message, delivery_instructions...), for `mappings.extra_columns`.
    public var fields: [String: String]
    public var lines: [Line]
    /// Ids of the fulfilment lines already recorded (`PACKAGE/SKU`).
    public var fulfilmentIDs: Set<String> = []
    /// Ids of the refund lines already recorded (`RETURN/SKU`).
    public var refundIDs: Set<String> = []
    /// ISO 4217, when the storefront says (finance reports by currency).
    public var currency = ""

    /// One order line, with what has been despatched and refunded so far.
    public struct Line: Sendable, Hashable {
        public var sku: String
        public var quantity: Int
        public var price: String
        public var fulfilled = 0
        public var refunded = 0

        public init(sku: String, quantity: Int, price: String = "") {
            self.sku = sku
            self.quantity = quantity
            self.price = price
        }
    }

    public init(id: String, number: String, status: String, createdAt: String, email: String, phone: String = "",
                shipping: Address, service: String = "", shippingCost: String = "", total: String = "",
                customerNote: String = "", fields: [String: String] = [:], lines: [Line]) {
        self.id = id
        self.number = number
        self.status = status
        self.createdAt = createdAt
        self.email = email
        self.phone = phone
        self.shipping = shipping
        self.service = service
        self.shippingCost = shippingCost
        self.total = total
        self.customerNote = customerNote
        self.fields = fields
        self.lines = lines
    }

    /// Every field of the order by name, for `mappings.order_fields`/`required_fields`: the storefront's
    /// own `fields` (custom attributes, and whatever else its connector exposes), and the common ones
    /// (`number`, `email`, `phone`, `service`, `customer_note`, `total`, `shipping_cost`, `created_at`,
    /// `shipping.name`, `shipping.company`, `shipping.line1`, `shipping.line2`, `shipping.city`,
    /// `shipping.region`, `shipping.postcode`, `shipping.country`). The storefront's own win.
    public var allFields: [String: String] {
        var all: [String: String] = [
            "number": number, "email": email, "phone": phone, "service": service, "customer_note": customerNote,
            "total": total, "shipping_cost": shippingCost, "created_at": createdAt, "shipping.name": shipping.name,
            "shipping.company": shipping.company, "shipping.line1": shipping.line1, "shipping.line2": shipping.line2,
            "shipping.city": shipping.city, "shipping.region": shipping.region, "shipping.postcode": shipping.postcode,
            "shipping.country": shipping.country,
        ]
        all.merge(fields) { _, own in own }
        return all
    }

    /// Whether every line has been despatched in full.
    public var isFullyFulfilled: Bool { lines.allSatisfy { $0.fulfilled >= $0.quantity } }
}

/// A product (one SKU) of the storefront's catalogue.
public struct Product: Sendable, Hashable {
    public var sku: String
    public var barcode: String
    public var name: String
    /// Variant attributes (size, colour...).
    public var attributes: [String]
    public var weightGrams: String
    public var price: String

    public init(sku: String, barcode: String, name: String, attributes: [String] = [], weightGrams: String = "",
                price: String = "") {
        self.sku = sku
        self.barcode = barcode
        self.name = name
        self.attributes = attributes
        self.weightGrams = weightGrams
        self.price = price
    }
}

/// One package of an order leaving the warehouse.
public struct Fulfilment: Sendable, Hashable {
    public var orderNumber: String
    /// The warehouse's despatch number.
    public var package: String
    /// In the storefront's own carrier names.
    public var carrier: String
    public var service: String
    public var trackingNumber: String
    public var despatchDate: String
    public var lines: [(sku: String, quantity: Int)]
    /// Whether, with this package, every line of the order has been despatched.
    public var completesOrder: Bool

    public init(orderNumber: String, package: String, carrier: String, service: String, trackingNumber: String,
                despatchDate: String, lines: [(sku: String, quantity: Int)], completesOrder: Bool) {
        self.orderNumber = orderNumber
        self.package = package
        self.carrier = carrier
        self.service = service
        self.trackingNumber = trackingNumber
        self.despatchDate = despatchDate
        self.lines = lines
        self.completesOrder = completesOrder
    }

    public static func == (a: Fulfilment, b: Fulfilment) -> Bool {
        a.orderNumber == b.orderNumber && a.package == b.package && a.carrier == b.carrier && a.service == b.service
            && a.trackingNumber == b.trackingNumber && a.despatchDate == b.despatchDate
            && a.lines.map(\.sku) == b.lines.map(\.sku) && a.lines.map(\.quantity) == b.lines.map(\.quantity)
            && a.completesOrder == b.completesOrder
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(orderNumber)
        hasher.combine(package)
    }
}

/// A refund (or credit) for returned goods.
public struct Refund: Sendable, Hashable {
    public var orderNumber: String
    public var returnNumber: String
    public var sku: String
    public var quantity: Int
    /// Whether the goods go back into sellable stock.
    public var restock: Bool
    public var reason: String

    public init(orderNumber: String, returnNumber: String, sku: String, quantity: Int, restock: Bool, reason: String) {
        self.orderNumber = orderNumber
        self.returnNumber = returnNumber
        self.sku = sku
        self.quantity = quantity
        self.restock = restock
        self.reason = reason
    }

    /// The refund line's id in the storefront: return number + SKU.
    public var id: String { returnNumber + "/" + sku }
}

/// A return the customer (or customer service) announced in the shop — an RMA — before the goods reach the
/// warehouse.
public struct AnnouncedReturn: Sendable, Hashable {
    /// The shop's return number: the key the warehouse books the parcel in against.
    public var returnNumber: String
    public var orderNumber: String
    /// ISO 8601.
    public var createdAt: String
    public var reason: String
    public var lines: [Line]

    public struct Line: Sendable, Hashable {
        public var sku: String
        public var quantity: Int

        public init(sku: String, quantity: Int) {
            self.sku = sku
            self.quantity = quantity
        }
    }

    public init(returnNumber: String, orderNumber: String, createdAt: String, reason: String, lines: [Line]) {
        self.returnNumber = returnNumber
        self.orderNumber = orderNumber
        self.createdAt = createdAt
        self.reason = reason
        self.lines = lines
    }
}

/// A storefront where returns start (an RMA created in the shop): export-returns announces them to the
/// warehouse. Storefronts where a return only exists once the warehouse reports it (WooCommerce) do not
/// adopt it, and export-returns has nothing to do for them.
public protocol ReturnsSource: AnyObject {
    /// Returns announced and still open, a page at a time.
    func announcedReturns(pageSize: Int, _ body: ([AnnouncedReturn]) throws -> Void) throws
}

/// Money given back in the storefront by hand, apart from any return (the seed's "disconnected
/// returns"): reconcile raises it for customer service, since the warehouse will never report goods for
/// it and stock and finance disagree until someone looks.
public struct DisconnectedRefund: Sendable, Hashable, Codable {
    public var orderNumber: String
    /// ISO 8601.
    public var refundedAt: String
    public var amount: String
    /// How many refunds the order has, and how many returns.
    public var refunds: Int
    public var returns: Int

    public init(orderNumber: String, refundedAt: String, amount: String, refunds: Int, returns: Int) {
        self.orderNumber = orderNumber
        self.refundedAt = refundedAt
        self.amount = amount
        self.refunds = refunds
        self.returns = returns
    }
}

/// A storefront where a refund can be made by hand without a return (Centra): reconcile asks it for the
/// orders refunded more often than returned.
public protocol RefundAuditing: AnyObject {
    /// Orders changed since `since` with more refunds than returns.
    func refundsWithoutReturn(since: Date) throws -> [DisconnectedRefund]
}

/// A storefront that can be told that some units of an order will never ship (the warehouse cannot
/// fulfil them), so the customer is refunded for them (SCAYLE's create-cancellation).
public protocol LineCancelling: AnyObject {
    /// Cancels `quantity` not yet shipped units of each SKU; units already cancelled are not cancelled again.
    func cancelLines(orderNumber: String, lines: [(sku: String, quantity: Int)]) throws
}

/// What happened to a cancelled order on the warehouse side, told back to the storefront.
public enum CancellationOutcome: String, Sendable, Hashable, Codable {
    /// Never sent to the warehouse: simply not sent.
    case withheld
    /// Sent; a cancellation request went to the warehouse before picking.
    case requested
    /// Already in picking or later: a person must stop it.
    case tooLate = "too-late"

    /// What a person reading the order in the storefront is told, with the warehouse's `detail`.
    public func note(detail: String) -> String {
        switch self {
        case .withheld: "Cancelled before it was sent to the warehouse: not sent."
        case .requested: "Cancellation requested from the warehouse (\(detail))."
        case .tooLate: "Too late to cancel in the warehouse (\(detail)): it must be stopped by hand."
        }
    }
}

/// A shop voxbatch exchanges with: where orders come from and where despatches, stock, refunds and
/// cancellations go.
///
/// Every write must be idempotent (set absolute values; look before creating, by the ids given), so a
/// retry or a rerun after a crash never duplicates a fulfilment or a refund.
public protocol Storefront: AnyObject {
    /// Orders whose status is one of `statuses`, a page at a time, in the storefront's order: `body` gets
    /// each page, and the next one is read only after it returns. A caller that keeps nothing holds one
    /// page, however many orders there are (``orders(statuses:)`` collects them all, for small sets).
    func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws
    /// One order by its number, with what has been fulfilled and refunded.
    func order(number: String) throws -> StorefrontOrder?
    /// Runs `body` with the order numbered `number` to look at, and returns what it returns (`nil`: there is no
    /// such order). A storefront that holds its orders lends one where it is kept; by default it is
    /// ``order(number:)``'s. `body` must not call the storefront.
    func withOrder<R>(number: String, _ body: (StorefrontOrder) throws -> R) throws -> R?
    /// The catalogue.
    func products() throws -> [Product]
    /// The same, `pageSize` at a time: a storefront that can read its catalogue in pages (the plain-file one)
    /// never holds it whole. The default reads ``products()`` and hands it on in pages.
    func products(pageSize: Int, _ body: ([Product]) throws -> Void) throws
    /// Records a package; lines whose `PACKAGE/SKU` the order already has are not added again.
    func fulfil(_ fulfilment: Fulfilment) throws
    /// Sets availability for each SKU (absolute values); returns the SKUs the storefront does not know.
    func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String>
    /// The same, with the time of the warehouse's snapshot each level comes from, for storefronts that
    /// order stock updates by it (SCAYLE takes a level into account against reservations only when its
    /// time is younger than theirs). The default ignores the time.
    func setStock(_ levels: [(sku: String, quantity: Int)], snapshotAt: [Date]) throws -> Set<String>
    /// The availability the storefront shows now, by SKU.
    func stockLevels() throws -> [String: Int]
    /// Records a refund; one whose id the order already has is not added again.
    func refund(_ refund: Refund) throws
    /// Tells the storefront what became of a cancelled order.
    func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws
    /// A stock import is about to apply levels: a storefront that must first read something whole (the
    /// plain-file storefront's catalogue) may start now, in the background. The default does nothing.
    func prepareStockUpdates()
    /// Whether ``setStock(_:)`` would rather be told first which SKUs a file will ask about
    /// (``expectStockUpdates(for:)``): the plain-file storefront with a catalogue too large to hold, which then
    /// compares the file's SKUs with it a partition at a time. The default is `false`.
    var wantsStockSKUsFirst: Bool { get }
    /// Until the next call, every SKU ``setStock(_:)`` is asked about is among `skus` (its ``KeyHash``es); `nil`
    /// ends that (any SKU may be asked again). The default does nothing.
    func expectStockUpdates(for skus: KeyPartitions?) throws
    /// A despatch import is about to look orders up by number: a storefront that must first read every order (the
    /// plain-file storefront, into its order store) may start now, in the background. The default does nothing.
    func prepareOrderLookups()
    /// Whether ``withOrder(number:_:)`` would rather be told first which orders a file will look up
    /// (``expectOrderLookups(for:)``): the plain-file storefront whose order exports are too large to index whole,
    /// which then reads each file's orders alone. The default is `false`.
    var wantsOrderNumbersFirst: Bool { get }
    /// Until the next call, every order looked up by number is among `numbers` (their ``KeyHash``es); `nil` ends
    /// that (any order may be looked up again). The default does nothing.
    func expectOrderLookups(for numbers: KeySet?) throws
    /// Makes everything written so far durable (called at the end of each batch).
    func flush() throws
    /// `voxbatch storefront check`: authenticates and reads one page of orders in `readyStatuses` and one
    /// page of products, writing nothing.
    ///
    /// - Throws: ``StorefrontError`` for the first problem met (wrong URL, refused credentials, missing
    ///   permission, an answer that is not the storefront's API), permanent or transient.
    func check(readyStatuses: [String]) throws -> StorefrontCheck
}

/// What `voxbatch storefront check` found.
public struct StorefrontCheck: Sendable, Hashable, Codable {
    /// The storefront type.
    public var storefront: String
    /// Where it was reached (a URL without credentials, or a folder).
    public var location: String
    /// Ready orders on the first page, and how many there are in all when the storefront says.
    public var readyOrders: Int
    public var totalReadyOrders: Int?
    /// Products (SKUs) on the first page, and how many in all when the storefront says.
    public var products: Int
    public var totalProducts: Int?
    /// A few order numbers and SKUs, to recognise the shop by.
    public var exampleOrders: [String]
    public var exampleSKUs: [String]
    /// What the check could not prove (write permission is only shown by a write).
    public var notes: [String]

    public init(storefront: String, location: String, readyOrders: Int, totalReadyOrders: Int?, products: Int,
                totalProducts: Int?, exampleOrders: [String], exampleSKUs: [String], notes: [String] = []) {
        self.storefront = storefront
        self.location = location
        self.readyOrders = readyOrders
        self.totalReadyOrders = totalReadyOrders
        self.products = products
        self.totalProducts = totalProducts
        self.exampleOrders = exampleOrders
        self.exampleSKUs = exampleSKUs
        self.notes = notes
    }
}

/// What voxbatch writes into a storefront's own free text (an order note, a shipment's message, a
/// refund's reason) so that a later process finds what was done: `[voxbatch KIND A=1 B=2]`.
public enum StorefrontMarker {
    /// The entries (`A=1`, `B=2`) of every `[voxbatch KIND …]` marker in `text`, in order.
    public static func all(in text: String, kind: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "[voxbatch \(kind) ") {
            guard let end = rest[start.upperBound...].firstIndex(of: "]") else { break }
            found += rest[start.upperBound..<end].split(separator: " ").map(String.init)
            rest = rest[rest.index(after: end)...]
        }
        return found
    }

    /// The entries of `kind` in `text` as (`PACKAGE/SKU` id, SKU, quantity).
    static func quantities(in text: String, kind: String) -> [(id: String, sku: String, quantity: Int)] {
        all(in: text, kind: kind).compactMap { marker in
            let parts = marker.split(separator: "=")
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), parts[0].split(separator: "/").last.map(String.init) ?? "", Int(parts[1]) ?? 0)
        }
    }
}

/// Hands `items` to `body` `size` at a time (for a storefront whose listing is already in memory).
func forEachPage<S: Sequence>(of items: S, size: Int, _ body: ([S.Element]) throws -> Void) throws {
    try forEachPage(size: size, of: { add in for item in items { try add(item) } }, body)
}

/// Hands what `items` gives, one by one, to `body` `size` at a time (for a listing read as it is walked).
func forEachPage<T>(size: Int, of items: ((T) throws -> Void) throws -> Void, _ body: ([T]) throws -> Void) throws {
    var page: [T] = []
    // `body` is only called during `items` (never kept): it need not escape.
    try withoutActuallyEscaping(body) { body in
        try items { item in
            page.append(item)
            if page.count >= max(1, size) {
                try body(page)
                page.removeAll(keepingCapacity: true)
            }
        }
        if !page.isEmpty { try body(page) }
    }
}

extension Storefront {
    public func withOrder<R>(number: String, _ body: (StorefrontOrder) throws -> R) throws -> R? {
        try order(number: number).map(body)
    }

    public func flush() throws {}

    public func prepareStockUpdates() {}

    public var wantsStockSKUsFirst: Bool { false }

    public func expectStockUpdates(for skus: KeyPartitions?) throws {}

    public func prepareOrderLookups() {}

    public func products(pageSize: Int, _ body: ([Product]) throws -> Void) throws {
        let all = try products()
        for start in stride(from: 0, to: all.count, by: max(pageSize, 1)) {
            try body(Array(all[start..<min(start + max(pageSize, 1), all.count)]))
        }
    }

    public var wantsOrderNumbersFirst: Bool { false }

    public func expectOrderLookups(for numbers: KeySet?) throws {}

    public func setStock(_ levels: [(sku: String, quantity: Int)], snapshotAt: [Date]) throws -> Set<String> {
        try setStock(levels)
    }

    /// Every order whose status is one of `statuses`, in one array: for sets known to be small (the
    /// cancelled orders of the look-back window, a check, tests). Jobs read ready orders page by page.
    public func orders(statuses: [String]) throws -> [StorefrontOrder] {
        var all: [StorefrontOrder] = []
        try orders(statuses: statuses, pageSize: 500) { all += $0 }
        return all
    }
}

/// A storefront that cannot be reached or refused a request.
public struct StorefrontError: Error, CustomStringConvertible, Sendable {
    public var storefront: String
    public var message: String
    /// Whether trying again later may work (timeouts, 429, 5xx).
    public var isTransient: Bool
    /// Whether the storefront refused this one write for what it carries (a shipment not paid yet, a
    /// return line it does not have) — the records become an exception for a person, and the job goes on
    /// with the others — rather than refusing every write (credentials, a wrong URL).
    public var refusesRecord: Bool

    public init(storefront: String, message: String, isTransient: Bool, refusesRecord: Bool = false) {
        self.storefront = storefront
        self.message = message
        self.isTransient = isTransient
        self.refusesRecord = refusesRecord
    }

    public var description: String { "\(storefront): \(message)" }
}
