import CSVKit
import Foundation

/// The manifest: every file, every applied record, every open problem and every run, so a job that runs
/// twice, a file dropped twice or a crash half-way neither duplicates nor loses anything. It lives in an
/// embedded SQLite file (WAL mode, through GRDB) or, for fleets, in a client's schema in PostgreSQL.
///
/// The rule that makes crashes safe: a record's idempotency key is written in the same transaction as
/// the file's progress (``commit(file:records:)``), so after a crash either both are there or neither.
/// Where a manifest lives.
public enum StateLocation: Sendable, Hashable {
    /// An embedded SQLite file (the default: `STATE/manifest.sqlite`).
    case sqlite(path: String)
    /// A client's schema in a PostgreSQL database.
    case postgres(PostgresSettings)
}

public final class Manifest: Sendable {
    let store: any StateDatabase
    /// Where the manifest is (a file path, or the PostgreSQL server and schema; never a password).
    public let path: String
    /// The time rows are stamped with: the job's clock, so that a job on simulated time (the demo, tests)
    /// compares like with like. Called from whichever thread uses the manifest.
    nonisolated(unsafe) public let clock: () -> Date

    /// Opens (creating and migrating if needed) the SQLite manifest at `path`.
    ///
    /// - Throws: GRDB's `DatabaseError` when the file cannot be opened (locked, read-only, corrupt).
    ///
    /// - Parameters:
    ///   - busyTimeout: How long to wait for another process holding the write lock (seconds).
    ///   - clock: The time to stamp rows with.
    public convenience init(path: String, busyTimeout: Double = 10, clock: @escaping () -> Date) throws {
        try self.init(location: .sqlite(path: path), busyTimeout: busyTimeout, clock: clock)
    }

    /// Opens (creating and migrating if needed) the manifest at `location`.
    ///
    /// - Throws: GRDB's `DatabaseError` for an unusable SQLite file, ``StateDatabaseError`` for an
    ///   unreachable or refusing PostgreSQL server.
    public init(location: StateLocation, busyTimeout: Double = 10, clock: @escaping () -> Date) throws {
        self.clock = clock
        switch location {
        case .sqlite(let path):
            store = try SQLiteState(path: path, busyTimeout: busyTimeout)
        case .postgres(let settings):
            store = try PostgresState(settings: settings)
        }
        path = store.location
        try store.migrate(Manifest.migrations)
        try hashEarlierEvents()
    }

    /// The engine the manifest is in.
    public var engine: String { store.dialect.rawValue }

    static let migrations: [StateMigration] = [
        StateMigration(id: "v1", sql: """
            CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, started INTEGER NOT NULL,
                finished INTEGER, outcome TEXT, applied INTEGER NOT NULL DEFAULT 0,
                skipped INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, error TEXT);
            CREATE TABLE files (
                id INTEGER PRIMARY KEY AUTOINCREMENT, flow TEXT NOT NULL, name TEXT NOT NULL,
                size INTEGER NOT NULL, modified INTEGER NOT NULL, sha256 TEXT NOT NULL,
                first_seen INTEGER NOT NULL, status TEXT NOT NULL, applied INTEGER NOT NULL DEFAULT 0,
                skipped INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, error_report TEXT,
                run_id INTEGER REFERENCES runs(id));
            CREATE INDEX files_by_hash ON files(flow, sha256);
            CREATE INDEX files_by_name ON files(flow, name);
            CREATE TABLE records (
                flow TEXT NOT NULL, key TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL,
                file_id INTEGER REFERENCES files(id), PRIMARY KEY (flow, key));
            CREATE TABLE exceptions (
                id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, reference TEXT NOT NULL,
                message TEXT NOT NULL, owner TEXT NOT NULL, first_seen INTEGER NOT NULL,
                last_seen INTEGER NOT NULL, occurrences INTEGER NOT NULL DEFAULT 1,
                status TEXT NOT NULL DEFAULT 'open', resolution_note TEXT);
            CREATE UNIQUE INDEX open_exception ON exceptions(kind, reference) WHERE status = 'open';
            """,
            // PostgreSQL tables have no rowid: the records' insertion order is a column there; and the
            // records of a file are found by an index (SQLite scans, files being few per flow).
            postgresExtra: "ALTER TABLE records ADD COLUMN seq BIGSERIAL; CREATE INDEX records_by_file ON records(file_id);"),
        StateMigration(id: "v2", sql: """
            CREATE TABLE warehouse_items (item_code TEXT PRIMARY KEY, source TEXT NOT NULL, seen INTEGER NOT NULL);
            CREATE TABLE order_states (
                order_number TEXT PRIMARY KEY, state TEXT NOT NULL, state_date TEXT NOT NULL, updated INTEGER NOT NULL);
            CREATE INDEX open_exceptions_by_reference ON exceptions(reference) WHERE status = 'open';
            """),
        StateMigration(id: "v3", sql: """
            CREATE TABLE order_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT, order_number TEXT NOT NULL, kind TEXT NOT NULL,
                detail TEXT NOT NULL, file TEXT, at INTEGER NOT NULL);
            CREATE UNIQUE INDEX order_events_once ON order_events(order_number, kind, detail);
            """),
        StateMigration(id: "v4", sql: "CREATE TABLE incidents (key TEXT PRIMARY KEY, title TEXT NOT NULL, opened INTEGER NOT NULL)"),
        financeMigration,
        wairMigration,
        wairTransfersMigration,
        // An event is once per order, kind and detail; the index that says so held each detail a second time
        // (a despatch's is ~120 bytes: 169 bytes of index per package, 17 of the 131 MB a 300,000-line despatch
        // import added to the manifest).
        // It holds the detail's 64-bit hash instead (``eventHash(_:)``); earlier rows get theirs when the
        // manifest is next opened (``hashEarlierEvents()``), before anything can insert an event.
        StateMigration(id: "v8-event-hashes", sql: """
            ALTER TABLE order_events ADD COLUMN detail_hash INTEGER;
            DROP INDEX order_events_once;
            CREATE UNIQUE INDEX order_events_once_by_hash ON order_events(order_number, kind, detail_hash);
            CREATE TABLE event_hashes_pending (after INTEGER NOT NULL);
            INSERT INTO event_hashes_pending (after) VALUES (0);
            """),
        financeDaysMigration,
        financeLinesByKeyMigration,
    ]

