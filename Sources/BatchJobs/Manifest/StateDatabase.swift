import Crypto
import Foundation

/// The first 8 bytes of `text`'s SHA-256 as a big-endian signed integer: a 64-bit key fixed by its definition,
/// not by the code of the day (PostgreSQL advisory locks, the order events' unique index).
func sha256Key(_ text: String) -> Int64 {
    var text = text
    return text.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }.prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
}

/// A value bound to a statement or read from a row.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
}

/// What can be bound to a statement's `?`.
public protocol SQLBindable {
    var sqlValue: SQLValue { get }
}

extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Int32: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }

/// The arguments of a statement, in `?` order; `nil` binds NULL.
public typealias SQLArguments = [(any SQLBindable)?]

extension Array where Element == (any SQLBindable)? {
    var sqlValues: [SQLValue] { map { $0?.sqlValue ?? .null } }
}

/// What can be read from a row's column.
public protocol SQLReadable {
    init?(sqlValue: SQLValue)
}

extension String: SQLReadable {
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .text(let s): self = s
        case .integer(let n): self = String(n)
        case .null: return nil
        }
    }
}

extension Int64: SQLReadable {
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .integer(let n): self = n
        case .text(let s): guard let n = Int64(s) else { return nil }; self = n
        case .null: return nil
        }
    }
}

extension Int: SQLReadable {
    public init?(sqlValue: SQLValue) {
        guard let n = Int64(sqlValue: sqlValue) else { return nil }
        self = Int(n)
    }
}

/// One row of a result: its values by column name.
public struct SQLRow {
    /// Column name → index, shared by the rows of one result.
    final class Columns {
        let index: [String: Int]
        init(_ names: [String]) {
            var index: [String: Int] = [:]
            for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
            self.index = index
        }
    }

    let columns: Columns
    let values: [SQLValue]

    /// The raw value of a column (`.null` for a column the result does not have).
    public func value(_ column: String) -> SQLValue {
        columns.index[column].map { values[$0] } ?? .null
    }

    /// A column that is never NULL. A NULL or a missing column is a programming error (as in GRDB).
    public subscript<T: SQLReadable>(_ column: String) -> T {
        guard let value = T(sqlValue: value(column)) else {
            preconditionFailure("column \(column) is NULL, missing or not a \(T.self)")
        }
        return value
    }

    /// A column that may be NULL.
    public subscript<T: SQLReadable>(_ column: String) -> T? {
        T(sqlValue: value(column))
    }
}

/// How the engines differ where the manifest's SQL cannot be written once.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres

    /// The column that orders a table's rows by insertion where the table has no id of its own.
    var insertionOrder: String { self == .sqlite ? "rowid" : "seq" }
}

/// One transaction's (or one snapshot's) view of the state database. SQL is written once with `?`
/// placeholders, in the common subset of SQLite and PostgreSQL (`INSERT … ON CONFLICT`, `RETURNING`,
/// partial indexes); each backend binds it its own way.
public protocol SQLSession: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs a statement; returns how many rows it changed.
    @discardableResult
    func execute(sql: String, arguments: [SQLValue]) throws -> Int
    /// Runs a query and returns its rows.
    func fetchAll(sql: String, arguments: [SQLValue]) throws -> [SQLRow]
    /// Runs one statement once per set of arguments (a batch of inserts): prepared once, sent as cheaply
    /// as the engine allows.
    func executeMany(sql: String, _ rows: [[SQLValue]]) throws
    /// Inserts `rows` with `INSERT … VALUES (…),(…),… <tail>`, many rows a statement (SQLite: 200, bound in place;
    /// otherwise 50), their `now` and `today` values being `now` and its day (see ``SQLRows``).
    func insertRows(_ head: String, _ rows: SQLRows, tail: String, now: Int64) throws
    /// Finds `keys` in `lookup`'s table and hands `found` each row found with the key's position in `keys` (a key
    /// given twice: each time). The row holds `lookup.columns`.
    func lookUp(_ lookup: KeyLookup, keys: [String], _ found: (Int, SQLRow) throws -> Void) throws
}

/// Rows looked up by a text key — `SELECT columns FROM table WHERE filter AND keyColumn = key` for each of many keys
/// — in whichever way the engine does best (``SQLSession/lookUp(_:keys:_:)``). `keyColumn` is the last column of an
/// index whose other columns `filter` fixes.
public struct KeyLookup: Sendable {
    let table: String
    let keyColumn: String
    let columns: [String]
    /// The condition on the index's leading columns, with `?` for `arguments`.
    let filter: String
    let arguments: [SQLValue]

    /// One key.
    var pointSQL: String {
        "SELECT \(columns.joined(separator: ", ")) FROM \(table) WHERE \(filter) AND \(keyColumn) = ?"
    }

