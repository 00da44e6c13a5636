import CSVKit
import Foundation
import GRDB

/// The plain-file storefront's `orders/` folder, read as a stream.
///
/// An order is a group of rows with the same order number next to each other in a CSV file (or one line
/// of a JSON Lines file). The same order in a later file replaces the earlier one, and an order whose
/// rows are split within one file is put back together; both are found with an index kept on disk
/// (SQLite's private temporary database), so reading a million orders holds one page of them, not the million.
struct OrderExports {
    let directory: String

    /// The export files, in name order (the order they were written in).
    func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            !$0.hasPrefix(".") && ($0.hasSuffix(".csv") || $0.hasSuffix(".jsonl"))
        }.sorted().map { directory + "/" + $0 }
    }

    /// How many bytes `files` hold in all (a file that cannot be looked at counts as empty).
    static func bytes(of files: [String]) -> Int {
        var bytes = 0
        for path in files { var info = stat(); if stat(path, &info) == 0 { bytes += Int(info.st_size) } }
        return bytes
    }

    /// Calls `body` for each group of rows of one order in `path`, with the group's position in the file; the
    /// order is `body`'s to keep (handed over, not copied).
    static func forEachGroup(in path: String, _ body: (consuming StorefrontOrder, Int) throws -> Void) throws {
        if path.hasSuffix(".jsonl") {
            for (i, order) in try FileStorefront.readOrdersJSONLines(path).enumerated() { try body(order, i) }
            return
        }
        var current: StorefrontOrder?
        // The group's lines, gathered here and handed over in an array of their exact size (appending to the
        // order's own array grew it one reallocation at a time).
        var lines: [StorefrontOrder.Line] = []
        var group = 0
        func finish() throws {
            guard current != nil else { return }
            current!.lines = Array(lines)
            lines.removeAll(keepingCapacity: true)
            // Taken out and handed over: set on a copy taken out first, it was copied again for `body`.
            try body(current.take()!, group)
            group += 1
        }
        try forEachOrderRow(in: path) { row, number, startsGroup in
            let line = row.line
            guard startsGroup else {
                lines.append(line)
                return
            }
            try finish()
            lines.append(line)
            current = row.order(number: number)
        }
        try finish()
    }

    /// Calls `body` with the order number of each group of rows in `path` and the group's position, grouped
    /// exactly as ``forEachGroup(in:_:)`` groups them, reading no other field (the index's first pass).
    static func forEachGroupNumber(in path: String, _ body: (String, Int) throws -> Void) throws {
        if path.hasSuffix(".jsonl") {
            try forEachGroup(in: path) { order, group in try body(order.number, group) }
            return
        }
        var group = -1
        try forEachOrderRow(in: path) { _, number, startsGroup in
            guard startsGroup else { return }
            group += 1
            try body(number, group)
        }
    }

    /// A row of an orders CSV file, its fields read by position (looked up once per file: a dictionary
    /// look-up per field cost a tenth of an export).
    struct OrderRow {
        let reader: CSVReader
        /// Each of FileStorefront.orderColumns' position in the header, -1 when missing.
        let at: [Int]
        /// The header's other columns, with their positions.
        let extra: [(String, Int)]

        func value(_ column: OrderColumn) -> String {
            // Trimmed as bytes, then made a string once (trimming the string after looked at both its ends again).
            withValue(column) { String(decoding: $0, as: UTF8.self) }
        }

        /// Runs `body` with the column's value as trimmed bytes (empty when the column is missing).
        func withValue<R>(_ column: OrderColumn, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
            let i = at.isEmpty ? -1 : at[column.rawValue]
            guard i >= 0, i < reader.fieldCount else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
            return try reader.withFieldBytes(i) { try body($0.trimmingSpacesAndTabs) }
        }

        /// The order line of this row.
        var line: StorefrontOrder.Line {
            StorefrontOrder.Line(sku: value(.sku), quantity: quantity, price: value(.price))
        }

        /// The row's quantity (0 when it is not a whole number).
        var quantity: Int { Int(value(.quantity)) ?? 0 }

        /// The order of the group this row starts, without its lines (its id is its number when it has none).
        func order(number: String) -> StorefrontOrder {
            let id = value(.orderID)
            return StorefrontOrder(
                id: id.isEmpty ? number : id, number: number, status: value(.status),
                createdAt: value(.createdAt), email: value(.email), phone: value(.phone),
                shipping: Address(name: value(.name), company: value(.company), line1: value(.address1),
                                  line2: value(.address2), city: value(.city), region: value(.region),
                                  postcode: value(.postcode), country: value(.country)),
                service: value(.service), shippingCost: value(.shippingCost), total: value(.total),
                customerNote: value(.customerNote), fields: extraFields(), lines: [])
        }

        /// The values of the columns voxbatch does not know, verbatim, by column name.
        func extraFields() -> [String: String] {
            var fields: [String: String] = [:]
            for (name, i) in extra where i < reader.fieldCount { fields[name] = reader.field(i) }
            return fields
        }
    }

    /// The grouping both readers share: each row of an orders CSV file that has an order number (its
    /// `order_number`, else its `order_id`), with that number and whether it starts a group (the row before
    /// had another number). Rows without a number are skipped.
    static func forEachOrderRow(
        in path: String, _ body: (OrderRow, String, Bool) throws -> Void
    ) throws {
        // Quarter-MiB chunks: the reader's buffers and its read-ahead's arrays are sized by the chunk (about
        // 6.5 MiB at the default 1 MiB, of an export's memory), and orders are read far slower than it parses.
        let reader = try CSVReader(path: path, configuration: CSVConfiguration(chunkSize: 1 << 18))
        var at: [Int] = [], extra: [(String, Int)] = []
        var current: String?
        while try reader.next() {
            if at.isEmpty, let header = reader.header {
                at = FileStorefront.orderColumns.map { header.index(of: $0) ?? -1 }
                extra = header.names.enumerated().filter { !FileStorefront.orderColumns.contains($0.element) }
                    .map { ($0.element, $0.offset) }
            }
            let row = OrderRow(reader: reader, at: at, extra: extra)
            var number = row.value(.orderNumber)
            if number.isEmpty { number = row.value(.orderID) }
            guard !number.isEmpty else { continue }
            let startsGroup = number != current
            current = number
            try body(row, number, startsGroup)
        }
    }

    /// The orders whose status is one of `statuses` (case-insensitive), each in its latest version, in
    /// the order their latest version appears; `completed` gives the numbers the fulfilment journal has
    /// completed (their status is `completed`). `body` gets them `pageSize` at a time.
    func pages(statuses: [String], completed: CompletedNumbers, pageSize: Int,
               repeatedInMemory: Int = LatestOrderIndex.repeatedInMemory, filterBits: Int? = nil,
               _ body: ([StorefrontOrder]) throws -> Void) throws {
        let wanted = Set(statuses.map { $0.lowercased() })
        let files = try files()
        guard !files.isEmpty else { return }
        let index = try LatestOrderIndex(repeatedInMemory: repeatedInMemory)
        try index.build(files: files, completed: completed, filterBits: filterBits)

        var page: [StorefrontOrder] = []
        page.reserveCapacity(pageSize)
        try index.reading { latestOf in
          for (f, path) in files.enumerated() {
            var split: [String: StorefrontOrder] = [:]  // orders whose rows are not together in this file
            try Self.forEachGroup(in: path) { order, group in
                let latest = try latestOf(order.number, f, group)
                guard latest.file == f else { return }  // a later file has it
                var order = order
                if latest.split {
                    if var earlier = split[order.number] {
                        earlier.lines += order.lines
                        order = earlier
                    }
                    guard group == latest.group else {
                        split[order.number] = order  // more rows of it come later in this file
                        return
                    }
                    split[order.number] = nil
                }
                if latest.completed { order.status = "completed" }
                guard wanted.contains(order.status.lowercased()) else { return }
                page.append(order)
                if page.count >= pageSize {
                    try body(page)
                    page.removeAll(keepingCapacity: true)
                }
            }
          }
        }
        if !page.isEmpty { try body(page) }
    }
}

