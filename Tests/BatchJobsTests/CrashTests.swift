@testable import BatchJobs
import Foundation
import TestSupport
import Testing

/// Kills an inbound job with SIGKILL at many points, reruns it, and checks that every record took effect
/// exactly once, nothing was lost, and the manifest agrees — with the manifest and job lock in SQLite and in
/// a real PostgreSQL (a schema of its own per test).
@Suite struct CrashTests {
    /// Where one test's harness runs keep their state.
    struct State {
        let directory: String
        let location: StateLocation
        /// What tells the harness where the state is.
        let environment: [String: String]

        init(_ backend: StateBackend, directory: String) throws {
            self.directory = directory
            location = try backend.freshLocation(in: directory)
            if case .postgres(let settings) = location {
                let server = try PostgresServerFixture.shared()
                environment = ["VOXBATCH_CRASH_STATE_URL": server.url, "VOXBATCH_CRASH_STATE_SCHEMA": settings.schema,
                               "VOXBATCH_CRASH_STATE_PASSWORD_FILE": server.passwordFile]
            } else {
                environment = [:]
            }
        }

        /// The manifest the harness wrote, opened to check it.
        func manifest() throws -> Manifest { try Manifest(location: location, clock: { Epoch.fixtureDay.start }) }
    }

    static var harness: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("voxbatch-crash-harness").path
    }

    static let rows = 40

    /// A fresh exchange with one despatch file of `rows` lines, two of them invalid.
    private func setUp(_ backend: StateBackend) throws -> (exchange: String, state: State, ledger: String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-crash-\(UUID().uuidString)").path
        for folder in ["exchange/out", "exchange/archive", "exchange/error", "state"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        var text = despatchHeader
        for i in 0..<Self.rows {
            text += despatchRow("WEB-\(1000 + i / 3)", "DSP-\(5000 + i / 3)", "SKU-\(i)", i == 11 || i == 29 ? "0" : "\(1 + i % 4)")
        }
        try text.write(toFile: root + "/exchange/out/DESP_20261124.csv", atomically: true, encoding: .utf8)
        return (root + "/exchange", try State(backend, directory: root + "/state"), root + "/ledger.txt")
    }

    private func run(_ env: [String: String], _ paths: (exchange: String, state: State, ledger: String)) throws -> Int32 {
        let log = paths.state.directory + "/harness.log"
        let child = try ChildProcess([Self.harness, paths.exchange, paths.state.directory, paths.ledger], outputPath: log,
                                     environment: env.merging(paths.state.environment) { $1 })
        let status = child.wait()
        if status != 0 && status != 128 + 9 {
            Issue.record("harness exited \(status): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        return status
    }

    private func assertExactlyOnce(_ paths: (exchange: String, state: State, ledger: String)) throws {
        let lines = try String(contentsOfFile: paths.ledger, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == Self.rows - 2, "every valid record once: \(lines.count)")
        #expect(Set(lines).count == lines.count, "no record twice")
        let manifest = try paths.state.manifest()
        #expect(try manifest.recordCount(flow: "despatches") == Self.rows - 2)
        let files = try manifest.files(flow: "despatches")
        #expect(files.first?.status == .partiallyApplied)
        #expect(FileManager.default.fileExists(atPath: paths.exchange + "/archive/DESP_20261124.csv"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: paths.exchange + "/out").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: paths.exchange + "/error") == ["DESP_20261124.errors.csv"])
    }

    @Test(arguments: StateBackend.allCases, [1, 2, 6, 7, 8, 13, 14, 20, 21, 27, 33, 38])
    func killedRightAfterAnEffectAndRerunAppliesEachRecordOnce(_ backend: StateBackend, _ point: Int) throws {
        let paths = try setUp(backend)
        #expect(try run(["VOXBATCH_CRASH_AT_APPLY": "\(point)"], paths) == 128 + 9)
        #expect(try run([:], paths) == 0)
        try assertExactlyOnce(paths)
    }

    @Test(arguments: StateBackend.allCases, [5, 15, 30, 60, 120])
    func killedAtARandomMomentAndRerunUntilDoneAppliesEachRecordOnce(_ backend: StateBackend, _ milliseconds: Int) throws {
        let paths = try setUp(backend)
        _ = try run(["VOXBATCH_CRASH_AFTER_MS": "\(milliseconds)"], paths)  // may finish before the kill
        var status: Int32 = -1
        for _ in 0..<3 where status != 0 { status = try run([:], paths) }
        #expect(status == 0)
        try assertExactlyOnce(paths)
    }

    @Test(arguments: StateBackend.allCases, [10, 20, 25, 30, 35, 40, 50, 60])
    func outboundKilledAtARandomMomentNeverSendsAnOrderTwiceOrLosesOne(_ backend: StateBackend, _ milliseconds: Int) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-crash-out-\(UUID().uuidString)").path
        for folder in ["exchange/in", "state"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        let orders = 120
        let state = try State(backend, directory: root + "/state")
        func run(_ env: [String: String]) throws -> Int32 {
            let child = try ChildProcess([Self.harness, "--outbound", root + "/exchange", root + "/state", "\(orders)"],
                                         outputPath: root + "/state/harness.log",
                                         environment: env.merging(state.environment) { $1 })
            return child.wait()
        }
        _ = try run(["VOXBATCH_CRASH_AFTER_MS": "\(milliseconds)"])
        var status: Int32 = -1
        for _ in 0..<3 where status != 0 {
            // Runs in the same second would produce the same file names; real runs are minutes apart.
            sleep(1)
            status = try run([:])
        }
        #expect(status == 0)
        var seen: [String: String] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/exchange/in")
        #expect(!names.contains { $0.hasSuffix(".part") })
        for name in names {
            let text = try String(contentsOfFile: root + "/exchange/in/" + name, encoding: .utf8)
            for line in text.split(separator: "\r\n").dropFirst() {
                let order = String(line.split(separator: ",")[0])
                if let other = seen[order], other != name { Issue.record("\(order) is in \(other) and \(name)") }
                seen[order] = name
            }
        }
        #expect(seen.count == orders, "every order sent")
        let manifest = try state.manifest()
        #expect(try manifest.preparedFiles(flow: "sales-orders").isEmpty)
        #expect(try manifest.recordCount(flow: "sales-orders") == orders)
    }
}
