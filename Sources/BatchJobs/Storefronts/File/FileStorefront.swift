import CSVKit
import Foundation

/// The plain-file storefront: for shops that export orders as files and import updates as files (and
/// the embedded default).
///
/// Its folder:
/// - `orders/`: the shop's order exports, `*.csv` (one row per order line) or `*.jsonl` (one order per
///   line), read in name order; a later row for the same order replaces the earlier one (a status change,
///   such as a cancellation, is a new export of the order).
/// - `returns/`: returns announced in the shop (RMA), `*.csv` with `return_number, order_number, sku,
///   quantity, reason, created_at`, one row per line; a later file's version of a return replaces it.
/// - `products.csv`: the catalogue (`sku,barcode,name,size,colour,weight_grams,price`).
/// - `updates/`: what voxbatch tells the shop, as append-only CSV journals the shop imports:
///   `fulfilments.csv`, `stock.csv`, `refunds.csv` and `cancellations.csv` (formats in the README).
///
/// Writes look before they add (a fulfilment line or refund id already in the journal is not written
/// again), so a rerun after a crash never duplicates one.
public final class FileStorefront: Storefront, ReturnsSource {
    public let folder: String
    /// The orders by number, once read (``OrderStore``: in a temporary file, not in memory).
    private var ordersByNumber: OrderStore?
    /// The orders being read in the background, after ``prepareOrderLookups()`` or ``expectOrderLookups(for:)``.
    private var ordersRead: BackgroundResult<OrderStore>?
    /// Whether the orders read (or being read) are only those ``expectOrderLookups(for:)`` was told of.
    private var ordersRestricted = false
    /// Order exports of at least this many bytes in all are not indexed whole for a despatch import: each file's
    /// orders are read into the order store on their own (``expectOrderLookups(for:)``), so that the store's index
    /// (18 bytes an order) follows the file, not the shop's history. 64 MiB is about 160,000 orders.
    public var orderIndexThreshold = 64 << 20
    /// The catalogue's SKUs, as key hashes: 8 bytes a slot whatever their length (a million-SKU catalogue in
    /// about 10 MiB rather than the 40 MiB of a `Set<String>`).
    private var skus: KeySet?
    /// The catalogue's SKUs being read in the background, after ``prepareStockUpdates()``.
    private var catalogueRead: BackgroundResult<KeySet>?
    /// A catalogue file of at least this many bytes is not held as a set for a stock import: its SKUs' hashes
    /// go to temporary files by partition, and each stock file's SKUs are compared with them a partition at
    /// a time (``expectStockUpdates(for:)``). 32 MiB is about 600,000 SKUs: a 6 MiB set.
    public var cataloguePartitionThreshold = 32 << 20
    /// Where the catalogue's partitions are written (created when first needed): the state folder's work
    /// folder when a job opens the storefront, else the system's temporary folder.
    public var temporaryDirectory = NSTemporaryDirectory()
    /// The catalogue's SKU hashes by partition, once written.
    private var cataloguePartitions: KeyPartitions?
    /// The catalogue's partitions being written in the background, after ``prepareStockUpdates()``.
    private var cataloguePartitionsRead: BackgroundResult<KeyPartitions>?
    /// While a stock file's SKUs are expected (``expectStockUpdates(for:)``): those the catalogue lacks.
    private var unknownInScope: KeySet?
    private let fulfilments: CSVJournal
    private let stockJournal: CSVJournal
    private let refunds: CSVJournal
    private let cancellations: CSVJournal
    /// The cancellation outcomes already recorded, read from the journal on first use (under the job lock).
    private var cancellationIDs: Set<String>?
    private let clock: () -> Date