/// The columns of an orders CSV file, in ``FileStorefront/orderColumns``' order (a test holds the two together).
enum OrderColumn: Int, CaseIterable {
    case orderID, orderNumber, status, createdAt, email, phone, name, company, address1, address2, city, region
    case postcode, country, service, shippingCost, total, customerNote, sku, quantity, price
}

/// The order numbers a shop's fulfilments completed, given one at a time (read from a journal that grows with the
/// shop's history, never all held), and about how many bytes they are read from (the look-up's filter is sized by it).
struct CompletedNumbers {
    let bytes: Int64
    let each: ((String) throws -> Void) throws -> Void
}

/// Order number → the file and group of its latest version, for the numbers that may have more than one group:
/// every other order's latest version is the one being read.
///
/// A first pass over the files' order numbers tells them apart with a Bloom filter (``NumberFilter``, at most
/// 2 MiB): a number the filter has certainly not met is a first group, and costs nothing more; a number it may
/// have met (a repeat, or about one in a hundred others) is written, with its file and group, to an index in
/// SQLite's private temporary database (an on-disk file SQLite deletes as soon as it is opened, so even a killed
/// run leaves none behind), so its size never counts against memory. A later group overwrites an earlier one, so
/// the index holds each such number's last group: its latest version, whose file's earlier groups (rows split
/// within the file) are gathered into it as they are read. The indexed numbers are also held in memory (up to
/// ``repeatedInMemory``), so that the others need no look-up. The numbers the shop's fulfilments completed go to the
/// same database, behind a filter of their own, and are held in memory too when they are as few.
final class LatestOrderIndex {
    private let queue: DatabaseQueue
    /// The indexed numbers, when there are few enough to hold: any other order's latest version is the one being
    /// read, with no look-up.
    private var repeated: Set<String>?
    /// The numbers the fulfilments completed, when few enough to hold (else looked up past `completedFilter`).
    private var completed: Set<String>?
    /// A filter of the completed numbers (`nil`: there are none).
    private var completedFilter: NumberFilter?
    /// Indexed numbers are held in memory up to this many by default; past it every order is looked up.
    static let repeatedInMemory = 100_000
    private let repeatedLimit: Int

