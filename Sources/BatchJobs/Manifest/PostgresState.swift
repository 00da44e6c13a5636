import CPostgres
import FileTransport
import Foundation

/// Where a client's state lives in PostgreSQL: a server, a database, and the client's own schema in it
/// (many clients share one database, each in its schema).
public struct PostgresSettings: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    /// The client's schema (created on first use).
    public var schema: String
    /// The password; nil leaves it to libpq (`PGPASSFILE`, `~/.pgpass`, or trust).
    public var password: SecretSource?
    /// The CA to verify the server's certificate with (default: the system store).
    public var caFile: String?

    public init(host: String, port: Int = 5432, user: String, database: String, schema: String,
                password: SecretSource? = nil, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.schema = schema
        self.password = password
        self.caFile = caFile
    }

    /// Reads `postgres://user@host:port/database` (a password in the URL is refused: it would end up in
    /// logs and process lists; use `password_env`/`password_file`).
    public init(url: String, schema: String, password: SecretSource?, caFile: String?) throws {
        guard let parts = URLComponents(string: url), parts.scheme == "postgres" || parts.scheme == "postgresql" else {
            throw StateDatabaseError(code: .other, message: "state database \(url) is not a postgres://user@host:port/database URL")
        }
        guard parts.password == nil else {
            throw StateDatabaseError(code: .other, message: "the state database URL must not carry a password; use "
                                     + "state.password_env or state.password_file")
        }
        guard let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty else {
            throw StateDatabaseError(code: .other, message: "state database \(url) needs a user and a host (postgres://user@host:5432/database)")
        }
        let database = String(parts.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw StateDatabaseError(code: .other, message: "state database \(url) needs a database name (postgres://user@host:5432/database)")
        }
        guard Self.isValidSchema(schema) else {
            throw StateDatabaseError(code: .other, message: "schema \"\(schema)\" must be 1–63 lower-case letters, digits or _, "
                                     + "starting with a letter")
        }
        self.init(host: host, port: parts.port ?? 5432, user: user, database: database, schema: schema,
                  password: password, caFile: caFile)
    }

    /// A schema name from a client's name: lower case, anything but letters and digits as `_`.
    public static func schema(forClient client: String) -> String {
        var name = String(client.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(56))
        if name.first.map({ !$0.isLetter }) ?? true { name = "c_" + name }
        return name
    }

    static func isValidSchema(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter, name.count <= 63 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    /// Whether the server is on this machine (TLS is then not required).
    public var isLoopback: Bool {
        host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "[::1]" || host.hasPrefix("/")
    }

    /// The URL without secrets, for messages.
    public var displayURL: String { "postgres://\(user)@\(host):\(port)/\(database) (schema \(schema))" }
}

/// The manifest in PostgreSQL, through libpq: one connection per process and client, every write
/// transaction serialised per client (a transaction-scoped advisory lock, as SQLite's single writer), so
/// the same guarantees hold — a record and its file's progress commit together, a killed run leaves
/// nothing half-done — while any node can run any client's job.
final class PostgresState: StateDatabase, @unchecked Sendable {
    let settings: PostgresSettings
    private let connection: PostgresConnection
    private let lock = NSLock()
    var dialect: SQLDialect { .postgres }
    var location: String { settings.displayURL }

    init(settings: PostgresSettings) throws {
        self.settings = settings
        connection = try PostgresConnection(settings: settings)
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", body)
    }