    /// The columns of `updates/fulfilments.csv`.
    public static let fulfilmentColumns = ["fulfilment_id", "order_number", "package", "carrier", "service",
                                           "tracking_number", "despatch_date", "sku", "quantity", "order_complete",
                                           "recorded_at"]
    /// The columns of `updates/stock.csv`.
    public static let stockColumns = ["sku", "available", "recorded_at"]
    /// The columns of `updates/refunds.csv`.
    public static let refundColumns = ["refund_id", "order_number", "return_number", "sku", "quantity", "amount",
                                       "restock", "reason", "recorded_at"]
    /// The columns of `updates/cancellations.csv`.
    public static let cancellationColumns = ["order_number", "outcome", "detail", "recorded_at"]
    /// The columns of an orders CSV file.
    public static let orderColumns = ["order_id", "order_number", "status", "created_at", "email", "phone", "name",
                                      "company", "address1", "address2", "city", "region", "postcode", "country",
                                      "service", "shipping_cost", "total", "customer_note", "sku", "quantity", "price"]

    /// Opens the storefront in `folder` (creating `orders/` and `updates/` when missing); its files are read
    /// and written only when a job uses them.
    public init(folder: String, clock: @escaping () -> Date) throws {
        self.folder = folder
        self.clock = clock
        for sub in ["orders", "updates"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
        }
        fulfilments = CSVJournal(path: folder + "/updates/fulfilments.csv", header: Self.fulfilmentColumns)
        stockJournal = CSVJournal(path: folder + "/updates/stock.csv", header: Self.stockColumns)
        refunds = CSVJournal(path: folder + "/updates/refunds.csv", header: Self.refundColumns)
        cancellations = CSVJournal(path: folder + "/updates/cancellations.csv", header: Self.cancellationColumns)
    }

    /// The orders and what was fulfilled and refunded, read on first use (a stock import never needs them), or
    /// what ``prepareOrderLookups()`` started reading.
    @discardableResult
    private func loadedOrders() throws -> OrderStore {
        if let ordersByNumber { return ordersByNumber }
        let store = try ordersRead.map { read in
            ordersRead = nil
            return try read.wait()
        } ?? Self.readOrders(folder: folder, fulfilments: fulfilments, refunds: refunds,
                             temporaryDirectory: temporaryDirectory)
        ordersByNumber = store
        return store
    }

    /// Starts reading the orders on a thread of its own: a despatch import looks orders up from its first
    /// package, and 100,000 orders take a fifth of a second that the file's first pass and first rows can
    /// overlap. Nothing else touches the order files or the journals until the read is taken.
    public func prepareOrderLookups() {
        guard ordersByNumber == nil, ordersRead == nil, !wantsOrderNumbersFirst else { return }
        let folder = folder, fulfilments = fulfilments, refunds = refunds, directory = temporaryDirectory
        ordersRead = BackgroundResult {
            try Self.readOrders(folder: folder, fulfilments: fulfilments, refunds: refunds, temporaryDirectory: directory)
        }
    }

    public var wantsOrderNumbersFirst: Bool {
        OrderExports.bytes(of: (try? OrderExports(directory: folder + "/orders").files()) ?? []) >= orderIndexThreshold
    }

    /// Starts reading the orders `numbers` names (their ``KeyHash``es), and only those, on a thread of its own: the
    /// orders of the last file so told go. `nil`: the orders read next are all of them.
    public func expectOrderLookups(for numbers: KeySet?) throws {
        guard numbers != nil || ordersRestricted else { return }
        if ordersRead != nil { try loadedOrders() }  // a read under way is let finish before it goes
        ordersByNumber = nil
        ordersRestricted = numbers != nil
        guard let numbers else { return }
        // The journals are read back: what the last file wrote is in them.
        try fulfilments.flush()
        try refunds.flush()
        let folder = folder, fulfilments = fulfilments, refunds = refunds, directory = temporaryDirectory
        ordersRead = BackgroundResult {
            try Self.readOrders(folder: folder, fulfilments: fulfilments, refunds: refunds, temporaryDirectory: directory,
                                only: numbers)
        }
    }