    init(repeatedInMemory: Int = LatestOrderIndex.repeatedInMemory) throws {
        repeatedLimit = repeatedInMemory
        var configuration = GRDB.Configuration()
        configuration.prepareDatabase { db in
            // A 2 MiB page cache: the index is read in order of the exports, and a larger cache only grew the
            // export's memory with the shop (4 MiB: 64.6 MiB at 1,000,000 orders, 2 MiB: 62.9 MiB, as fast).
            try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2048")
        }
        _ = SQLiteProcess.configured
        queue = try DatabaseQueue(path: "", configuration: configuration)  // "": private and temporary
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE latest (number TEXT PRIMARY KEY, file INTEGER NOT NULL, grp INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE completed (number TEXT PRIMARY KEY) WITHOUT ROWID
                """)
        }
    }

    /// The filter's size for files of `bytes` in all: ten bits for each group the files could hold at 64 bytes a
    /// row (about one false "maybe" in a hundred), between 8 KiB and 2 MiB. Past that, more numbers are indexed
    /// than need be: slower, never wrong.
    static func filterBits(forBytes bytes: Int64) -> Int {
        Int(min(max(bytes / 64 * 10, 1 << 16), 1 << 24))
    }

    /// One pass over every file: the last file and group of each number that may have more than one.
    func build(files: [String], completed: CompletedNumbers, filterBits: Int? = nil) throws {
        var filter = NumberFilter(bits: filterBits ?? Self.filterBits(forBytes: Int64(OrderExports.bytes(of: files))))
        try queue.inTransaction { db in
            let insert = try db.makeStatement(sql: """
                INSERT INTO latest (number, file, grp) VALUES (?, ?, ?)
                ON CONFLICT(number) DO UPDATE SET file = excluded.file, grp = excluded.grp
                """)
            for (f, path) in files.enumerated() {
                try OrderExports.forEachGroupNumber(in: path) { number, group in
                    guard filter.insert(number) else { return }  // certainly the number's first group
                    try insert.execute(arguments: [number, f, group])
                }
            }
            // A table's numbers (and how many), held when there are few enough.
            func heldIfFew(_ table: String) throws -> (count: Int, numbers: Set<String>?) {
                let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0
                return (count, count <= repeatedLimit ? Set(try String.fetchAll(db, sql: "SELECT number FROM \(table)")) : nil)
            }
            repeated = try heldIfFew("latest").numbers
            let complete = try db.makeStatement(sql: "INSERT OR IGNORE INTO completed (number) VALUES (?)")
            var completedFilter = NumberFilter(bits: filterBits ?? Self.filterBits(forBytes: completed.bytes))
            try completed.each { number in
                _ = completedFilter.insert(number)
                try complete.execute(arguments: [number])
            }
            let held = try heldIfFew("completed")
            if held.count > 0 {
                self.completedFilter = completedFilter
                self.completed = held.numbers
            }
            return .commit
        }
    }

    /// Where an order's latest version is; `split`: whether earlier groups of it in that file may come before it
    /// (they are gathered into it).
    typealias Latest = (file: Int, group: Int, split: Bool, completed: Bool)

    /// Runs `body` with a look-up of where an order's latest version is (given the number, and the file and
    /// group being read), all in one read.
    func reading(_ body: ((String, Int, Int) throws -> Latest) throws -> Void) throws {
        try queue.read { db in
            let statement = try db.makeStatement(sql: """
                SELECT file, grp FROM latest WHERE number = ?
                """)
            let completedStatement = try db.makeStatement(sql: "SELECT 1 FROM completed WHERE number = ?")
            func isCompleted(_ number: String) throws -> Bool {
                guard let completedFilter, completedFilter.contains(number) else { return false }
                if let completed { return completed.contains(number) }
                completedStatement.setUncheckedArguments([number])
                return try Bool.fetchOne(completedStatement) != nil
            }
            try body { number, file, group in
                if let repeated, !repeated.contains(number) {  // in one group only: the one being read
                    return (file, group, false, try isCompleted(number))
                }
                statement.setUncheckedArguments([number])
                guard let row = try Row.fetchOne(statement) else {
                    return (file, group, false, try isCompleted(number))  // not indexed: its only group
                }
                return (row[0], row[1], true, try isCompleted(number))
            }
        }
    }
}

/// A Bloom filter of order numbers: whether a number was added before is answered "certainly not" or "maybe".
struct NumberFilter {
    private var words: [UInt64]
    private let mask: UInt64
    private static let probes = 7

    /// A filter of `bits` bits, rounded up to a power of two.
    init(bits: Int) {
        var size = 64
        while size < bits { size <<= 1 }
        words = [UInt64](repeating: 0, count: size / 64)
        mask = UInt64(size - 1)
    }

    /// Adds `number`; returns whether it may have been added before (`false`: it certainly was not).
    mutating func insert(_ number: String) -> Bool {
        var found = true
        let mask = mask
        words.withUnsafeMutableBufferPointer { words in
            Self.forEachProbe(of: number) { at in
                let bit = at & mask
                let word = Int(bit >> 6), flag = UInt64(1) << (bit & 63)
                if words[word] & flag == 0 {
                    found = false
                    words[word] |= flag
                }
                return true
            }
        }
        return found
    }

    /// Whether `number` may have been added (`false`: it certainly was not).
    func contains(_ number: String) -> Bool {
        var found = true
        words.withUnsafeBufferPointer { words in
            Self.forEachProbe(of: number) { at in
                let bit = at & mask
                found = words[Int(bit >> 6)] & (UInt64(1) << (bit & 63)) != 0
                return found
            }
        }
        return found
    }

    /// Calls `probe` with each of the number's probe positions (unmasked) while it returns `true`.
    @inline(__always)
    private static func forEachProbe(of number: String, _ probe: (UInt64) -> Bool) {
        var hasher = Hasher()
        hasher.combine(number)
        let hash = UInt64(bitPattern: Int64(hasher.finalize()))
        let step = (hash >> 32) | 1  // double hashing: probe i at hash + i × step
        var at = hash
        for _ in 0..<probes {
            guard probe(at) else { return }
            at &+= step
        }
    }
}
