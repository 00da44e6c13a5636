@testable import BatchJobs
import Foundation
import TestSupport
import Testing

/// The two engines a manifest can live in: the manifest and crash suites run against both.
enum StateBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// A new, empty state: a file in `folder` for SQLite, a schema of its own on the test run's real
    /// PostgreSQL server.
    func freshLocation(in folder: String) throws -> StateLocation {
        switch self {
        case .sqlite:
            return .sqlite(path: folder + "/state.sqlite")
        case .postgres:
            return .postgres(try Self.freshPostgresSettings())
        }
    }

    /// Settings for a schema of its own on the test run's PostgreSQL server.
    static func freshPostgresSettings() throws -> PostgresSettings {
        let server = try PostgresServerFixture.shared()
        return try PostgresSettings(url: server.url, schema: server.freshSchema(), password: .file(server.passwordFile), caFile: nil)
    }
}