    /// Every order (or those whose number's ``KeyHash`` is in `only`), in its latest version, with what the
    /// journals say was fulfilled and refunded.
    private static func readOrders(folder: String, fulfilments: CSVJournal, refunds: CSVJournal,
                                   temporaryDirectory: String, only: KeySet? = nil) throws -> OrderStore {
        let ordersByNumber = try loadOrders(folder: folder, temporaryDirectory: temporaryDirectory, only: only)
        // Each journal row changes its order where it is kept (as `fulfil` does), as the journal is read: a journal
        // holds the shop's whole history (its rows all held, a second despatch import of a day peaked at 298 MiB).
        try fulfilments.forEachRow(columns: ["order_number", "package", "sku", "quantity", "order_complete"]) { row in
            guard let number = row[0] else { return }
            try ordersByNumber.modify(number) { order in
                let sku = row[2]
                let id = String.keyPath(row[1] ?? "", sku ?? "")
                guard order.fulfilmentIDs.insert(id).inserted else { return }
                if let i = order.lines.firstIndex(where: { $0.sku == sku }) {
                    order.lines[i].fulfilled += Int(row[3] ?? "") ?? 0
                }
                if row[4] == "true" { order.status = "completed" }
            }
        }
        try refunds.forEachRow(columns: ["order_number", "refund_id", "sku", "quantity"]) { row in
            guard let number = row[0] else { return }
            try ordersByNumber.modify(number) { order in
                guard order.refundIDs.insert(row[1] ?? "").inserted else { return }
                let sku = row[2]
                if let i = order.lines.firstIndex(where: { $0.sku == sku }) {
                    order.lines[i].refunded += Int(row[3] ?? "") ?? 0
                }
            }
        }
        return ordersByNumber
    }

    /// The SKUs of the catalogue, read once (waiting for ``prepareStockUpdates()``'s read if one is under way).
    private func knownSKUs() throws -> KeySet {
        if let skus { return skus }
        let found = try catalogueRead.map { read in
            catalogueRead = nil
            return try read.wait()
        } ?? Self.readSKUs(folder: folder)
        skus = found
        return found
    }

    private static func readSKUs(folder: String) throws -> KeySet {
        // Sized from the file's line count (a quick pass for memchr), so the set neither grows as it fills nor
        // keeps room it never uses: 10 bytes a SKU.
        var found = KeySet(capacity: Self.lineCount(folder + "/products.csv"))
        try forEachSKU(folder: folder) { _, sku in
            found.insert(KeyHash.of(sku))
        }
        return found
    }

    /// The number of lines of the file at `path` (0 when it cannot be read).
    static func lineCount(_ path: String) -> Int {
        guard let source = try? FileDescriptorSource(path: path) else { return 0 }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var lines = 0
        while let n = try? source.read(into: buffer), n > 0 {
            var p = buffer.baseAddress!, left = n
            while left > 0, let hit = memchr(p, 0x0A, left) {
                lines += 1
                left -= hit - p + 1
                p = hit + 1
            }
        }
        return lines
    }

    /// Starts reading the catalogue's SKUs on a thread of its own: a stock import needs them for its first
    /// batch, and a million-SKU catalogue takes a quarter of a second that the download and the first rows'
    /// parsing can overlap. A catalogue too large to hold is written to its partitions instead.
    public func prepareStockUpdates() {
        if wantsStockSKUsFirst {
            guard cataloguePartitions == nil, cataloguePartitionsRead == nil else { return }
            let folder = folder, directory = temporaryDirectory
            cataloguePartitionsRead = BackgroundResult { try Self.partitionSKUs(folder: folder, temporaryDirectory: directory) }
            return
        }
        guard skus == nil, catalogueRead == nil else { return }
        let folder = folder
        catalogueRead = BackgroundResult { try Self.readSKUs(folder: folder) }
    }

    public var wantsStockSKUsFirst: Bool {
        var info = stat()
        return stat(folder + "/products.csv", &info) == 0 && Int(info.st_size) >= cataloguePartitionThreshold
    }

