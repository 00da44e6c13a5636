import Foundation
import GRDB
import GRDBSQLite
import CSQLiteTuning

/// SQLite's process-wide settings, applied once before the first database is opened (``SQLiteState`` and the
/// plain-file storefront's order index open theirs through it).
enum SQLiteProcess {
    /// SQLite's memory statistics off: they take one process-wide mutex per allocation, which the manifest's
    /// writer and its readers (the committing and applying threads of an import) otherwise contend for.
    /// Nothing in voxbatch reads them. SQLite's result code (`SQLITE_MISUSE` if SQLite was already in use).
    static let configured: Int32 = voxbatch_sqlite_disable_memstatus()

    /// The bytes SQLite counts as in use: stays 0 while the statistics are off.
    static var memoryCounted: Int64 { sqlite3_memory_used() }
}

/// The embedded state database: one SQLite file in WAL mode, through GRDB (readers never wait for the
/// writer; another process holding the write lock is waited for up to `busyTimeout`).
final class SQLiteState: StateDatabase {
    let pool: DatabasePool
    let path: String
    var dialect: SQLDialect { .sqlite }
    var location: String { path }

    /// `checkpointPages`: ``BackgroundCheckpointer``'s threshold and limit in pages (tests make them small); by
    /// default 4 MiB and 32 MiB of pages, whatever size the manifest's pages are.
    init(path: String, busyTimeout: Double, checkpointPages: (threshold: Int32, limit: Int32)? = nil) throws {
        self.path = path
        _ = SQLiteProcess.configured
        var config = GRDB.Configuration()
        config.busyMode = .timeout(busyTimeout)
        // A new manifest's pages are 16 KiB (SQLite's default is 4 KiB): an import's commit writes a quarter as
        // many pages to the log, and the checkpoint copies a quarter as many back (a 300,000-line despatch
        // import's system time fell from 0.42 s to 0.32 s on average; Benchmarks/README.md). Set before the pool
        // turns the log on, which creates the file; an existing manifest keeps the size it was made with.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA page_size = \(SQLiteState.pageSize)") }
        pool = try DatabasePool(path: path, configuration: config)
        // The writer's statement journals (kept so one multi-row statement can be undone alone) stay in memory:
        // in files, each batch's commit wrote them page by page to a temporary file of its own — 300,000 of the
        // 412,000 page writes of a 300,000-line despatch import. They hold the pages one statement changes.
        // Readers keep the default: a report's sort may be large.
        // The page size read on the same connection (a read would open a reader connection at every start).
        let pageSize = try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            return try Int.fetchOne(db, sql: "PRAGMA page_size")
        } ?? 4096
        let pages = checkpointPages ?? (Int32(4 << 20 / pageSize), Int32(32 << 20 / pageSize))
        checkpointer = BackgroundCheckpointer(path: path, threshold: pages.threshold, limit: pages.limit)
        pool.writeWithoutTransaction { db in checkpointer.watch(db.sqliteConnection) }
    }

    /// The page size of a manifest made new.
    static let pageSize = 16_384

    /// Copies the write-ahead log into the database, in the background while asked to (see ``BackgroundCheckpointer``).
    let checkpointer: BackgroundCheckpointer

    func checkpointInBackground(_ on: Bool) { checkpointer.inBackground = on }

    deinit {
        // The writer stops calling the checkpointer before it goes; a checkpoint under way is finished first.
        pool.writeWithoutTransaction { db in BackgroundCheckpointer.unwatch(db.sqliteConnection) }
        checkpointer.close()
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.read { db in try body(Session(db)) }
    }

    @discardableResult
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.write { db in try body(Session(db)) }
    }

    func migrate(_ migrations: [StateMigration]) throws {
        // GRDB's migrator, with the identifiers manifests created by earlier versions already carry.
        var migrator = DatabaseMigrator()
        for migration in migrations {
            migrator.registerMigration(migration.id) { db in try db.execute(sql: migration.sql) }
        }
        try migrator.migrate(pool)
    }

    /// The GRDB error as a ``StateDatabaseError`` when it is one callers act on.
    static func classify(_ error: any Error) -> StateDatabaseError.Code? {
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED: return .locked
        case .SQLITE_FULL, .SQLITE_IOERR: return .diskFull
        default: return nil
        }
    }

    final class Session: SQLSession {
        let db: Database
        init(_ db: Database) { self.db = db }
        var dialect: SQLDialect { .sqlite }

        private static func arguments(_ values: [SQLValue]) -> StatementArguments {
            StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .null: nil
                case .integer(let n): n
                case .text(let s): s
                }
            })
        }

        func execute(sql: String, arguments: [SQLValue]) throws -> Int {
            try db.execute(sql: sql, arguments: Self.arguments(arguments))
            return db.changesCount
        }

        func fetchAll(sql: String, arguments: [SQLValue]) throws -> [SQLRow] {
            let statement = try db.cachedStatement(sql: sql)
            let columns = SQLRow.Columns(statement.columnNames)
            let handle = statement.sqliteStatement
            sqlite3_reset(handle)
            defer { sqlite3_reset(handle) }
            Self.bind(arguments, to: handle)
            var rows: [SQLRow] = []
            try forEachRow(handle, columns, sql: sql) { rows.append($0) }
            return rows
        }

        /// Keys that come in ascending runs (a file sorted or grouped by order, package or SKU) are looked up a
        /// window of them at a time: one range read from the window's first key to its last, merged with the keys.
        /// A key not there then costs a comparison, where a point look-up costs a descent of the index (~5,400
        /// instructions: a sixth of a despatch import's applying thread). Short runs, and windows whose range holds
        /// many other keys (a few SKUs of a large catalogue), are looked up a key at a time, one statement prepared
        /// once and each key bound in place.
        func lookUp(_ lookup: KeyLookup, keys: [String], _ found: (Int, SQLRow) throws -> Void) throws {
            let pointSQL = lookup.pointSQL, rangeSQL = lookup.rangeSQL
            let point = try db.cachedStatement(sql: pointSQL).sqliteStatement
            let range = try db.cachedStatement(sql: rangeSQL).sqliteStatement
            let columns = SQLRow.Columns(lookup.columns)
            for handle in [point, range] {
                sqlite3_reset(handle)
                Self.bind(lookup.arguments, to: handle)
            }
            defer {
                for handle in [point, range] {
                    sqlite3_reset(handle)
                    sqlite3_clear_bindings(handle)
                }
            }
            let keyIndex = Int32(lookup.arguments.count + 1)
            sqlite3_bind_int64(range, keyIndex + 2, Int64(Self.windowRows + 1))
            var matches: [(Int, SQLRow)] = []
            var pointsOnly = 0  // windows left to look up key by key, after one whose range held too many rows
            var start = 0
            while start < keys.count {
                var end = start + 1
                while end < keys.count, end - start < Self.window, Self.compareBytes(keys[end - 1], keys[end]) < 0 { end += 1 }
                if end - start >= Self.shortestRun, pointsOnly == 0 {
                    matches.removeAll(keepingCapacity: true)
                    if try lookUpRange(range, keyIndex, keys, start..<end, columns, sql: rangeSQL, into: &matches) {
                        for (i, row) in matches { try found(i, row) }
                        start = end
                        continue
                    }
                    pointsOnly = Self.windowsAfterACrowdedOne
                } else if pointsOnly > 0 {
                    pointsOnly -= 1
                }
                for i in start..<end {
                    var key = keys[i]
                    try key.withUTF8 { bytes in
                        defer { sqlite3_reset(point) }
                        Self.bindStatic(point, keyIndex, bytes, 0, bytes.count)
                        try forEachRow(point, columns, sql: pointSQL) { try found(i, $0) }
                    }
                }
                start = end
            }
        }

        /// At most this many ascending keys a range read; a range holding more than `windowRows` rows is given up, and
        /// the next `windowsAfterACrowdedOne` windows are looked up key by key; runs shorter than `shortestRun` always are.
        static let window = 64, windowRows = 256, shortestRun = 8, windowsAfterACrowdedOne = 8

        /// Reads the rows from `keys[window.first]` to `keys[window.last]` (ascending) and adds those whose key is one
        /// of the window's to `matches`; false when the range holds more than ``windowRows`` rows (nothing added).
        private func lookUpRange(_ handle: OpaquePointer, _ keyIndex: Int32, _ keys: [String], _ window: Range<Int>,
                                 _ columns: SQLRow.Columns, sql: String, into matches: inout [(Int, SQLRow)]) throws -> Bool {
            var low = keys[window.lowerBound], high = keys[window.upperBound - 1]
            return try low.withUTF8 { low in
                try high.withUTF8 { high in
                    defer { sqlite3_reset(handle) }
                    Self.bindStatic(handle, keyIndex, low, 0, low.count)
                    Self.bindStatic(handle, keyIndex + 1, high, 0, high.count)
                    var next = window.lowerBound, rows = 0
                    while true {
                        let code = sqlite3_step(handle)
                        if code == SQLITE_DONE { return true }
                        guard code == SQLITE_ROW else { throw failure(code, sql: sql) }
                        rows += 1
                        if rows > Self.windowRows {
                            matches.removeAll(keepingCapacity: true)
                            return false
                        }
                        let bytes = sqlite3_column_blob(handle, 0)?.assumingMemoryBound(to: UInt8.self)
                        let found = UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, 0)))
                        // Both in byte order (SQLite's BINARY collation): the keys before this row's are not there.
                        var order: Int32 = -1
                        while next < window.upperBound {
                            order = Self.compareBytes(keys[next], found)
                            if order >= 0 { break }
                            next += 1
                        }
                        guard next < window.upperBound else { return true }
                        if order == 0 {
                            matches.append((next, Self.row(handle, columns, from: 1)))
                            next += 1
                        }
                    }
                }
            }
        }

        /// `a` against `b` byte by byte, as SQLite's BINARY collation orders text: < 0, 0 or > 0.
        static func compareBytes(_ a: String, _ b: String) -> Int32 {
            var b = b
            return b.withUTF8 { compareBytes(a, $0) }
        }

        static func compareBytes(_ a: String, _ b: UnsafeBufferPointer<UInt8>) -> Int32 {
            var a = a
            return a.withUTF8 { a in
                let common = min(a.count, b.count)
                if common > 0, let x = a.baseAddress, let y = b.baseAddress {
                    let order = memcmp(x, y, common)
                    if order != 0 { return order }
                }
                return a.count < b.count ? -1 : a.count > b.count ? 1 : 0
            }
        }

        /// Steps `handle` to its end, handing each row to `body`.
        private func forEachRow(_ handle: OpaquePointer, _ columns: SQLRow.Columns, sql: String,
                                _ body: (SQLRow) throws -> Void) throws {
            while true {
                let code = sqlite3_step(handle)
                if code == SQLITE_DONE { break }
                guard code == SQLITE_ROW else { throw failure(code, sql: sql) }
                try body(Self.row(handle, columns, from: 0))
            }
        }

        /// The row `handle` is on, from column `first`.
        private static func row(_ handle: OpaquePointer, _ columns: SQLRow.Columns, from first: Int32) -> SQLRow {
            let width = sqlite3_column_count(handle)
            var values: [SQLValue] = []
            values.reserveCapacity(Int(width - first))
            for column in first..<width {
                switch sqlite3_column_type(handle, column) {
                case SQLITE_NULL: values.append(.null)
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, column)))
                case SQLITE_FLOAT: values.append(.integer(Int64(sqlite3_column_double(handle, column))))
                default:  // TEXT (and BLOB, read as UTF-8 text)
                    let count = Int(sqlite3_column_bytes(handle, column))
                    if let bytes = sqlite3_column_blob(handle, column), count > 0 {
                        values.append(.text(String(decoding: UnsafeRawBufferPointer(start: bytes, count: count), as: UTF8.self)))
                    } else {
                        values.append(.text(""))
                    }
                }
            }
            return SQLRow(columns: columns, values: values)
        }

        /// One statement, run once per row: prepared once (GRDB's cache) and bound straight through SQLite's
        /// C API — a batch of a few thousand rows spends its time in SQLite, not in converting arguments.
        func executeMany(sql: String, _ rows: [[SQLValue]]) throws {
            guard !rows.isEmpty else { return }
            let handle = try db.cachedStatement(sql: sql).sqliteStatement
            defer { sqlite3_reset(handle) }
            for row in rows {
                sqlite3_reset(handle)
                Self.bind(row, to: handle)
                let code = sqlite3_step(handle)
                guard code == SQLITE_DONE || code == SQLITE_ROW else { throw failure(code, sql: sql) }
            }
        }

        /// Binds each statement's values straight from the rows' buffer, which SQLite reads in place (no copy of
        /// each text into a value of its own, to free again at the next row).
        func insertRows(_ head: String, _ rows: SQLRows, tail: String, now: Int64) throws {
            let count = rows.count, width = rows.width, perStatement = 200
            guard count > 0 else { return }
            var today = Manifest.day(now)
            let fullSQL = Self.insertSQL(head, width: width, rows: perStatement, tail: tail)
            try rows.bytes.withUnsafeBufferPointer { bytes in
                try today.withUTF8 { day in
                    var row = 0
                    while row < count {
                        let n = min(perStatement, count - row)
                        let sql = n == perStatement ? fullSQL : Self.insertSQL(head, width: width, rows: n, tail: tail)
                        let handle = try db.cachedStatement(sql: sql).sqliteStatement
                        // Its parameters point into `bytes` and `day` only while these run: cleared before they go.
                        defer {
                            sqlite3_reset(handle)
                            sqlite3_clear_bindings(handle)
                        }
                        for j in 0..<(n * width) {
                            let index = Int32(j + 1)
                            switch rows.values[row * width + j] {
                            case .null: sqlite3_bind_null(handle, index)
                            case .integer(let value): sqlite3_bind_int64(handle, index, value)
                            case .now: sqlite3_bind_int64(handle, index, now)
                            case .text(let start, let length): Self.bindStatic(handle, index, bytes, Int(start), Int(length))
                            case .today: Self.bindStatic(handle, index, day, 0, day.count)
                            }
                        }
                        let code = sqlite3_step(handle)
                        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw failure(code, sql: sql) }
                        row += n
                    }
                }
            }
        }

        /// Binds `count` bytes of `buffer` from `start` as text SQLite reads in place (valid until the statement is
        /// reset); an empty text is bound as such, never as NULL.
        private static func bindStatic(_ handle: OpaquePointer, _ index: Int32, _ buffer: UnsafeBufferPointer<UInt8>,
                                       _ start: Int, _ count: Int) {
            if count > 0, let base = buffer.baseAddress {
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    _ = sqlite3_bind_text(handle, index, $0 + start, Int32(count), nil)  // nil: SQLITE_STATIC
                }
            } else {
                sqlite3_bind_text(handle, index, "", 0, transient)
            }
        }

        /// Binds `values` to the statement's parameters 1...n (text is copied by SQLite).
        private static func bind(_ values: [SQLValue], to handle: OpaquePointer) {
            for (i, value) in values.enumerated() {
                let index = Int32(i + 1)
                switch value {
                case .null: sqlite3_bind_null(handle, index)
                case .integer(let n): sqlite3_bind_int64(handle, index, n)
                case .text(var text):
                    _ = text.withUTF8 { bytes in
                        // An empty buffer may have no address, and a null pointer would bind NULL.
                        if let base = bytes.baseAddress {
                            sqlite3_bind_text(handle, index, base, Int32(bytes.count), transient)
                        } else {
                            sqlite3_bind_text(handle, index, "", 0, nil)
                        }
                    }
                }
            }
        }

        /// SQLite's error for a failed step, as GRDB reports it (so ``SQLiteState/classify(_:)`` reads it).
        private func failure(_ code: Int32, sql: String) -> DatabaseError {
            DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                          sql: sql)
        }

        /// SQLite copies the bound bytes (SQLITE_TRANSIENT).
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    }
}

