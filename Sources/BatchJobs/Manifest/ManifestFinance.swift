import Foundation

/// One line of money movement on an order, recorded by the job that caused it: `sent` (the order went
/// to the warehouse: what was charged), `despatched` (a package left), `cancelled` (a cancellation
/// request for a sent order, or units the warehouse cannot fulfil), `refunded` (a return in a final
/// state). Recorded once per (order, kind, reference, SKU) — a rerun adds nothing.
public struct FinanceLine: Sendable, Hashable, Codable {
    public var orderNumber: String
    public var kind: String
    /// The package, return or file it belongs to (`""` for the order as sent).
    public var reference: String
    public var sku: String
    public var quantity: Int
    /// Price per unit in minor units (cents), as the storefront charged it.
    public var unitCents: Int
    /// ISO 4217 (`""` when the storefront does not say).
    public var currency: String

    public init(orderNumber: String, kind: String, reference: String, sku: String, quantity: Int, unitCents: Int,
                currency: String) {
        self.orderNumber = orderNumber
        self.kind = kind
        self.reference = reference
        self.sku = sku
        self.quantity = quantity
        self.unitCents = unitCents
        self.currency = currency
    }

    /// A decimal price (`12.50`, `12`, `1,299.00`) in cents; nil when it is not a price.
    public static func cents(_ price: String) -> Int? {
        plainCents(price) ?? decimalCents(price)
    }

    static func decimalCents(_ price: String) -> Int? {
        let plain = price.filter { $0.isNumber || $0 == "." || $0 == "-" }
        guard !plain.isEmpty, let value = Decimal(string: plain) else { return nil }
        var scaled = value * 100
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        return NSDecimalNumber(decimal: rounded).intValue
    }

    /// The common case read straight from the bytes — ASCII, an optional leading `-`, at most two decimals
    /// (other ASCII characters such as `£` and `,` skipped, as above); `nil` sends anything else to `Decimal`.
    /// Orders carry a price per line, and `Decimal(string:)` per line was a tenth of an export's time.
    static func plainCents(_ price: String) -> Int? {
        var units = 0, decimals = -1, digits = 0, negative = false
        for byte in price.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard decimals < 2, digits < 15 else { return nil }
                units = units * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                if decimals >= 0 { decimals += 1 }
            case UInt8(ascii: "."):
                guard decimals < 0 else { return nil }
                decimals = 0
            case UInt8(ascii: "-"):
                guard digits == 0, decimals < 0, !negative else { return nil }
                negative = true
            case 0x80...: return nil
            default: continue
            }
        }
        guard digits > 0 else { return nil }
        for _ in max(0, decimals)..<2 { units *= 10 }
        return negative ? -units : units
    }
}

extension Manifest {
    static let financeMigration = StateMigration(id: "v5-finance", sql: """
        CREATE TABLE finance_lines (
            order_number TEXT NOT NULL, kind TEXT NOT NULL, reference TEXT NOT NULL, sku TEXT NOT NULL,
            quantity INTEGER NOT NULL, unit_cents INTEGER NOT NULL, currency TEXT NOT NULL, day TEXT NOT NULL,
            at INTEGER NOT NULL, PRIMARY KEY (order_number, kind, reference, sku));
        CREATE INDEX finance_by_day ON finance_lines(day);
        """)

    /// The orders that have finance lines on a day, instead of an index of every line's day: a despatch import's
    /// lines are three to an order, and the index's entry a line was a sixth of its committing thread's work (the
    /// day's report only ever asked it for the orders). Filled from the lines there are when the manifest is
    /// migrated; from then on, a row an order and day, whatever the lines, added with them.
    static let financeDaysMigration = StateMigration(id: "v9-finance-days", sql: """
        CREATE TABLE finance_days (
            day TEXT NOT NULL, order_number TEXT NOT NULL, PRIMARY KEY (day, order_number)) WITHOUT ROWID;
        INSERT INTO finance_days (day, order_number) SELECT DISTINCT day, order_number FROM finance_lines;
        DROP INDEX finance_by_day;
        """)

    /// The lines kept in the order of their key alone (SQLite's `WITHOUT ROWID`), not in a table of rows and an index
    /// of their keys beside it: a line's key was written twice and each insert went into two B-trees. A despatch
    /// import records a line per package and SKU, 300,000 in the benchmark's file: its commits' instructions fell by
    /// 4%, and with 16 KiB pages the manifest grew 89 MiB instead of 108 (Benchmarks/README.md). Nothing reads the
    /// lines by rowid.
    static let financeLinesByKeyMigration = StateMigration(id: "v10-finance-lines-by-key", sql: """
        CREATE TABLE finance_lines_by_key (
            order_number TEXT NOT NULL, kind TEXT NOT NULL, reference TEXT NOT NULL, sku TEXT NOT NULL,
            quantity INTEGER NOT NULL, unit_cents INTEGER NOT NULL, currency TEXT NOT NULL, day TEXT NOT NULL,
            at INTEGER NOT NULL, PRIMARY KEY (order_number, kind, reference, sku)) WITHOUT ROWID;
        INSERT INTO finance_lines_by_key (order_number, kind, reference, sku, quantity, unit_cents, currency, day, at)
            SELECT order_number, kind, reference, sku, quantity, unit_cents, currency, day, at FROM finance_lines;
        DROP TABLE finance_lines;
        ALTER TABLE finance_lines_by_key RENAME TO finance_lines;
        """, sqliteOnly: true)