    /// Compares the file's SKUs with the catalogue's a partition at a time and keeps those it lacks: what
    /// ``setStock(_:)`` answers from until the next call. Memory: one partition of each (1/64th) and the
    /// unknown SKUs.
    public func expectStockUpdates(for skus: KeyPartitions?) throws {
        guard let skus else {
            unknownInScope = nil
            return
        }
        let catalogue = try cataloguePartitions ?? cataloguePartitionsRead.map { read in
            cataloguePartitionsRead = nil
            return try read.wait()
        } ?? Self.partitionSKUs(folder: folder, temporaryDirectory: temporaryDirectory)
        cataloguePartitions = catalogue
        unknownInScope = try skus.subtracting(catalogue)
    }

    private static func partitionSKUs(folder: String, temporaryDirectory: String) throws -> KeyPartitions {
        // A folder that cannot be made is told by the partitions' own error, naming it.
        try? FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
        let partitions = try KeyPartitions(temporaryDirectory: temporaryDirectory)
        try forEachSKU(folder: folder) { _, sku in
            try partitions.add(KeyHash.of(sku))
        }
        return partitions
    }

    // MARK: - Reading

    public func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws {
        if ordersRead != nil { try loadedOrders() }  // being read: the journals are not for two readers
        if let ordersByNumber {  // already read for the writes of this run: page through them
            let wanted = Set(statuses.map { $0.lowercased() })
            return try forEachPage(size: pageSize, of: { add in
                try ordersByNumber.forEachInSequence { order in
                    if wanted.contains(order.status.lowercased()) { try add(order) }
                }
            }, body)
        }
        try fulfilments.flush()
        let fulfilments = fulfilments
        var size = stat()
        let completed = CompletedNumbers(bytes: stat(fulfilments.path, &size) == 0 ? Int64(size.st_size) : 0) { add in
            try fulfilments.forEachRow(columns: ["order_complete", "order_number"]) { row in
                if row[0] == "true", let number = row[1] { try add(number) }
            }
        }
        try OrderExports(directory: folder + "/orders").pages(statuses: statuses, completed: completed, pageSize: pageSize, body)
    }

    public func order(number: String) throws -> StorefrontOrder? {
        try loadedOrders().order(number)
    }

    /// The order where it is kept (a copy retains its two dozen strings and arrays, and releases them again).
    public func withOrder<R>(number: String, _ body: (StorefrontOrder) throws -> R) throws -> R? {
        try loadedOrders().withOrder(number, body)
    }

    public func check(readyStatuses: [String]) throws -> StorefrontCheck {
        guard FileManager.default.fileExists(atPath: folder + "/orders") else {
            throw StorefrontError(storefront: "file", message: "\(folder)/orders does not exist", isTransient: false)
        }
        var ready = 0, examples: [String] = []  // counted page by page, not all held
        try orders(statuses: readyStatuses, pageSize: 500) { page in
            ready += page.count
            examples += page.prefix(3 - examples.count).map(\.number)
        }
        let catalogue = try products()
        var notes: [String] = []
        if !FileManager.default.fileExists(atPath: folder + "/products.csv") {
            notes.append("there is no \(folder)/products.csv: every SKU will be unknown to the shop")
        }
        return StorefrontCheck(storefront: "file", location: folder, readyOrders: min(10, ready),
                               totalReadyOrders: ready, products: min(10, catalogue.count),
                               totalProducts: catalogue.count, exampleOrders: examples,
                               exampleSKUs: catalogue.prefix(3).map(\.sku), notes: notes)
    }

    public func products() throws -> [Product] {
        var all: [Product] = []
        try products(pageSize: 5_000) { all += $0 }
        return all
    }

    /// The catalogue as it is read, never held whole (a million-SKU catalogue's export held 500 MiB).
    public func products(pageSize: Int, _ body: ([Product]) throws -> Void) throws {
        var page: [Product] = []
        page.reserveCapacity(max(pageSize, 1))
        var columns: [Int]?  // barcode, name, size, colour, weight_grams, price: looked up once
        try readCatalogue { reader, sku in
            if columns == nil {
                columns = ["barcode", "name", "size", "colour", "weight_grams", "price"].map { reader.header?.index(of: $0) ?? -1 }
            }
            func value(_ n: Int) -> String {
                let i = columns.unsafelyUnwrapped[n]
                return i >= 0 && i < reader.fieldCount ? reader.field(i).trimmingSpaces : ""
            }
            page.append(Product(sku: sku, barcode: value(0), name: value(1),
                                attributes: [value(2), value(3)].filter { !$0.isEmpty },
                                weightGrams: value(4), price: value(5)))
            if page.count >= pageSize {
                try body(page)
                page.removeAll(keepingCapacity: true)
            }
        }
        if !page.isEmpty { try body(page) }
    }