    /// The rows from one key to another (both included), the key first, in the index's order, at most a number.
    var rangeSQL: String {
        "SELECT \(keyColumn), \(columns.joined(separator: ", ")) FROM \(table) WHERE \(filter) AND \(keyColumn) >= ? "
            + "AND \(keyColumn) <= ? ORDER BY \(keyColumn) LIMIT ?"
    }

    /// The keys of a list (`?, ?, …`), the key first.
    func inListSQL(_ marks: String) -> String {
        "SELECT \(keyColumn), \(columns.joined(separator: ", ")) FROM \(table) WHERE \(filter) AND \(keyColumn) IN (\(marks))"
    }
}

/// Rows of values for a multi-row insert, laid out once — possibly on another thread than the one that runs the
/// insert — and bound when it runs: the texts' bytes in one buffer, each value a small descriptor (no string or
/// array a value to copy, retain and free again). `now` and `today` stand for the time of the transaction that
/// inserts them (its clock's seconds, and their UTC day), filled in then.
public struct SQLRows: Sendable {
    /// 16 bytes a value.
    enum Value: Sendable {
        case null, integer(Int64), text(start: Int32, count: Int32), now, today
    }
    let width: Int
    private(set) var values: [Value] = []
    private(set) var bytes: [UInt8] = []

    init(width: Int, capacity rows: Int, bytesPerRow: Int) {
        self.init(width: width, capacity: rows, bytes: rows * bytesPerRow)
    }

    /// Room for `rows` rows whose texts take `bytes` bytes in all.
    init(width: Int, capacity rows: Int, bytes: Int) {
        self.width = width
        values.reserveCapacity(rows * width)
        self.bytes.reserveCapacity(bytes)
    }

    /// How many rows there are.
    var count: Int { values.count / width }

    mutating func text(_ text: String) {
        var text = text
        let start = bytes.count
        text.withUTF8 { bytes.append(contentsOf: $0) }
        values.append(.text(start: Int32(start), count: Int32(bytes.count - start)))
    }

    /// Empties it for the next rows, keeping its room.
    mutating func removeAll() {
        values.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func integer(_ value: Int64) { values.append(.integer(value)) }
    mutating func text(orNull text: String?) { if let text { self.text(text) } else { values.append(.null) } }
    /// The inserting transaction's time (seconds), and its UTC day (`yyyy-MM-dd`).
    mutating func now() { values.append(.now) }
    mutating func today() { values.append(.today) }

    /// Value `i` as a ``SQLValue``, for an engine that binds them one by one.
    func sqlValue(_ i: Int, now: Int64, today: String) -> SQLValue {
        switch values[i] {
        case .null: .null
        case .integer(let n): .integer(n)
        case .text(let start, let count): .text(String(decoding: bytes[Int(start)..<Int(start + count)], as: UTF8.self))
        case .now: .integer(now)
        case .today: .text(today)
        }
    }
}

extension SQLSession {
    /// By default (a server): 500 keys a round trip, in an `IN` list.
    func lookUp(_ lookup: KeyLookup, keys: [String], _ found: (Int, SQLRow) throws -> Void) throws {
        let columns = SQLRow.Columns(lookup.columns)
        var start = 0  // where the list's keys begin in `keys`
        try Manifest.inLists(keys) { slice, marks in
            defer { start += slice.count }
            var positions: [String: [Int]] = [:]
            for (i, key) in slice.enumerated() { positions[key, default: []].append(start + i) }
            // Arguments as values, not as `SQLBindable`s: a page of keys is 500 of them, each a dynamic cast.
            for row in try fetchAll(sql: lookup.inListSQL(marks), arguments: lookup.arguments + slice.map(SQLValue.text)) {
                guard let key = String(sqlValue: row.values[0]) else { continue }  // by position: the key is first
                for i in positions[key] ?? [] { try found(i, SQLRow(columns: columns, values: Array(row.values.dropFirst()))) }
            }
        }
    }

    /// By default, through ``insertRows(_:width:count:tail:perStatement:row:)``.
    func insertRows(_ head: String, _ rows: SQLRows, tail: String, now: Int64) throws {
        let today = Manifest.day(now)
        try insertRows(head, width: rows.width, count: rows.count, tail: tail) { i, values in
            for v in (i * rows.width)..<((i + 1) * rows.width) { values.append(rows.sqlValue(v, now: now, today: today)) }
        }
    }

    /// The statement `head VALUES (?, …), … tail` for `rows` rows of `width` values.
    static func insertSQL(_ head: String, width: Int, rows: Int, tail: String) -> String {
        let one = "(" + Array(repeating: "?", count: width).joined(separator: ", ") + ")"
        return head + " VALUES " + Array(repeating: one, count: rows).joined(separator: ", ") + (tail.isEmpty ? "" : " " + tail)
    }