    /// Whether `error` says another process holds the manifest's lock (SQLite busy or locked, a
    /// PostgreSQL lock or serialization conflict).
    public static func isLocked(_ error: any Error) -> Bool { code(of: error) == .locked }

    /// Whether `error` says the disk is full (or a file-size limit was reached) under the manifest.
    public static func isDiskFull(_ error: any Error) -> Bool { code(of: error) == .diskFull }

    /// What a state database failure means, whichever engine raised it.
    private static func code(of error: any Error) -> StateDatabaseError.Code? {
        SQLiteState.classify(error) ?? (error as? StateDatabaseError)?.code
    }

    /// ` WHERE a = ? AND b = ?` for the filters that are set (a nil value: not filtered), and their arguments.
    private static func filter(_ filters: [(column: String, value: (any SQLBindable)?)]) -> (sql: String, arguments: SQLArguments) {
        let set = filters.filter { $0.value != nil }
        guard !set.isEmpty else { return ("", []) }
        return (" WHERE " + set.map { $0.column + " = ?" }.joined(separator: " AND "), set.map(\.value))
    }

    /// Reads in a snapshot (for extensions in this module).
    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T { try store.read(body) }

    /// Writes in a transaction (for extensions in this module).
    @discardableResult
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T { try store.write(body) }

    /// The current time in Unix seconds, by the manifest's clock.
    func now() -> Int64 { Int64(clock().timeIntervalSince1970) }

    // MARK: - Runs

    /// While `on`, SQLite's checkpoints run beside the commits instead of in them (``BackgroundCheckpointer``):
    /// for an inbound file, whose batch commits are the job's critical path. PostgreSQL: nothing changes.
    public func checkpointInBackground(_ on: Bool) { store.checkpointInBackground(on) }

    /// Records the start of a job run and returns its id.
    public func startRun(job: String) throws -> Int64 {
        try store.write { db in
            try db.insertReturningID(sql: "INSERT INTO runs (job, started) VALUES (?, ?)", arguments: [job, now()])
        }
    }

    /// Records the end of a run.
    public func finishRun(_ id: Int64, outcome: String, applied: Int, skipped: Int, failed: Int, error: String? = nil)
        throws
    {
        try store.write { db in
            try db.execute(sql: """
                UPDATE runs SET finished = ?, outcome = ?, applied = ?, skipped = ?, failed = ?, error = ? WHERE id = ?
                """, arguments: [now(), outcome, applied, skipped, failed, error, id])
        }
    }

    /// The most recent runs, newest first.
    public func recentRuns(job: String? = nil, limit: Int = 20) throws -> [RunEntry] {
        try store.read { db in
            let filter = Manifest.filter([("job", job)])
            return try db.fetchAll(sql: "SELECT * FROM runs\(filter.sql) ORDER BY id DESC LIMIT ?", arguments: filter.arguments + [limit])
                .map(Manifest.runEntry)
        }
    }

    /// Runs started since `since` (seconds since 1970), oldest first.
    public func runs(since: Int64) throws -> [RunEntry] {
        try store.read { db in
            try db.fetchAll(sql: "SELECT * FROM runs WHERE started >= ? ORDER BY id", arguments: [since])
                .map(Manifest.runEntry)
        }
    }

    private static func runEntry(_ r: SQLRow) -> RunEntry {
        RunEntry(id: r["id"], job: r["job"], started: r["started"], finished: r["finished"], outcome: r["outcome"],
                 applied: r["applied"], skipped: r["skipped"], failed: r["failed"], error: r["error"])
    }

    // MARK: - Files