    /// The availability the journal shows: the latest row per SKU (buffered rows are flushed first).
    public func stockLevels() throws -> [String: Int] {
        try stockJournal.flush()
        var levels: [String: Int] = [:]  // one a SKU; the journal has a row for every level ever pushed
        try stockJournal.forEachRow(columns: ["sku", "available"]) { row in
            if let sku = row[0], let n = Int(row[1] ?? "") { levels[sku] = n }
        }
        return levels
    }

    // MARK: - Writing

    public func fulfil(_ fulfilment: Fulfilment) throws {
        let orders = try loadedOrders()
        let now = timestamp()
        // Changed where it is kept (a copy written back would copy its lines and ids again).
        let found: Void? = try orders.modify(fulfilment.orderNumber) { order in
            // Room for the package's ids at once (grown one by one, an order's set was reallocated and rehashed
            // at its second and third line).
            order.fulfilmentIDs.reserveCapacity(order.fulfilmentIDs.count + fulfilment.lines.count)
            for line in fulfilment.lines {
                let id = String.keyPath(fulfilment.package, line.sku)
                guard order.fulfilmentIDs.insert(id).inserted else { continue }  // recorded before: not twice
                if let i = order.lines.firstIndex(where: { $0.sku == line.sku }) { order.lines[i].fulfilled += line.quantity }
                let completes = fulfilment.completesOrder && order.isFullyFulfilled
                try fulfilments.append { row in  // Self.fulfilmentColumns' order, field by field
                    // `ORDER/PACKAGE/SKU`, put together in a buffer kept between lines rather than made a string.
                    fulfilmentIDField.removeAll()
                    fulfilmentIDField.append(fulfilment.orderNumber)
                    fulfilmentIDField.append("/")
                    fulfilmentIDField.append(id)
                    try fulfilmentIDField.withUTF8 { try row.write(fieldBytes: $0) }
                    try row.write(field: fulfilment.orderNumber)
                    try row.write(field: fulfilment.package)
                    try row.write(field: fulfilment.carrier)
                    try row.write(field: fulfilment.service)
                    try row.write(field: fulfilment.trackingNumber)
                    try row.write(field: fulfilment.despatchDate)
                    try row.write(field: line.sku)
                    try row.write(integer: line.quantity)
                    try row.write(field: completes ? "true" : "false")
                    try row.write(field: now)
                }
            }
            if order.isFullyFulfilled { order.status = "completed" }
        }
        guard found != nil else {
            throw StorefrontError(storefront: "file", message: "no order \(fulfilment.orderNumber)", isTransient: false)
        }
    }

    public func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String> {
        // The SKUs of the file being applied, when they were given first; else the whole catalogue.
        let scope = unknownInScope
        let known = scope == nil ? try knownSKUs() : KeySet()
        var unknown: Set<String> = []
        let now = timestamp()
        for level in levels {
            let hash = KeyHash.of(level.sku)
            guard scope.map({ !$0.contains(hash) }) ?? known.contains(hash) else {
                unknown.insert(level.sku)
                continue
            }
            try stockJournal.append { row in  // Self.stockColumns' order
                try row.write(field: level.sku)
                try row.write(integer: level.quantity)
                try row.write(field: now)
            }
        }
        return unknown
    }