    @discardableResult
    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        // One writer per client at a time, as in SQLite: writers of different clients never wait.
        try transaction("BEGIN; SELECT pg_advisory_xact_lock(\(Self.lockKey("write", settings.schema)))", body)
    }

    private func transaction<T>(_ begin: String, _ body: (any SQLSession) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try connection.ensureOpen()
        try connection.simple(begin)
        do {
            let result = try body(connection)
            try connection.simple("COMMIT")
            return result
        } catch {
            try? connection.simple("ROLLBACK")
            throw error
        }
    }

    func migrate(_ migrations: [StateMigration]) throws {
        try write { db in
            try db.execute(sql: "CREATE SCHEMA IF NOT EXISTS \(settings.schema)")
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS voxbatch_migrations (id TEXT PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())")
            let done = Set(try db.fetchColumn(sql: "SELECT id FROM voxbatch_migrations", as: String.self))
            for migration in migrations where !done.contains(migration.id) {
                if !migration.sqliteOnly {
                    try connection.simple(Self.translateSchema(migration.sql) + ";" + (migration.postgresExtra ?? ""))
                }
                try db.execute(sql: "INSERT INTO voxbatch_migrations (id) VALUES (?)", arguments: [migration.id])
            }
        }
    }

    /// SQLite DDL as PostgreSQL's: 64-bit integers, serial ids, text compared byte by byte (SQLite's
    /// BINARY collation: key ranges such as `ORDER/` … `ORDER0` must mean the same on both).
    static func translateSchema(_ sql: String) -> String {
        sql.replacingOccurrences(of: "INTEGER PRIMARY KEY AUTOINCREMENT", with: "BIGSERIAL PRIMARY KEY")
            .replacingOccurrences(of: "INTEGER", with: "BIGINT")
            .replacingOccurrences(of: " TEXT", with: " TEXT COLLATE \"C\"")
            .replacingOccurrences(of: ") WITHOUT ROWID;", with: ");")  // SQLite's table layout; a server has its own
    }

    /// A 64-bit advisory lock key for a purpose and a name (SHA-256's first 8 bytes: no two jobs of a fleet
    /// share a key by accident, which a 32-bit `hashtext` would allow at a few tens of thousands of jobs).
    static func lockKey(_ purpose: String, _ name: String) -> Int64 {
        sha256Key(purpose + "\u{0}" + name)
    }

    /// Takes a session-level advisory lock on a job of this client (held until the connection ends, which
    /// a killed process's does: no stale lock). Returns false if another session holds it.
    static func tryLock(_ connection: PostgresConnection, key: Int64) throws -> Bool {
        try connection.fetchValue(sql: "SELECT CASE WHEN pg_try_advisory_lock(?) THEN 1 ELSE 0 END", arguments: [key],
                                  as: Int.self) == 1
    }

    /// Who holds an advisory lock: the holder's application name (voxbatch puts host and process in it).
    static func holder(_ connection: PostgresConnection, key: Int64) -> String? {
        let high = Int64(UInt64(bitPattern: key) >> 32)
        let low = Int64(UInt64(bitPattern: key) & 0xFFFF_FFFF)
        return try? connection.fetchValue(sql: """
            SELECT a.application_name || COALESCE(' from ' || host(a.client_addr), '') FROM pg_locks l
            JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = ? AND l.objid::bigint = ? AND l.objsubid = 1
            LIMIT 1
            """, arguments: [high, low], as: String.self)
    }
}

/// One libpq connection: statements with `?` placeholders bound as `$n`, prepared once for batches,
/// batches sent in pipeline mode (one round trip per few hundred rows, not one per row).
final class PostgresConnection: SQLSession {
    private var conn: OpaquePointer?
    let settings: PostgresSettings
    private var translated: [String: (sql: String, count: Int)] = [:]
    private var prepared: [String: String] = [:]
    var dialect: SQLDialect { .postgres }

    init(settings: PostgresSettings) throws {
        // The schema goes into SQL and connection options as it is: only a plain name may.
        guard PostgresSettings.isValidSchema(settings.schema) else {
            throw StateDatabaseError(code: .other, message: "schema \"\(settings.schema)\" is not a valid schema name")
        }
        self.settings = settings
        try connect()
    }

    deinit { PQfinish(conn) }

    /// Seconds idle before the first probe, seconds between probes, probes lost before the peer is gone:
    /// the same on the client's side and the server's.
    static let keepalive = (idle: 30, interval: 10, count: 3)

