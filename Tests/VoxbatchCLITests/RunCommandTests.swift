import Foundation
import TestSupport
import Testing

@Suite struct RunCommandTests {
    /// A starter configuration in a fresh folder.
    func starter() throws -> (dir: URL, config: String) {
        let dir = try CLI.temporaryDirectory()
        let path = dir.appendingPathComponent("voxbatch.yml").path
        #expect(try CLI.run(["init", "--config", path]).status == 0)
        return (dir, path)
    }

    @Test func runAllOnTheStarterPrintsAJSONSummaryPerJob() throws {
        let (_, config) = try starter()
        let r = try CLI.run(["run", "all", "--config", config, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(results.map { $0["job"] as? String } == [
            "export-items", "import-stock", "import-order-status", "export-cancellations", "export-orders",
            "export-returns", "import-despatches", "import-returns", "reconcile",
        ])
        #expect(results.allSatisfy { $0["outcome"] as? String == "ok" })
    }

    @Test func aJobWithExceptionsExitsOneAndSaysWhy() throws {
        let (dir, config) = try starter()
        let shop = dir.appendingPathComponent(".voxbatch/shop")
        try "sku,barcode,name\nTSH-M,123,Tee\n".write(to: shop.appendingPathComponent("products.csv"), atomically: true,
                                                       encoding: .utf8)
        try FileManager.default.createDirectory(at: shop.appendingPathComponent("orders"), withIntermediateDirectories: true)
        try "order_number,status,email,name,address1,city,postcode,country,sku,quantity\nWEB-1,paid,a@example.com,Ann,1 Road,Leeds,LS6 2DT,GB,NOPE-1,1\n"
            .write(to: shop.appendingPathComponent("orders/a.csv"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", "export-orders", "--config", config])
        #expect(r.status == 1)
        #expect(r.stdout.contains("export-orders: completed-with-exceptions"))
        #expect(r.stdout.contains("1 exception"))
    }

    @Test func aSecondCopyExitsFourAndDoesNothing() throws {
        let (dir, config) = try starter()
        let locks = dir.appendingPathComponent(".voxbatch/locks")
        try FileManager.default.createDirectory(at: locks, withIntermediateDirectories: true)
        let holder = try ChildProcess(["flock", "--exclusive", "--close",
                                       locks.appendingPathComponent("export-orders.lock").path, "sleep", "30"])
        defer {
            kill(holder.pid, SIGKILL)
            _ = holder.wait()
        }
        var r = try CLI.run(["run", "export-orders", "--config", config])
        for _ in 0..<50 where r.status != 4 {  // until flock has the lock
            usleep(20_000)
            r = try CLI.run(["run", "export-orders", "--config", config])
        }
        #expect(r.status == 4)
        #expect(r.stderr.contains("another run of export-orders is in progress"))
    }

    @Test func anUnknownJobIsAUsageError() throws {
        let (_, config) = try starter()
        let r = try CLI.run(["run", "export-everything", "--config", config])
        #expect(r.status == 2)
        #expect(r.stderr.contains("unknown job"))
    }

    @Test func theDemoRunsADayEndToEnd() throws {
        let dir = try CLI.temporaryDirectory()
        let r = try CLI.run(["demo", "--folder", dir.appendingPathComponent("demo").path, "--orders", "400", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let sent = try #require(report["ordersSent"] as? Int)
        #expect(sent > 300 && sent < 400)
        #expect(report["duplicateOrderSentOnce"] as? Bool == true)
        #expect((report["ordersDespatched"] as? Int ?? 0) > 300)
        #expect((report["ordersPartlyDespatched"] as? Int ?? 0) > 0)
        #expect((report["cancellationsWithheld"] as? Int ?? 0) > 0)
        let exceptions = try #require(report["exceptions"] as? [String: Any])
        #expect(exceptions["unknown-sku"] != nil && exceptions["invalid-address"] != nil)
    }
}

@Suite struct ProgressDisplayTests {
    /// A stock file big enough to report progress, in a fresh starter set-up.
    func setUp() throws -> String { try CLI.starterWithStock(rows: 6000).config }

    @Test func aTerminalShowsProgressAndAPipeOrCronGetsPlainLines() throws {
        let piped = try CLI.run(["run", "import-stock", "--config", try setUp()])
        #expect(piped.status == 0)
        #expect(!piped.stderr.contains("\u{1B}[K") && !piped.stderr.contains("rows/s"))

        // Under a pseudo-terminal (script(1)), the same run draws a progress line.
        let config = try setUp()
        let out = try CLI.temporaryDirectory().appendingPathComponent("tty.txt").path
        let tty = try ChildProcess(["script", "-qfec", "\(CLI.binary.path) run import-stock --config \(config)", out],
                                   environment: ["TERM": "xterm", "PATH": "/usr/bin:/bin"])
        #expect(tty.wait() == 0)
        let screen = try String(contentsOfFile: out, encoding: .utf8)
        #expect(screen.contains("\u{1B}[K"))
        #expect(screen.contains("STOCK_20261130T0800.csv: 5000 rows") || screen.contains("STOCK_20261130T0800.csv: downloading"))
    }
}