/// Checkpoints the manifest's write-ahead log: in the commit that crossed SQLite's threshold, as SQLite's own
/// automatic checkpoint does (which this replaces on the writer), or, while ``inBackground`` (an inbound file's
/// batches are being committed), on a thread and a connection of its own.
///
/// A checkpoint copies the log's pages into the database file and syncs both. Done by the writer, it sat on the
/// thread every batch of an import waits for: in a 300,000-line despatch import the commits took 1.60-1.77 s
/// with it and 1.45-1.55 s without (Benchmarks/README.md). In the background it runs beside the next commit (a
/// passive checkpoint blocks neither the writer nor readers). It is not the default: its connection and thread
/// cost an order export 2.8 MiB, and a job that commits from one thread gains nothing by it.
///
/// A writer whose next commit is already waiting starts it before the last one's checkpoint has finished, and then
/// goes on appending to the log instead of starting it again from its beginning. So past ``limit`` pages the
/// writer waits for a checkpoint after its commit: the log is then wholly in the database, and the next
/// transaction starts it again. The log stays under about ``limit`` pages (32 MiB) however large the file.
///
/// Either way it is SQLite's own checkpoint: a killed process leaves the log, which the next open reads, as before.
/// One that cannot run now (a reader on an old snapshot, a full disk) is tried again after the next commit.
final class BackgroundCheckpointer: @unchecked Sendable {
    /// Log pages after a commit from which a checkpoint is asked for (SQLite's own automatic threshold).
    let threshold: Int32
    /// Log pages after a commit from which the writer waits for the checkpoint.
    let limit: Int32
    private let path: String
    private let queue = DispatchQueue(label: "voxbatch.manifest.checkpoint")
    private let lock = NSLock()
    private var requested = false
    private var background = false
    private var connection: OpaquePointer?  // used on `queue` only