    private func connect() throws {
        var parameters: [(String, String)] = [
            ("host", settings.host), ("port", String(settings.port)), ("user", settings.user),
            ("dbname", settings.database), ("connect_timeout", "10"),
            // Who is connected, for `pg_stat_activity` and for naming a job lock's holder: client, host, process.
            ("application_name", String("voxbatch \(settings.schema)@\(ProcessInfo.processInfo.hostName) pid \(getpid())".prefix(63))),
            // TCP keepalives both ways: a node that vanishes without closing its connections (power, network)
            // has its sessions ended — and its job locks released — within about a minute, not hours.
            ("keepalives", "1"), ("keepalives_idle", "\(Self.keepalive.idle)"),
            ("keepalives_interval", "\(Self.keepalive.interval)"), ("keepalives_count", "\(Self.keepalive.count)"),
            ("options", "-c search_path=\(settings.schema) -c client_min_messages=warning "
                + "-c tcp_keepalives_idle=\(Self.keepalive.idle) -c tcp_keepalives_interval=\(Self.keepalive.interval) "
                + "-c tcp_keepalives_count=\(Self.keepalive.count)"),
        ]
        if !settings.isLoopback {
            // Off this machine the server must prove who it is: TLS, certificate and host name verified.
            parameters.append(("sslmode", "verify-full"))
            parameters.append(("sslrootcert", settings.caFile ?? "/etc/ssl/certs/ca-certificates.crt"))
        } else if let ca = settings.caFile {
            parameters.append(("sslmode", "verify-full"))
            parameters.append(("sslrootcert", ca))
        }
        if let password = settings.password {
            do { parameters.append(("password", try password.read())) } catch {
                throw StateDatabaseError(code: .refused, message: "the state database password: \(error)")
            }
        }
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer { (keywords + values).forEach { free($0) } }
        var k = keywords.map { UnsafePointer<CChar>($0) } + [nil]
        var v = values.map { UnsafePointer<CChar>($0) } + [nil]
        PQfinish(conn)
        conn = PQconnectdbParams(&k, &v, 0)
        translated = [:]
        prepared = [:]
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            let refused = message.contains("password authentication failed") || message.contains("certificate")
                || message.contains("SSL") || message.contains("no pg_hba.conf entry")
            throw StateDatabaseError(code: refused ? .refused : .unreachable,
                                     message: "cannot connect to the state database \(settings.displayURL): \(message)")
        }
    }

    /// Reconnects when the server dropped the connection since the last transaction.
    func ensureOpen() throws {
        if PQstatus(conn) != CONNECTION_OK { try connect() }
    }

    /// Runs statements without parameters (several may be separated by `;`).
    func simple(_ sql: String) throws {
        let result = PQexec(conn, sql)
        defer { PQclear(result) }
        try check(result, sql)
    }

    private func check(_ result: OpaquePointer?, _ sql: String) throws {
        let status = PQresultStatus(result)
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK, status != PGRES_PIPELINE_SYNC else { return }
        throw error(result, sql)
    }

    private func error(_ result: OpaquePointer?, _ sql: String) -> StateDatabaseError {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        var message = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? ""
        if message.isEmpty { message = String(cString: PQerrorMessage(conn)) }
        message = message.trimmingCharacters(in: .whitespacesAndNewlines)
        let code: StateDatabaseError.Code =
            switch state {
            case "53100": .diskFull
            case "55P03", "40001", "40P01": .locked
            case .some(let s) where s.hasPrefix("08") || s.hasPrefix("57P"): .unreachable
            case .some(let s) where s.hasPrefix("28"): .refused
            case nil where PQstatus(conn) != CONNECTION_OK: .unreachable
            default: .other
            }
        let first = sql.split(separator: "\n").first.map(String.init) ?? sql
        return StateDatabaseError(code: code, message: "state database (\(settings.displayURL)): \(message) — in: "
                                  + first.trimmingCharacters(in: .whitespaces).prefix(120), engineCode: state)
    }

    /// `?` placeholders as `$1`, `$2`, … (outside quoted text), and how many there are.
    private func translate(_ sql: String) -> (sql: String, count: Int) {
        if let done = translated[sql] { return done }
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quoted = false
        for c in sql {
            if c == "'" { quoted.toggle() }
            if c == "?" && !quoted { n += 1; out += "$\(n)" } else { out.append(c) }
        }
        translated[sql] = (out, n)
        return (out, n)
    }

    private static func text(_ value: SQLValue) -> String? {
        switch value {
        case .null: nil
        case .integer(let n): String(n)
        case .text(let s): s
        }
    }

    /// Calls `body` with the values as C strings (NULL for `.null`), valid for the call.
    private static func withParameters<R>(_ values: [SQLValue], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
        let copies = values.map { text($0).map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        return try body(copies.map { $0.map { UnsafePointer($0) } })
    }

    func execute(sql: String, arguments: [SQLValue]) throws -> Int {
        let result = try run(sql, arguments)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    func fetchAll(sql: String, arguments: [SQLValue]) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        defer { PQclear(result) }
        let fields = PQnfields(result)
        let names = (0..<fields).map { String(cString: PQfname(result, $0)) }
        // Integer columns (int2/4/8, numeric from SUM) read as integers, the rest as text.
        let numeric = (0..<fields).map { [20, 21, 23, 1700].contains(PQftype(result, $0)) }
        let columns = SQLRow.Columns(names)
        var rows: [SQLRow] = []
        let count = PQntuples(result)
        rows.reserveCapacity(Int(count))
        for r in 0..<count {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(fields))
            for f in 0..<fields {
                if PQgetisnull(result, r, f) == 1 { values.append(.null); continue }
                let text = String(cString: PQgetvalue(result, r, f))
                if numeric[Int(f)], let n = Int64(text) { values.append(.integer(n)) } else { values.append(.text(text)) }
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> OpaquePointer? {
        let (text, count) = translate(sql)
        precondition(count == arguments.count, "\(count) placeholders, \(arguments.count) arguments: \(sql)")
        let result = Self.withParameters(arguments) { values in
            PQexecParams(conn, text, Int32(values.count), nil, values, nil, nil, 0)
        }
        do { try check(result, sql) } catch {
            PQclear(result)
            throw error
        }
        return result
    }

    func executeMany(sql: String, _ rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        let (text, count) = translate(sql)
        let name: String
        if let known = prepared[sql] { name = known } else {
            name = "vb\(prepared.count + 1)"
            let result = PQprepare(conn, name, text, Int32(count), nil)
            defer { PQclear(result) }
            try check(result, sql)
            prepared[sql] = name
        }
        // Pipeline mode, a few hundred statements per sync: the server's answers to one chunk fit its
        // socket buffer, so neither side blocks the other.
        guard PQenterPipelineMode(conn) == 1 else { throw error(nil, sql) }
        defer { PQexitPipelineMode(conn) }
        for start in stride(from: 0, to: rows.count, by: 500) {
            let chunk = rows[start..<min(rows.count, start + 500)]
            for row in chunk {
                precondition(row.count == count, "\(count) placeholders, \(row.count) arguments: \(sql)")
                let sent = Self.withParameters(row) { values in
                    PQsendQueryPrepared(conn, name, Int32(values.count), values, nil, nil, 0)
                }
                guard sent == 1 else { throw error(nil, sql) }
            }
            guard PQpipelineSync(conn) == 1 else { throw error(nil, sql) }
            var failure: StateDatabaseError?
            while true {
                guard let result = PQgetResult(conn) else {  // the end of one statement's results
                    if PQstatus(conn) != CONNECTION_OK { throw error(nil, sql) }
                    continue
                }
                let status = PQresultStatus(result)
                if status == PGRES_PIPELINE_SYNC { PQclear(result); break }
                if failure == nil, status == PGRES_FATAL_ERROR { failure = error(result, sql) }
                PQclear(result)
            }
            if let failure { throw failure }
        }
    }
}