    /// Inserts `count` rows of `width` values with `INSERT … VALUES (…),(…),… <tail>`, `perStatement` rows a
    /// statement: one statement step per 50 rows instead of one per row (a million-row batch of upserts in
    /// SQLite: 1.85 s → 1.04 s measured from Python). `row(i, &values)` appends the i-th row's values.
    ///
    /// The rows of one statement must not conflict with each other on a key an `ON CONFLICT DO UPDATE` tail
    /// targets (PostgreSQL refuses to update one row twice in a statement): callers give distinct keys.
    func insertRows(_ head: String, width: Int, count: Int, tail: String = "", perStatement: Int = 50,
                    row: (Int, inout [SQLValue]) -> Void) throws {
        guard count > 0 else { return }
        func sql(_ rows: Int) -> String { Self.insertSQL(head, width: width, rows: rows, tail: tail) }
        // Run a thousand rows at a time: a batch's values are never all held at once (a 10,000-row batch of
        // nine columns would hold 2 MiB of them).
        var i = 0
        func values(_ size: Int) -> [SQLValue] {
            var values: [SQLValue] = []
            values.reserveCapacity(size * width)
            for _ in 0..<size {
                row(i, &values)
                i += 1
            }
            return values
        }
        let full = count / perStatement, rest = count % perStatement
        let fullSQL = sql(perStatement), statementsPerCall = max(1, 1_000 / perStatement)
        var statements: [[SQLValue]] = []
        for n in 0..<full {
            statements.append(values(perStatement))
            if statements.count == statementsPerCall || n == full - 1 {
                try executeMany(sql: fullSQL, statements)
                statements.removeAll(keepingCapacity: true)
            }
        }
        if rest > 0 { try executeMany(sql: sql(rest), [values(rest)]) }
    }

    @discardableResult
    func execute(sql: String, arguments: SQLArguments = []) throws -> Int {
        try execute(sql: sql, arguments: arguments.sqlValues)
    }

    func fetchAll(sql: String, arguments: SQLArguments = []) throws -> [SQLRow] {
        try fetchAll(sql: sql, arguments: arguments.sqlValues)
    }

    func fetchOne(sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
        try fetchAll(sql: sql, arguments: arguments.sqlValues).first
    }

    /// The first column of each row.
    func fetchColumn<T: SQLReadable>(sql: String, arguments: SQLArguments = [], as: T.Type = T.self) throws -> [T] {
        try fetchAll(sql: sql, arguments: arguments.sqlValues).compactMap { $0.values.first.flatMap(T.init(sqlValue:)) }
    }

    /// The first column of the first row.
    func fetchValue<T: SQLReadable>(sql: String, arguments: SQLArguments = [], as: T.Type = T.self) throws -> T? {
        try fetchAll(sql: sql, arguments: arguments.sqlValues).first?.values.first.flatMap(T.init(sqlValue:))
    }

    /// Inserts a row and returns its `id` (`INSERT … RETURNING id`).
    func insertReturningID(sql: String, arguments: SQLArguments) throws -> Int64 {
        guard let id: Int64 = try fetchValue(sql: sql + " RETURNING id", arguments: arguments) else {
            throw StateDatabaseError(code: .other, message: "an insert returned no id")
        }
        return id
    }
}

/// One step of the schema, applied once per database in order. `sql` is written for SQLite; PostgreSQL
/// gets it translated (``PostgresState/translateSchema(_:)``) plus `postgresExtra`.
struct StateMigration {
    let id: String
    let sql: String
    var postgresExtra: String? = nil
    /// A change of SQLite's table layout alone: PostgreSQL records it as applied without running it.
    var sqliteOnly = false
}

/// Where a client's manifest lives: a transactional SQL database.
protocol StateDatabase: AnyObject, Sendable {
    var dialect: SQLDialect { get }
    /// Where it is, for messages (never with a password).
    var location: String { get }
    /// Runs `body` in a read-only snapshot.
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// Runs `body` in one transaction: all of it is committed, or none of it.
    @discardableResult
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// Applies the migrations not yet applied.
    func migrate(_ migrations: [StateMigration]) throws
    /// Whether the database's housekeeping after commits (SQLite's checkpoints) runs beside them rather than in
    /// them, for a job whose commits are its critical path (an inbound file's batches).
    func checkpointInBackground(_ on: Bool)
}

extension StateDatabase {
    func checkpointInBackground(_ on: Bool) {}  // PostgreSQL: its server does it
}

/// A state database failure that callers act on by kind.
public struct StateDatabaseError: Error, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Another process holds what is needed (a lock, a conflicting transaction).
        case locked
        /// The disk under the database is full.
        case diskFull = "disk-full"
        /// The database server cannot be reached or dropped the connection.
        case unreachable
        /// The server refused the credentials or the TLS certificate.
        case refused
        case other
    }

    public let code: Code
    public let message: String
    /// The engine's own code (SQLSTATE for PostgreSQL).
    public var engineCode: String?

    public init(code: Code, message: String, engineCode: String? = nil) {
        self.code = code
        self.message = message
        self.engineCode = engineCode
    }

    public var description: String { message + (engineCode.map { " (SQLSTATE \($0))" } ?? "") }
}