    public func refund(_ refund: Refund) throws {
        // The amount, when the refund is new (`""` when the line has no price); `nil` when recorded before.
        let recorded: String?? = try loadedOrders().modify(refund.orderNumber) { order in
            guard order.refundIDs.insert(refund.id).inserted else { return nil }  // recorded before: not twice
            var amount = ""
            if let i = order.lines.firstIndex(where: { $0.sku == refund.sku }) {
                order.lines[i].refunded += refund.quantity
                if let price = Decimal(string: order.lines[i].price) {
                    amount = "\(price * Decimal(refund.quantity))"
                }
            }
            return amount
        }
        guard let found = recorded else {
            throw StorefrontError(storefront: "file", message: "no order \(refund.orderNumber)", isTransient: false)
        }
        guard let amount = found else { return }
        try refunds.append([
            "refund_id": refund.id, "order_number": refund.orderNumber, "return_number": refund.returnNumber,
            "sku": refund.sku, "quantity": String(refund.quantity), "amount": amount,
            "restock": refund.restock ? "true" : "false", "reason": refund.reason, "recorded_at": timestamp(),
        ])
    }

    public func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws {
        if cancellationIDs == nil {
            var ids = Set<String>()
            try cancellations.forEachRow(columns: ["order_number", "outcome"]) { row in
                ids.insert((row[0] ?? "") + "/" + (row[1] ?? ""))
            }
            cancellationIDs = ids
        }
        guard cancellationIDs!.insert(orderNumber + "/" + outcome.rawValue).inserted else { return }
        try cancellations.append(["order_number": orderNumber, "outcome": outcome.rawValue, "detail": detail,
                                  "recorded_at": timestamp()])
    }

    public func flush() throws {
        if ordersRead != nil { try loadedOrders() }  // the journals are not for two at once
        try fulfilments.flush()
        try stockJournal.flush()
        try refunds.flush()
        try cancellations.flush()
    }

    // MARK: - Returns announced in the shop

    /// The columns of a returns (RMA) file in `returns/`.
    public static let returnColumns = ["return_number", "order_number", "sku", "quantity", "reason", "created_at"]

    public func announcedReturns(pageSize: Int, _ body: ([AnnouncedReturn]) throws -> Void) throws {
        let directory = folder + "/returns"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        var returns: [String: AnnouncedReturn] = [:]  // the shop's open returns: few, read whole
        var sequence: [String] = []
        for name in names.filter({ !$0.hasPrefix(".") && $0.hasSuffix(".csv") }).sorted() {
            let reader = try CSVReader(path: directory + "/" + name)
            var inThisFile: Set<String> = []
            while try reader.next() {
                func value(_ column: String) -> String { reader.field(named: column)?.trimmingSpaces ?? "" }
                let number = value("return_number")
                guard !number.isEmpty else { continue }
                let line = AnnouncedReturn.Line(sku: value("sku"), quantity: Int(value("quantity")) ?? 0)
                if inThisFile.contains(number) {
                    returns[number]?.lines.append(line)
                    continue
                }
                inThisFile.insert(number)
                if returns[number] == nil { sequence.append(number) }
                returns[number] = AnnouncedReturn(returnNumber: number, orderNumber: value("order_number"),
                                                  createdAt: value("created_at"), reason: value("reason"), lines: [line])
            }
        }
        try forEachPage(of: sequence.lazy.compactMap { returns[$0] }, size: pageSize, body)
    }

    // MARK: - Loading

    /// The clock's time to the second, as the journals write it.
    private func timestamp() -> String {
        // Made once a second: a despatch import asks once a package.
        let now = clock(), second = Int64(now.timeIntervalSince1970.rounded(.down))
        if let last = lastTimestamp, last.second == second { return last.text }
        let text = UTCTime.iso8601(now)
        lastTimestamp = (second, text)
        return text
    }
    private var lastTimestamp: (second: Int64, text: String)?
    /// The fulfilment id column's text, put together here line by line (``fulfil(_:)``).
    private var fulfilmentIDField = TextBuffer(capacity: 64)

