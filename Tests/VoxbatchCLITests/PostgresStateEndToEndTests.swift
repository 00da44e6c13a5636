import Foundation
import Synchronization
import TestSupport
import Testing

/// `voxbatch` with its state in a real PostgreSQL: two nodes of a fleet (two folders, two configurations,
/// one schema) and the commands operations use.
@Suite struct PostgresStateEndToEndTests {
    /// Node A: the starter with `rows` products and a stock file of them waiting, its state in `schema`.
    /// Node B: another folder whose configuration points at A's exchange and shop and the same schema,
    /// with node-local files of its own (nothing on disk is shared between the two runs but the exchange).
    private func twoNodes(rows: Int, schema: String) throws -> (a: String, b: String, shop: URL) {
        let (dirA, configA) = try CLI.starterWithStock(rows: rows)
        let state = try CLI.postgresState(schema: schema)
        var yml = try String(contentsOfFile: configA, encoding: .utf8)
        yml = yml.replacingOccurrences(of: "state: .voxbatch", with: state)
            // A file is taken when unchanged across two listings 2 s apart: whichever node wins holds the job
            // for at least that long, so the other's attempt surely falls within it.
            .replacingOccurrences(of: "interval: 0", with: "interval: 2")
        try yml.write(toFile: configA, atomically: true, encoding: .utf8)
        let base = dirA.appendingPathComponent(".voxbatch").path
        let dirB = try CLI.temporaryDirectory()
        let configB = dirB.appendingPathComponent("voxbatch.yml").path
        try yml.replacingOccurrences(of: "url: file://.voxbatch/exchange", with: "url: file://\(base)/exchange")
            .replacingOccurrences(of: "folder: .voxbatch/shop", with: "folder: \(base)/shop")
            .write(toFile: configB, atomically: true, encoding: .utf8)
        return (configA, configB, dirA.appendingPathComponent(".voxbatch/shop"))
    }

    @Test func twoNodesRacingForTheSameClientsJobRunItExactlyOnce() throws {
        let rows = 500
        let schema = try PostgresServerFixture.shared().freshSchema("race")
        let (a, b, shop) = try twoNodes(rows: rows, schema: schema)
        let both = Mutex<[CLI.Result?]>([nil, nil])
        DispatchQueue.concurrentPerform(iterations: 2) { node in
            let r = try? CLI.run(["run", "import-stock", "--config", node == 0 ? a : b])
            both.withLock { $0[node] = r }
        }
        let results = both.withLock { $0 }
        let statuses = results.map { $0?.status ?? -1 }.sorted()
        #expect(statuses == [0, 4], "one run, one refused as locked: \(results.map { $0?.stderr ?? "" })")
        let refused = try #require(results.first { $0?.status == 4 } ?? nil)
        #expect(refused.stderr.contains("another run of import-stock is in progress"))
        #expect(refused.stderr.contains("voxbatch \(schema)@"), "the holder is named: \(refused.stderr)")

        // Every level applied once, by whichever node won.
        let journal = try String(contentsOf: shop.appendingPathComponent("updates/stock.csv"), encoding: .utf8)
        #expect(journal.split(separator: "\n").count == rows + 1)
        // The other node, run again now, finds the file done: nothing applied twice.
        let again = try CLI.run(["run", "import-stock", "--config", results[0]?.status == 0 ? b : a])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOf: shop.appendingPathComponent("updates/stock.csv"), encoding: .utf8) == journal)
    }

    @Test func statusFilesAndReportReadTheStateFromPostgreSQL() throws {
        let (a, _, _) = try twoNodes(rows: 20, schema: try PostgresServerFixture.shared().freshSchema())
        #expect(try CLI.run(["run", "import-stock", "--config", a]).status == 0)
        let files = try CLI.run(["files", "list", "--config", a, "--json"])
        #expect(files.status == 0, "\(files.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(files.stdout.utf8)) as? [[String: Any]])
        #expect(entries.map { $0["name"] as? String } == ["STOCK_20261130T0800.csv"])
        let status = try CLI.run(["status", "--config", a, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("import-stock"))
        let report = try CLI.temporaryDirectory().appendingPathComponent("report.html").path
        let html = try CLI.run(["report", "--html", report, "--config", a])
        #expect(html.status == 0, "\(html.stderr)")
        #expect(try String(contentsOfFile: report, encoding: .utf8).contains("STOCK_20261130T0800.csv"))
    }
}

@Suite struct PostgresStateUnavailableTests {
    @Test func aStateDatabaseThatCannotBeReachedIsExit3AndChangesNothing() throws {
        let port = try PostgresServerFixture.unusedPort()  // nothing listens there
        let (dir, config) = try CLI.starterWithStock(rows: 3)
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        yml = yml.replacingOccurrences(of: "state: .voxbatch",
                                       with: "state: {path: .voxbatch, database: \"postgres://voxbatch@127.0.0.1:\(port)/voxbatch\"}")
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", "import-stock", "--config", config])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("cannot connect to the state database postgres://voxbatch@127.0.0.1:\(port)/voxbatch"))
        let waiting = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".voxbatch/exchange/out").path)
        #expect(waiting == ["STOCK_20261130T0800.csv"])  // the file waits for the next run
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".voxbatch/shop/updates/stock.csv").path))
    }
}