    init(path: String, threshold: Int32, limit: Int32) {
        self.path = path
        self.threshold = threshold
        self.limit = limit
    }

    /// Whether checkpoints run in the background (else in the commit, on the writer's connection).
    var inBackground: Bool {
        get { lock.withLock { background } }
        set { lock.withLock { background = newValue } }
    }

    /// Replaces `writer`'s automatic checkpoint with this one. ``unwatch(_:)`` before this object goes.
    func watch(_ writer: OpaquePointer?) {
        sqlite3_wal_hook(writer, { context, writer, _, pages in
            guard let context else { return SQLITE_OK }
            let checkpointer = Unmanaged<BackgroundCheckpointer>.fromOpaque(context).takeUnretainedValue()
            guard pages >= checkpointer.threshold else { return SQLITE_OK }
            if !checkpointer.inBackground {
                sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)  // as SQLite's own
            } else if pages >= checkpointer.limit {
                checkpointer.checkpointNow()
            } else {
                checkpointer.request()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    static func unwatch(_ writer: OpaquePointer?) {
        sqlite3_wal_hook(writer, nil, nil)
    }

    /// Asks for a checkpoint; one already waiting to run covers this one.
    func request() {
        let start = lock.withLock {
            defer { requested = true }
            return !requested
        }
        guard start else { return }
        queue.async { [self] in
            lock.withLock { requested = false }
            checkpoint()
        }
    }

    /// Checkpoints before returning, after any checkpoint under way.
    func checkpointNow() {
        queue.sync { checkpoint() }
    }

    private func checkpoint() {
        if connection == nil {
            var opened: OpaquePointer?
            // A connection finds the log when it first reads; until then a checkpoint on it does nothing.
            guard sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
                  sqlite3_exec(opened, "PRAGMA schema_version", nil, nil, nil) == SQLITE_OK
            else {
                sqlite3_close_v2(opened)
                return  // tried again after the next commit
            }
            connection = opened
        }
        sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
    }

    /// Returns once no checkpoint is under way or asked for.
    func waitUntilIdle() {
        queue.sync {}
    }

    /// Waits for a checkpoint under way, then closes the connection.
    func close() {
        queue.sync {
            sqlite3_close_v2(connection)
            connection = nil
        }
    }
}