    /// Every order, in its latest version, by number (for `order(number:)` and the writes, which look orders up
    /// by number); listings stream instead (``orders(statuses:pageSize:_:)``).
    private static func loadOrders(folder: String, temporaryDirectory: String, only: KeySet? = nil) throws -> OrderStore {
        let ordersByNumber = try OrderStore(temporaryDirectory: temporaryDirectory)
        let files = try OrderExports(directory: folder + "/orders").files()
        // Room for about as many orders as the files hold at ~400 bytes an order (three lines): the index of
        // 100,000 orders grown one doubling at a time rehashed every number it held each time (a fifth of the
        // read's profile samples; 3% with the room made first).
        ordersByNumber.reserveCapacity(min(OrderExports.bytes(of: files) / 400, only?.count ?? .max, 4_000_000))
        for (f, path) in files.enumerated() {
            guard path.hasSuffix(".jsonl") else {
                try ordersByNumber.addGroups(ofCSV: path, file: f, only: only)
                continue
            }
            try OrderExports.forEachGroup(in: path) { order, _ in
                if let only, !only.contains(KeyHash.of(order.number)) { return }
                try ordersByNumber.add(order, file: f)
            }
        }
        return ordersByNumber
    }

    /// One order of a JSON Lines file.
    struct OrderJSON: Codable {
        var id: String?
        var number: String
        var status: String
        var created_at: String?
        var email: String?
        var phone: String?
        var shipping: AddressJSON
        var service: String?
        var shipping_cost: String?
        var total: String?
        var customer_note: String?
        var fields: [String: String]?
        var lines: [LineJSON]

        struct AddressJSON: Codable {
            var name: String?, company: String?, address1: String?, address2: String?, city: String?
            var region: String?, postcode: String?, country: String?
        }

        struct LineJSON: Codable {
            var sku: String
            var quantity: Int
            var price: String?
        }
    }

    static func readOrdersJSONLines(_ path: String) throws -> [StorefrontOrder] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = JSONDecoder()
        var orders: [StorefrontOrder] = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            let o: OrderJSON
            do {
                o = try decoder.decode(OrderJSON.self, from: line)
            } catch {
                throw StorefrontError(storefront: "file", message: "\(path) line \(n + 1) is not an order: \(error)",
                                      isTransient: false)
            }
            let s = o.shipping
            orders.append(StorefrontOrder(
                id: o.id ?? o.number, number: o.number, status: o.status, createdAt: o.created_at ?? "",
                email: o.email ?? "", phone: o.phone ?? "",
                shipping: Address(name: s.name ?? "", company: s.company ?? "", line1: s.address1 ?? "",
                                  line2: s.address2 ?? "", city: s.city ?? "", region: s.region ?? "",
                                  postcode: s.postcode ?? "", country: s.country ?? ""),
                service: o.service ?? "", shippingCost: o.shipping_cost ?? "", total: o.total ?? "",
                customerNote: o.customer_note ?? "", fields: o.fields ?? [:],
                lines: o.lines.map { StorefrontOrder.Line(sku: $0.sku, quantity: $0.quantity, price: $0.price ?? "") }))
        }
        return orders
    }

    /// Streams `products.csv`, calling `body` for each row with a SKU.
    private func readCatalogue(_ body: (CSVReader, String) throws -> Void) throws {
        try Self.readCatalogue(folder: folder, body)
    }

    private static func readCatalogue(folder: String, _ body: (CSVReader, String) throws -> Void) throws {
        try forEachSKU(folder: folder) { reader, sku in
            try body(reader, String(decoding: sku, as: UTF8.self))
        }
    }

    /// Streams `products.csv`, calling `body` with each row's SKU, trimmed, as bytes (no string is made: a
    /// million-SKU catalogue is read on every stock import).
    private static func forEachSKU(
        folder: String, _ body: (CSVReader, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        let path = folder + "/products.csv"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let reader = try CSVReader(path: path)
        var skuIndex: Int?
        while try reader.next() {
            if skuIndex == nil { skuIndex = reader.header?.index(of: "sku") ?? 0 }
            guard let i = skuIndex, i < reader.fieldCount else { continue }
            try reader.withFieldBytes(i) { bytes in
                let sku = bytes.trimmingSpacesAndTabs
                if !sku.isEmpty { try body(reader, sku) }
            }
        }
    }
}