    /// The UTC day (`2026-11-30`) of a time.
    public static func day(_ seconds: Int64) -> String {
        UTCTime.day(Date(timeIntervalSince1970: Double(seconds)))
    }

    /// Inserts `lines`, taken in order (a file's lines are read from its records, not copied into one array first),
    /// laid out a thousand at a time.
    static func insert(_ lines: some Sequence<FinanceLine>, db: any SQLSession, now: Int64) throws {
        var rows = FinanceRows(capacity: 1_000)
        for line in lines {
            rows.append(line)
            if rows.lines.count == 1_000 {
                try insert(financeRows: rows, db: db, now: now)
                rows.removeAll()
            }
        }
        try insert(financeRows: rows, db: db, now: now)
    }

    /// `lines` laid out for ``insert(financeRows:db:now:)``, on any thread.
    static func financeRows(_ lines: [FinanceLine]) -> FinanceRows {
        var rows = FinanceRows(capacity: lines.count)
        for line in lines { rows.append(line) }
        return rows
    }

    static func insert(financeRows rows: FinanceRows, db: any SQLSession, now: Int64) throws {
        try db.insertRows("INSERT INTO finance_lines (order_number, kind, reference, sku, quantity, unit_cents, currency, day, at)",
                          rows.lines, tail: "ON CONFLICT DO NOTHING", now: now)
        try db.insertRows("INSERT INTO finance_days (day, order_number)", rows.days, tail: "ON CONFLICT DO NOTHING", now: now)
    }

    /// Finance lines laid out for their table, and their orders (each once where its lines are together) for
    /// `finance_days`, on the inserting transaction's day.
    struct FinanceRows: Sendable {
        private(set) var lines: SQLRows
        private(set) var days: SQLRows
        private var lastOrder: String?

        init(capacity: Int) {
            lines = SQLRows(width: 9, capacity: capacity, bytesPerRow: 64)
            days = SQLRows(width: 2, capacity: capacity / 2, bytesPerRow: 16)
        }

        mutating func append(_ line: FinanceLine) {
            lines.text(line.orderNumber)
            lines.text(line.kind)
            lines.text(line.reference)
            lines.text(line.sku)
            lines.integer(Int64(line.quantity))
            lines.integer(Int64(line.unitCents))
            lines.text(line.currency)
            lines.today()
            lines.now()
            if line.orderNumber != lastOrder {  // an order twice in one statement is taken once by its ON CONFLICT
                days.today()
                days.text(line.orderNumber)
                lastOrder = line.orderNumber
            }
        }

        mutating func removeAll() {
            lines.removeAll()
            days.removeAll()
            lastOrder = nil
        }
    }

    /// Records finance lines (on the job's clock's day); ones already recorded are left as they are.
    public func recordFinance(_ lines: [FinanceLine]) throws {
        guard !lines.isEmpty else { return }
        try store.write { db in try Manifest.insert(lines, db: db, now: now()) }
    }

    /// Records the cancellation of whole sent orders: their `sent` lines, less what was despatched, as
    /// `cancelled` lines referenced by `reference`.
    public func recordCancelledOrders(_ orders: [String], reference: String) throws {
        guard !orders.isEmpty else { return }
        try store.write { db in
            var lines: [FinanceLine] = []
            for order in orders {
                let rows = try db.fetchAll(sql: """
                    SELECT kind, sku, SUM(quantity) AS quantity, MAX(unit_cents) AS unit_cents, MAX(currency) AS currency
                    FROM finance_lines WHERE order_number = ? AND kind IN ('sent', 'despatched') GROUP BY kind, sku
                    """, arguments: [order])
                var despatched: [String: Int] = [:]
                for row in rows where row["kind"] as String == "despatched" { despatched[row["sku"]] = row["quantity"] }
                for row in rows where row["kind"] as String == "sent" {
                    let left = (row["quantity"] as Int) - (despatched[row["sku"]] ?? 0)
                    guard left > 0 else { continue }
                    lines.append(FinanceLine(orderNumber: order, kind: "cancelled", reference: reference, sku: row["sku"],
                                             quantity: left, unitCents: row["unit_cents"], currency: row["currency"]))
                }
            }
            try Manifest.insert(lines, db: db, now: now())
        }
    }

    /// Every finance line of the orders that have one on `day`, with its own day.
    public func financeLines(touchingDay day: String) throws -> [(line: FinanceLine, day: String)] {
        try store.read { db in
            // `finance_days` names an order for a day when lines of it were recorded that day, even if they were all
            // there already (and so kept their first day): each order it names is checked for a line of that day.
            try db.fetchAll(sql: """
                SELECT * FROM finance_lines WHERE order_number IN (
                    SELECT d.order_number FROM finance_days d WHERE d.day = ?
                    AND EXISTS (SELECT 1 FROM finance_lines l WHERE l.order_number = d.order_number AND l.day = d.day))
                ORDER BY order_number, at
                """, arguments: [day]).map { row in
                (FinanceLine(orderNumber: row["order_number"], kind: row["kind"], reference: row["reference"], sku: row["sku"],
                             quantity: row["quantity"], unitCents: row["unit_cents"], currency: row["currency"]), row["day"])
            }
        }
    }
}