    /// Records a file and returns its id.
    public func addFile(flow: String, name: String, size: Int64, modified: Int64, sha256: String,
                        status: FileStatus, runID: Int64?) throws -> Int64 {
        try store.write { db in
            try db.insertReturningID(sql: """
                INSERT INTO files (flow, name, size, modified, sha256, first_seen, status, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [flow, name, size, modified, sha256, now(), status.rawValue, runID])
        }
    }

    /// The earlier file of `flow` with the same content, if any (a duplicate drop under any name).
    public func file(flow: String, sha256: String) throws -> FileEntry? {
        try store.read { db in
            try db.fetchOne(sql: """
                SELECT * FROM files WHERE flow = ? AND sha256 = ? AND status NOT IN ('duplicate', 'reprocess-requested')
                ORDER BY id LIMIT 1
                """, arguments: [flow, sha256]).map(Manifest.fileEntry)
        }
    }

    /// The latest file of `flow` called `name`.
    public func latestFile(flow: String, name: String) throws -> FileEntry? {
        try store.read { db in
            try db.fetchOne(sql: "SELECT * FROM files WHERE flow = ? AND name = ? ORDER BY id DESC LIMIT 1",
                             arguments: [flow, name]).map(Manifest.fileEntry)
        }
    }

    /// The latest file of any flow called `name`.
    public func latestFile(name: String) throws -> FileEntry? {
        try store.read { db in
            try db.fetchOne(sql: "SELECT * FROM files WHERE name = ? ORDER BY id DESC LIMIT 1",
                             arguments: [name]).map(Manifest.fileEntry)
        }
    }

    /// Lets a file's content be processed again on purpose (`files reprocess`): earlier entries with the
    /// same content no longer count as "seen". Records stay, so nothing is applied twice.
    public func allowReprocessing(flow: String, sha256: String) throws {
        try store.write { db in
            try db.execute(sql: """
                UPDATE files SET status = 'reprocess-requested' WHERE flow = ? AND sha256 = ? AND status != 'duplicate'
                """, arguments: [flow, sha256])
        }
    }

    /// One exception by id.
    public func exception(id: Int64) throws -> ExceptionEntry? {
        try exceptions(openOnly: false).first { $0.id == id }
    }

    /// A file by id.
    public func file(id: Int64) throws -> FileEntry? {
        try store.read { db in
            try db.fetchOne(sql: "SELECT * FROM files WHERE id = ?", arguments: [id]).map(Manifest.fileEntry)
        }
    }

    /// Files of a flow (or all), newest first.
    public func files(flow: String? = nil, limit: Int = 100) throws -> [FileEntry] {
        try store.read { db in
            let filter = Manifest.filter([("flow", flow)])
            return try db.fetchAll(sql: "SELECT * FROM files\(filter.sql) ORDER BY id DESC LIMIT ?", arguments: filter.arguments + [limit])
                .map(Manifest.fileEntry)
        }
    }

    /// Marks earlier versions of a re-dropped file as superseded.
    public func supersede(flow: String, name: String, before id: Int64) throws {
        try store.write { db in
            try db.execute(sql: """
                UPDATE files SET status = 'superseded' WHERE flow = ? AND name = ? AND id < ? AND status != 'duplicate'
                """, arguments: [flow, name, id])
        }
    }

    /// Sets a file's outcome.
    public func finishFile(_ id: Int64, status: FileStatus, applied: Int, skipped: Int, failed: Int,
                           errorReport: String?) throws {
        try store.write { db in
            try db.execute(sql: """
                UPDATE files SET status = ?, applied = ?, skipped = ?, failed = ?, error_report = ? WHERE id = ?
                """, arguments: [status.rawValue, applied, skipped, failed, errorReport, id])
        }
    }

    private static func fileEntry(_ r: SQLRow) -> FileEntry {
        FileEntry(id: r["id"], flow: r["flow"], name: r["name"], size: r["size"], modified: r["modified"],
                  sha256: r["sha256"], firstSeen: r["first_seen"],
                  status: FileStatus(rawValue: r["status"]) ?? .received, applied: r["applied"],
                  skipped: r["skipped"], failed: r["failed"], errorReport: r["error_report"], runID: r["run_id"])
    }

    // MARK: - Records

    /// The hash of what was applied for `key`, if it was.
    public func appliedHash(flow: String, key: String) throws -> String? {
        try store.read { db in
            try db.fetchValue(sql: "SELECT hash FROM records WHERE flow = ? AND key = ?", arguments: [flow, key], as: String.self)
        }
    }

    /// The hashes of what was applied for each of `keys` that was, in one read.
    public func appliedHashes(flow: String, keys: [String]) throws -> [String: String] {
        try applied(flow: flow, keys: keys).mapValues(\.hash)
    }

    /// Which of `codes` the warehouse knows — seen in its stock files (noted, or with a level recorded) or sent
    /// to it as items — looked up for these codes only: a page of orders costs a page of index look-ups, not
    /// the whole catalogue in memory.
    public func itemCodesTheWarehouseKnows(among codes: [String]) throws -> Set<String> {
        try found(among: codes, column: "code") { slice, marks in
            ("""
             SELECT item_code AS code FROM warehouse_items WHERE item_code IN (\(marks))
             UNION SELECT key FROM records WHERE flow IN (?, ?) AND key IN (\(marks))
             """, slice + [ImportStockFlow.flowName, ExportItemsFlow.flowName] + slice)
        }
    }

    /// Which of these order numbers went to the warehouse (their history has a `sent` event).
    public func ordersSent(_ numbers: [String]) throws -> Set<String> {
        try found(among: numbers, column: "order_number") { slice, marks in
            ("SELECT DISTINCT order_number FROM order_events WHERE kind = 'sent' AND order_number IN (\(marks))", slice)
        }
    }

    /// Which of these order numbers have at least one despatch line applied (keys `ORDER/PACKAGE/SKU`),
    /// looked up by key range: a page of orders costs a page of index look-ups, not the whole history.
    public func ordersWithDespatch(_ numbers: [String]) throws -> Set<String> {
        // Every key of the order lies between "NUMBER/" and "NUMBER0" ("0" follows "/"): each order an index
        // range probe, 500 orders a statement (against a database server, one round trip).
        try found(among: numbers, column: "number") { slice, _ in
            ("""
             SELECT v.column1 AS number FROM (VALUES \(Array(repeating: "(?)", count: slice.count).joined(separator: ","))) AS v
             WHERE EXISTS (SELECT 1 FROM records WHERE flow = ? AND key >= v.column1 || '/' AND key < v.column1 || '0')
             """, slice + [ImportDespatchesFlow.flowName])
        }
    }

    /// Which of `values` a statement finds, asked 500 at a time: `statement` gets a slice and its `?,?,…`
    /// list and returns the SQL and its arguments; the found values are read from `column`.
    private func found(among values: [String], column: String,
                       _ statement: ([String], String) -> (sql: String, arguments: [String])) throws -> Set<String> {
        guard !values.isEmpty else { return [] }
        return try store.read { db in
            var found: Set<String> = []
            try Self.inLists(Array(Set(values))) { slice, marks in
                let (sql, arguments) = statement(slice, marks)
                for row in try db.fetchAll(sql: sql, arguments: arguments.map(SQLValue.text)) { found.insert(row[column]) }
            }
            return found
        }
    }

    /// Calls `body` with `values` in slices of up to 500 and the `?,?,…` list for an `IN (…)` of each: one
    /// statement per slice, whatever the engine (SQLite binds at most 32766 parameters).
    static func inLists(_ values: [String], _ body: ([String], String) throws -> Void) throws {
        for start in stride(from: 0, to: values.count, by: 500) {
            let slice = Array(values[start..<min(values.count, start + 500)])
            try body(slice, Array(repeating: "?", count: slice.count).joined(separator: ","))
        }
    }

    /// The hash and time of each of `keys` recorded for `flow` (a page's look-up: no whole-flow read).
    public func applied(flow: String, keys: [String]) throws -> [String: (hash: String, appliedAt: Int64)] {
        guard !keys.isEmpty else { return [:] }
        let lookup = KeyLookup(table: "records", keyColumn: "key", columns: ["hash", "applied_at"], filter: "flow = ?",
                               arguments: [.text(flow)])
        return try store.read { db in
            var found: [String: (hash: String, appliedAt: Int64)] = [:]
            try db.lookUp(lookup, keys: keys) { i, row in  // by position: the look-up's two columns
                if let hash = String(sqlValue: row.values[0]), let at = Int64(sqlValue: row.values[1]) {
                    found[keys[i]] = (hash, at)
                }
            }
            return found
        }
    }

    /// Records applied records and the file's progress in one transaction.
    ///
    /// - Parameters:
    ///   - file: The file being processed and its counts so far.
    ///   - records: `(key, hash)` of each record just applied.
    ///   - events: What the records mean for their orders' histories.
    ///   - finance: What the records are worth for `voxbatch finance` (a line already recorded stays as it is).
    ///   - prepared: These records, events and finance lines laid out by
    ///     ``prepare(records:events:finance:flow:fileID:)``, on another thread (else they are laid out here).
    public func commit(file: (id: Int64, applied: Int, skipped: Int, failed: Int), flow: String,
                       records: [(key: String, hash: String)], events: [OrderEvent] = [], finance: [FinanceLine] = [],
                       prepared: CommitPreparation? = nil) throws {
        try store.write { db in
            let now = now()
            let rows = prepared ?? Manifest.prepare(records: records, events: events, finance: finance, flow: flow,
                                                    fileID: file.id)
            try Manifest.insert(eventRows: rows.events, db: db, now: now)
            try Manifest.insert(financeRows: rows.finance, db: db, now: now)
            try Manifest.upsert(recordRows: rows.records, db: db, now: now)
            try db.execute(sql: "UPDATE files SET applied = ?, skipped = ?, failed = ? WHERE id = ?",
                           arguments: [file.applied, file.skipped, file.failed, file.id])
        }
    }

    /// Records an outbound file and reserves its records' keys for it, in one transaction: from then on
    /// those records belong to this file and no other.
    ///
    /// - Returns: The file's id.
    public func prepareOutbound(flow: String, name: String, size: Int64, sha256: String, runID: Int64?,
                                records: [(key: String, hash: String)],
                                finance: some Sequence<FinanceLine> = [FinanceLine]()) throws -> Int64 {
        try store.write { db in
            let now = now()
            try Manifest.insert(finance, db: db, now: now)  // what was charged, with the records that carry it
            let id = try db.insertReturningID(sql: """
                INSERT INTO files (flow, name, size, modified, sha256, first_seen, status, applied, run_id)
                VALUES (?, ?, ?, ?, ?, ?, 'prepared', ?, ?)
                """, arguments: [flow, name, size, now, sha256, now, records.count, runID])
            try Manifest.upsert(records, flow: flow, fileID: id, db: db, now: now)
            return id
        }
    }

    /// What a commit of a file's records, events and finance lines writes, laid out by the caller off the
    /// committing thread, which is an import's critical path: each key's last record, each event's detail hash,
    /// every value in one buffer a table (the commit's time is filled in when it writes).
    public struct CommitPreparation: Sendable {
        let records: SQLRows
        let events: SQLRows
        let finance: FinanceRows
    }

    public static func prepare(records: [(key: String, hash: String)], events: [OrderEvent], finance: [FinanceLine],
                               flow: String, fileID: Int64) -> CommitPreparation {
        CommitPreparation(records: recordRows(records, flow: flow, fileID: fileID), events: eventRows(events),
                          finance: financeRows(finance))
    }

    /// Records applied (or reserved) records of a file, replacing what an earlier file applied for a key, laid out
    /// a thousand at a time.
    private static func upsert(_ records: [(key: String, hash: String)], flow: String, fileID: Int64,
                               db: any SQLSession, now: Int64) throws {
        for start in stride(from: 0, to: records.count, by: 1_000) {
            let end = min(records.count, start + 1_000)
            // A key repeated across two slices is written twice, the later over the earlier, as in one statement.
            try upsert(recordRows: recordRows(records[start..<end], flow: flow, fileID: fileID), db: db, now: now)
        }
    }

    private static func upsert(recordRows rows: SQLRows, db: any SQLSession, now: Int64) throws {
        try db.insertRows("INSERT INTO records (flow, key, hash, applied_at, file_id)", rows, tail: """
            ON CONFLICT(flow, key) DO UPDATE SET hash = excluded.hash, applied_at = excluded.applied_at,
            file_id = excluded.file_id
            """, now: now)
    }

    /// `records` laid out for ``upsert(recordRows:db:now:)``: each key's last only (``latestPerKey(_:)``).
    static func recordRows(_ records: ArraySlice<(key: String, hash: String)>, flow: String, fileID: Int64) -> SQLRows {
        let latest = latestPerKey(records)
        // The texts' room counted, not guessed: a despatch line's key and hash alone are 67 bytes, and a buffer
        // grown by doubling took twice the room (2.5 MiB a batch of 10,000) and was copied on the way.
        var bytes = flow.utf8.count * latest.count
        for i in latest { bytes += records[i].key.utf8.count + records[i].hash.utf8.count }
        var rows = SQLRows(width: 5, capacity: latest.count, bytes: bytes)
        for i in latest {
            rows.text(flow)
            rows.text(records[i].key)
            rows.text(records[i].hash)
            rows.now()
            rows.integer(fileID)
        }
        return rows
    }

    static func recordRows(_ records: [(key: String, hash: String)], flow: String, fileID: Int64) -> SQLRows {
        recordRows(records[...], flow: flow, fileID: fileID)
    }

    /// The positions of `records` to write: each key's last (the one in effect), in order — one row per key,
    /// as a multi-row upsert needs.
    static func latestPerKey(_ records: ArraySlice<(key: String, hash: String)>) -> [Int] {
        var seen = KeyTable(capacity: records.count * 4 / 3 + 1)
        var repeated = false
        // The same hash twice: the same key (or, about n²/2⁶⁵ likely, another one; the exact pass below tells).
        for (i, r) in records.enumerated() where seen.insert(KeyHash.of(r.key), record: Int32(i)) != nil {
            repeated = true
            break
        }
        guard repeated else { return Array(records.indices) }
        var last: [String: Int] = [:]
        for i in records.indices { last[records[i].key] = i }
        return records.indices.filter { last[records[$0].key] == $0 }
    }

    /// The keys of the records that went out in (or were applied from) a file.
    public func recordKeys(fileID: Int64) throws -> [String] {
        try store.read { db in
            try db.fetchColumn(sql: "SELECT key FROM records WHERE file_id = ? ORDER BY \(db.dialect.insertionOrder)", arguments: [fileID], as: String.self)
        }
    }

    /// Outbound files of `flow` still waiting to be confirmed on the server.
    public func preparedFiles(flow: String) throws -> [FileEntry] {
        try store.read { db in
            try db.fetchAll(sql: "SELECT * FROM files WHERE flow = ? AND status = 'prepared' ORDER BY id",
                             arguments: [flow]).map(Manifest.fileEntry)
        }
    }

    /// The name of the file a record went out in, if it did.
    public func fileName(flow: String, recordKey: String) throws -> String? {
        try store.read { db in
            try db.fetchValue(sql: """
                SELECT files.name FROM records JOIN files ON files.id = records.file_id
                WHERE records.flow = ? AND records.key = ?
                """, arguments: [flow, recordKey], as: String.self)
        }
    }

    /// How many records of `flow` are recorded as applied.
    public func recordCount(flow: String) throws -> Int {
        try store.read { db in try db.fetchValue(sql: "SELECT COUNT(*) FROM records WHERE flow = ?", arguments: [flow], as: Int.self) ?? 0 }
    }

    /// The keys of `flow`'s records with the version applied and when (sent, for outbound flows).
    public func appliedRecords(flow: String) throws -> [(key: String, hash: String, appliedAt: Int64)] {
        try store.read { db in
            try db.fetchAll(sql: "SELECT key, hash, applied_at FROM records WHERE flow = ?", arguments: [flow]).map {
                ($0["key"], $0["hash"], $0["applied_at"])
            }
        }
    }

    /// Records a key as handled without a file (an order withheld because it was cancelled before sending).
    public func commitWithheld(flow: String, key: String) throws {
        try store.write { db in
            try db.execute(sql: """
                INSERT INTO records (flow, key, hash, applied_at, file_id) VALUES (?, ?, 'withheld', ?, NULL)
                ON CONFLICT(flow, key) DO NOTHING
                """, arguments: [flow, key, now()])
        }
    }

    // MARK: - Order history

    /// Records what happened to orders (each event once).
    public func addOrderEvents(_ events: [OrderEvent]) throws {
        guard !events.isEmpty else { return }
        try store.write { db in try Manifest.insert(events, db: db, now: now()) }
    }

    /// Inserts `events` (each once), laid out a thousand at a time.
    private static func insert(_ events: [OrderEvent], db: any SQLSession, now: Int64) throws {
        for start in stride(from: 0, to: events.count, by: 1_000) {
            try insert(eventRows: eventRows(events[start..<min(events.count, start + 1_000)]), db: db, now: now)
        }
    }

    private static func insert(eventRows rows: SQLRows, db: any SQLSession, now: Int64) throws {
        try db.insertRows("INSERT INTO order_events (order_number, kind, detail, detail_hash, file, at)", rows,
                          tail: "ON CONFLICT DO NOTHING", now: now)
    }

    /// `events` laid out for ``insert(eventRows:db:now:)``, with their details' ``eventHash(_:)``.
    static func eventRows(_ events: some Collection<OrderEvent>) -> SQLRows {
        var bytes = 0  // counted, as for the records' rows (a package's detail alone is ~130 bytes)
        for e in events { bytes += e.orderNumber.utf8.count + e.kind.utf8.count + e.detail.utf8.count + (e.file?.utf8.count ?? 0) }
        var rows = SQLRows(width: 6, capacity: events.count, bytes: bytes)
        var last: (detail: String, hash: Int64)?  // a file's events often share one detail ("sent in FILE"): hashed once
        for e in events {
            rows.text(e.orderNumber)
            rows.text(e.kind)
            rows.text(e.detail)
            if last?.detail != e.detail { last = (e.detail, eventHash(e.detail)) }
            rows.integer(last!.hash)
            rows.text(orNull: e.file)
            rows.now()
        }
        return rows
    }

    /// What makes an event's detail unique with its order and kind: the first 8 bytes of its SHA-256, big-endian
    /// (a definition that never changes with the code, and that PostgreSQL could compute too). Two different
    /// details of one order and kind share it about once in 2⁶⁴.
    static func eventHash(_ detail: String) -> Int64 { sha256Key(detail) }

    /// Gives events recorded before `v8-event-hashes` their detail's hash, 20,000 a transaction in id order. The
    /// migration leaves a row in `event_hashes_pending` saying where to go on from; it goes when all are done, so
    /// that opening a manifest costs one read of an empty table after. A process stopped half-way resumes where
    /// it was; another one opening the manifest meanwhile does the same, and neither goes on before all have one
    /// (until then an old event could be recorded twice).
    private func hashEarlierEvents() throws {
        guard try store.read({ db in try db.fetchValue(sql: "SELECT COUNT(*) FROM event_hashes_pending", as: Int.self) }) != 0
        else { return }
        while true {
            let done = try store.write { db -> Bool in
                guard let after = try db.fetchValue(sql: "SELECT after FROM event_hashes_pending", as: Int64.self) else {
                    return true  // another process finished
                }
                let rows = try db.fetchAll(sql: """
                    SELECT id, detail FROM order_events WHERE id > ? AND detail_hash IS NULL ORDER BY id LIMIT 20000
                    """, arguments: [after])
                guard let last = rows.last else {
                    try db.execute(sql: "DELETE FROM event_hashes_pending")
                    return true
                }
                try db.executeMany(sql: "UPDATE order_events SET detail_hash = ? WHERE id = ?", rows.map { row in
                    [.integer(Manifest.eventHash(row["detail"])), .integer(row["id"])]
                })
                try db.execute(sql: "UPDATE event_hashes_pending SET after = ?", arguments: [last["id"] as Int64])
                return false
            }
            if done { return }
        }
    }

    /// Everything recorded about an order, oldest first.
    public func orderEvents(_ order: String) throws -> [OrderEvent] {
        try store.read { db in
            try db.fetchAll(sql: "SELECT * FROM order_events WHERE order_number = ? ORDER BY id", arguments: [order])
                .map { OrderEvent(orderNumber: $0["order_number"], kind: $0["kind"], detail: $0["detail"], file: $0["file"],
                                  at: $0["at"]) }
        }
    }

    // MARK: - Warehouse knowledge

    /// Remembers item codes the warehouse has (from its stock files, or sent to it as item types).
    public func noteWarehouseItems(_ codes: [String], source: String) throws {
        guard !codes.isEmpty else { return }
        try store.write { db in
            let now = now()
            try db.executeMany(sql: """
                INSERT INTO warehouse_items (item_code, source, seen) VALUES (?, ?, ?)
                ON CONFLICT(item_code) DO UPDATE SET seen = excluded.seen
                """, codes.map { [.text($0), .text(source), .integer(now)] })
        }
    }

    /// Every item code the warehouse is known to have: the codes noted, and every code with a stock level
    /// recorded (a stock file's rows are the warehouse's own word, and their records are never pruned — so a
    /// stock import notes only codes whose rows were not recorded).
    public func warehouseItems() throws -> Set<String> {
        try store.read { db in
            var items = Set(try db.fetchColumn(sql: "SELECT item_code FROM warehouse_items", as: String.self))
            for code in try db.fetchColumn(sql: "SELECT key FROM records WHERE flow = ?", arguments: [ImportStockFlow.flowName],
                                           as: String.self) { items.insert(code) }
            return items
        }
    }

    /// Records the warehouse's latest state of orders (absolute: the newest report wins).
    public func setOrderStates(_ states: [(order: String, state: String, date: String)]) throws {
        guard !states.isEmpty else { return }
        try store.write { db in
            let now = now()
            try db.executeMany(sql: """
                INSERT INTO order_states (order_number, state, state_date, updated) VALUES (?, ?, ?, ?)
                ON CONFLICT(order_number) DO UPDATE SET state = excluded.state, state_date = excluded.state_date,
                updated = excluded.updated
                """, states.map { [.text($0.order), .text($0.state), .text($0.date), .integer(now)] })
        }
    }

    /// The warehouse's latest known state of an order.
    public func orderState(_ order: String) throws -> String? {
        try orderStates([order])[order]
    }

    /// The warehouse's latest known state of each of `orders` that has one (a page's look-up, in one read:
    /// against a database server, one round trip per 500 orders rather than three per order).
    public func orderStates(_ orders: [String]) throws -> [String: String] {
        guard !orders.isEmpty else { return [:] }
        return try store.read { db in
            var found: [String: String] = [:]
            try Self.inLists(orders) { slice, marks in
                for row in try db.fetchAll(sql: "SELECT order_number, state FROM order_states WHERE order_number IN (\(marks))",
                                           arguments: slice) {
                    found[row["order_number"]] = row["state"]
                }
            }
            return found
        }
    }

    // MARK: - Exceptions

    /// Closes the open exceptions about any of `references` of the given kinds (the problem went away),
    /// in one transaction.
    ///
    /// - Parameter openInMemory: Up to this many references with such an exception open are read whole and matched
    ///   in memory; past it, `references` are looked up 500 at a time.
    public func resolveExceptions(references: [String], kinds: [String], note: String,
                                  openInMemory: Int = 10_000) throws {
        guard !kinds.isEmpty, !references.isEmpty else { return }
        let marks = Array(repeating: "?", count: kinds.count).joined(separator: ",")
        // A file of 5,000 sent orders seldom has one to resolve, and an update per order would cost 5,000 statements
        // to find out. Few exceptions are open at any time: their references are read in one statement (the open
        // ones' index) rather than 5,000 references looked up in it (about a tenth of the sending thread's work).
        let openOfKinds = "SELECT DISTINCT reference FROM exceptions WHERE status = 'open' AND kind IN (\(marks))"
        let openReferences = try store.read { db in
            try db.fetchAll(sql: openOfKinds + " LIMIT \(openInMemory + 1)", arguments: kinds.map(SQLValue.text))
                .map { row -> String in row["reference"] }
        }
        let open: Set<String>
        if openReferences.count <= openInMemory {
            let sent = Set(references)
            open = Set(openReferences.filter(sent.contains))
        } else {
            open = try found(among: references, column: "reference") { slice, references in
                (openOfKinds + " AND reference IN (\(references))", kinds + slice)
            }
        }
        guard !open.isEmpty else { return }
        try store.write { db in
            try db.executeMany(sql: """
                UPDATE exceptions SET status = 'resolved', resolution_note = ?
                WHERE reference = ? AND status = 'open' AND kind IN (\(marks))
                """, open.sorted().map { [.text(note), .text($0)] + kinds.map(SQLValue.text) })
        }
    }

    /// The references with an open exception of any kind.
    public func openExceptionReferences() throws -> Set<String> {
        try store.read { db in
            Set(try db.fetchColumn(sql: "SELECT reference FROM exceptions WHERE status = 'open'", as: String.self))
        }
    }

    /// Opens an exception, or counts one more occurrence of the same open one (same kind and reference).
    ///
    /// - Returns: The exception's id.
    @discardableResult
    public func raise(kind: String, reference: String, message: String, owner: OwnerTeam) throws -> Int64 {
        try store.write { db in
            try Self.raise(in: db, kind: kind, reference: reference, message: message, owner: owner, now: now(),
                           open: Self.openException(in: db, kind: kind, reference: reference)).id
        }
    }

    /// Opens or counts again the exception of each record held back by a pre-flight check, all in one
    /// transaction (one a record made a run that held 100,000 orders take 21 s instead of 2): an open one is counted
    /// again only once `due(occurrences, lastSeen)` says its backoff has passed. A record whose count then reaches
    /// `retryAttempts` also raises `order-retries-exhausted`, with the message `exhausted` gives.
    public func raiseHeld(_ records: [(kind: String, reference: String, message: String, owner: OwnerTeam)],
                          due: (_ occurrences: Int, _ lastSeen: Int64) -> Bool, retryAttempts: Int,
                          exhausted: (_ reference: String, _ attempts: Int, _ message: String) -> String) throws {
        guard !records.isEmpty else { return }
        try store.write { db in
            let now = now()
            for r in records {
                let open = try Self.openException(in: db, kind: r.kind, reference: r.reference)
                if let open, !due(open.occurrences, open.lastSeen) { continue }  // not due yet: waits, as it is
                let attempts = try Self.raise(in: db, kind: r.kind, reference: r.reference, message: r.message,
                                              owner: r.owner, now: now, open: open).occurrences
                guard attempts == retryAttempts else { continue }
                let kind = "order-retries-exhausted"
                try Self.raise(in: db, kind: kind, reference: r.reference,
                               message: exhausted(r.reference, attempts, r.message), owner: r.owner, now: now,
                               open: Self.openException(in: db, kind: kind, reference: r.reference))
            }
        }
    }

    /// The open exception of `kind` about `reference`: its id, occurrences and when it was last seen.
    private static func openException(in db: any SQLSession, kind: String, reference: String) throws
        -> (id: Int64, occurrences: Int, lastSeen: Int64)?
    {
        try db.fetchOne(sql: "SELECT id, occurrences, last_seen FROM exceptions WHERE kind = ? AND reference = ? AND status = 'open'",
                        arguments: [kind, reference]).map { ($0["id"], $0["occurrences"], $0["last_seen"]) }
    }

    /// Counts one more occurrence of `open`, or opens the exception; its id and occurrences after.
    @discardableResult
    private static func raise(in db: any SQLSession, kind: String, reference: String, message: String, owner: OwnerTeam,
                              now: Int64, open: (id: Int64, occurrences: Int, lastSeen: Int64)?) throws
        -> (id: Int64, occurrences: Int)
    {
        if let open {
            try db.execute(sql: """
                UPDATE exceptions SET occurrences = occurrences + 1, last_seen = ?, message = ? WHERE id = ?
                """, arguments: [now, message, open.id])
            return (open.id, open.occurrences + 1)
        }
        let id = try db.insertReturningID(sql: """
            INSERT INTO exceptions (kind, reference, message, owner, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [kind, reference, message, owner.rawValue, now, now])
        return (id, 1)
    }

    /// Prunes what the history no longer needs: the per-record ledger rows applied from warehouse files of
    /// `flows` first seen before `cutoff` (seconds since 1970), and order events recorded before it. The
    /// files' rows stay — an old file dropped again is still recognised by its content and skipped — and so
    /// do the ledgers of what was sent and the stock levels in effect (not in `flows`).
    ///
    /// - Returns: How many record rows and order events were removed.
    @discardableResult
    public func prune(flows: [String], before cutoff: Int64) throws -> (records: Int, events: Int) {
        try store.write { db in
            let marks = Array(repeating: "?", count: flows.count).joined(separator: ", ")
            let records = try db.execute(sql: """
                DELETE FROM records WHERE flow IN (\(marks))
                AND file_id IN (SELECT id FROM files WHERE first_seen < ? AND status NOT IN ('processing', 'prepared'))
                """, arguments: flows + [cutoff])
            let events = try db.execute(sql: "DELETE FROM order_events WHERE at < ?", arguments: [cutoff])
            return (records, events)
        }
    }

    /// The open exception of a kind about a reference, if any.
    public func openException(kind: String, reference: String) throws -> ExceptionEntry? {
        // One index look-up (open_exception): a run that holds many records asks this for each of them.
        try store.read { db in
            try db.fetchOne(sql: "SELECT * FROM exceptions WHERE kind = ? AND reference = ? AND status = 'open'",
                            arguments: [kind, reference]).map(Manifest.exceptionEntry)
        }
    }

    /// Closes an exception with a note.
    public func resolve(exception id: Int64, note: String) throws {
        try store.write { db in
            try db.execute(sql: "UPDATE exceptions SET status = 'resolved', resolution_note = ? WHERE id = ?",
                           arguments: [note, id])
        }
    }

    /// Exceptions, filtered.
    public func exceptions(kind: String? = nil, owner: OwnerTeam? = nil, openOnly: Bool = true) throws -> [ExceptionEntry] {
        try store.read { db in
            let filter = Manifest.filter([("kind", kind), ("owner", owner?.rawValue), ("status", openOnly ? "open" : nil)])
            return try db.fetchAll(sql: "SELECT * FROM exceptions\(filter.sql) ORDER BY id", arguments: filter.arguments)
                .map(Manifest.exceptionEntry)
        }
    }

    static func exceptionEntry(_ r: SQLRow) -> ExceptionEntry {
        ExceptionEntry(id: r["id"], kind: r["kind"], reference: r["reference"], message: r["message"],
                       owner: OwnerTeam(rawValue: r["owner"]) ?? .operations, firstSeen: r["first_seen"],
                       lastSeen: r["last_seen"], occurrences: r["occurrences"], status: r["status"],
                       resolutionNote: r["resolution_note"])
    }
}
