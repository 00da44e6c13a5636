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
            let server = try PostgresServerFixture.shared()
            return .postgres(try PostgresSettings(url: server.url, schema: server.freshSchema(), password: .file(server.passwordFile),
                                                  caFile: nil))
        }
    }
}

/// How a child process (the crash harness) is told where its state is.
extension StateLocation {
    var harnessEnvironment: [String: String] {
        switch self {
        case .sqlite: [:]
        case .postgres(let s):
            ["VOXBATCH_HARNESS_POSTGRES": "postgres://\(s.user)@\(s.host):\(s.port)/\(s.database)",
             "VOXBATCH_HARNESS_SCHEMA": s.schema, "VOXBATCH_HARNESS_PASSWORD_FILE": {
                 if case .file(let path) = s.password { return path }
                 return ""
             }()]
        }
    }
}
