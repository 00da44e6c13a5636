import Foundation
import Glibc

/// A real PostgreSQL server for the tests: Debian's `postgresql` binaries, a cluster made with `initdb` in a
/// temporary folder as an unprivileged user (`nobody` when the tests run as root: the server refuses to run
/// as root), listening on a loopback port with password (SCRAM) authentication. One server serves the whole
/// test run; every test works in a schema of its own (``freshSchema()``), as every client of a fleet does.
///
/// The server goes when the test process does: a watchdog shell beside it stops it (and removes its
/// folder) once the test process is gone, however it ended.
public final class PostgresServerFixture: @unchecked Sendable {
    public let port: Int
    public let user = "voxbatch"
    public let database = "postgres"
    public let password: String
    /// A file holding the password, readable by its owner only (the form `password_file` accepts).
    public let passwordFile: String
    public let directory: String
    private let process: ChildProcess

    private static let lock = NSLock()
    private nonisolated(unsafe) static var server: PostgresServerFixture?
    private nonisolated(unsafe) static var failure: String?

    /// The test run's server, started on first use.
    public static func shared() throws -> PostgresServerFixture {
        lock.lock()
        defer { lock.unlock() }
        if let server { return server }
        if let failure { throw FixtureError(failure) }
        do {
            let started = try PostgresServerFixture()
            server = started
            return started
        } catch {
            failure = "\(error)"
            throw error
        }
    }

    /// `postgres://voxbatch@127.0.0.1:PORT/postgres`
    public var url: String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// A schema name no other test uses.
    public func freshSchema(_ prefix: String = "t") -> String {
        prefix + "_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    }

    private init() throws {
        let bin = try Self.binaries()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-pg-\(UUID().uuidString)").path
        let data = directory + "/data"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        password = "pg-" + UUID().uuidString
        let pwfile = directory + "/initdb.pw"
        try password.write(toFile: pwfile, atomically: true, encoding: .utf8)
        passwordFile = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-pg-pw-\(UUID().uuidString)").path
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o600)
        // As root, the cluster belongs to `nobody`; otherwise to whoever runs the tests.
        let asUser: [String] = getuid() == 0 ? ["runuser", "-u", "nobody", "--"] : []
        if getuid() == 0 { try Shell.run("chown", "-R", "nobody:nogroup", directory) }
        let initLog = directory + "/initdb.log"
        let initdb = try ChildProcess(asUser + [bin + "/initdb", "-D", data, "-U", user, "--pwfile=" + pwfile,
                                                "--auth=scram-sha-256", "--locale=C", "--encoding=UTF8", "--no-sync"],
                                      outputPath: initLog)
        guard initdb.wait() == 0 else {
            throw FixtureError("initdb failed: \((try? String(contentsOfFile: initLog, encoding: .utf8)) ?? "")")
        }
        port = try SSHServerFixture.freePort()
        // Durability settings off: the tests kill clients, never the server, and a test run wants speed.
        let server = [bin + "/postgres", "-D", data, "-p", "\(port)", "-c", "listen_addresses=127.0.0.1",
                      "-c", "unix_socket_directories=" + directory, "-c", "fsync=off", "-c", "synchronous_commit=off",
                      "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=64MB"]
            .map { "'" + $0 + "'" }.joined(separator: " ")
        let watchdog = "\(server) >\(directory)/server.log 2>&1 & p=$!; "
            + "while [ -d /proc/\(getpid()) ] && kill -0 $p 2>/dev/null; do sleep 1; done; "
            + "kill -INT $p 2>/dev/null; wait $p; rm -rf '\(directory)'"
        // Its output goes to a file: a watchdog holding the test run's stdout would keep the runner waiting.
        process = try ChildProcess(asUser + ["sh", "-c", watchdog], outputPath: directory + "/watchdog.log")
        for _ in 0..<300 {
            let probe = try ChildProcess([bin + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", "\(port)"])
            if probe.wait() == 0 { return }
            if !process.isRunning { break }
            usleep(100_000)
        }
        throw FixtureError("postgres did not start: \((try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "")")
    }

    /// A loopback port nothing listens on (for a server that cannot be reached).
    public static func unusedPort() throws -> Int { try SSHServerFixture.freePort() }

    /// The newest installed PostgreSQL's binaries (Debian keeps them out of PATH).
    static func binaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.fileExists(atPath: "\(root)/\(newest)/bin/initdb") else {
            throw FixtureError("PostgreSQL is not installed (apt install postgresql; scripts/install-deps does it)")
        }
        return "\(root)/\(newest)/bin"
    }

    /// Runs SQL with `psql` as the test user and returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-psql-\(UUID().uuidString)").path
        defer { unlink(out) }
        let child = try ChildProcess(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                                      "-p", "\(port)", "-U", user, "-d", database, "-c", sql],
                                     outputPath: out, environment: ["PGPASSWORD": password])
        let status = child.wait()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0 else { throw FixtureError("psql failed (\(status)): \(text)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Ends every voxbatch session of a client's schema (as a server restart or a dropped link would).
    @discardableResult
    public func terminateSessions(schema: String) throws -> String {
        try psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'voxbatch \(schema)@%'")
    }
}
