import Foundation
import GRDB

/// The embedded state database: one SQLite file in WAL mode, through GRDB (readers never wait for the
/// writer; another process holding the write lock is waited for up to `busyTimeout`).
final class SQLiteState: StateDatabase {
    let pool: DatabasePool
    let path: String
    var dialect: SQLDialect { .sqlite }
    var location: String { path }

    init(path: String, busyTimeout: Double) throws {
        self.path = path
        var config = GRDB.Configuration()
        config.busyMode = .timeout(busyTimeout)
        pool = try DatabasePool(path: path, configuration: config)
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
            let cursor = try Row.fetchCursor(statement, arguments: Self.arguments(arguments))
            var rows: [SQLRow] = []
            while let row = try cursor.next() {
                var values: [SQLValue] = []
                values.reserveCapacity(row.count)
                for dbValue in row.databaseValues {
                    switch dbValue.storage {
                    case .null: values.append(.null)
                    case .int64(let n): values.append(.integer(n))
                    case .string(let s): values.append(.text(s))
                    case .double(let d): values.append(.integer(Int64(d)))
                    case .blob(let data): values.append(.text(String(decoding: data, as: UTF8.self)))
                    }
                }
                rows.append(SQLRow(columns: columns, values: values))
            }
            return rows
        }

        func executeMany(sql: String, _ rows: [[SQLValue]]) throws {
            guard !rows.isEmpty else { return }
            let statement = try db.cachedStatement(sql: sql)
            for row in rows { try statement.execute(arguments: Self.arguments(row)) }
        }
    }
}
