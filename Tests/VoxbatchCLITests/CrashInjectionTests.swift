import CSVKit
import Foundation
import TestSupport
import Testing

/// Runs the real `voxbatch run JOB` processes over a generated workload, kills them with SIGKILL at
/// random moments (VOXBATCH_FAULT_KILL_AFTER_US), reruns each until it completes, and then checks the
/// promise: every order sent exactly once, every despatch line, refund and stock level in effect exactly
/// once, nothing half-done left in the manifest, no temporary files left on the exchange.
///
/// CI runs `CrashWorkload.ciKills` kill points; `scripts/crash-soak ROUNDS` runs the same with more.
struct CrashWorkload {
    let dir: URL
    let config: String
    let orders: Int
    var rng: UInt64
    /// The seed the kill moments came from (to repeat a failing run).
    let seed: UInt64
    /// Kill points that actually interrupted a run (the process died of SIGKILL).
    var kills: [String] = []
    /// Multiplies the kill attempts per job (the soak run).
    var scale = 1
    /// The exchange folder (the warehouse's side: the simulator works on it).
    let exchange: String

    static let ciKills = 20

    /// The starter's file shop with `orders` orders; `edits` change its YAML (another warehouse), and
    /// `exchange` is then that warehouse's folder.
    init(orders: Int, seed: UInt64, edits: [(String, String)] = [], exchange: String? = nil) throws {
        self.orders = orders
        rng = seed
        self.seed = seed
        (dir, config) = try CLI.starter(edits: [("max_orders_per_file: 500", "max_orders_per_file: 40")] + edits)
        let shop = dir.appendingPathComponent(".voxbatch/shop")
        let skus = (0..<40).map { "SKU-\($0)" }
        try ("sku,name,price\n" + skus.map { "\($0),Product \($0),10.00\n" }.joined())
            .write(to: shop.appendingPathComponent("products.csv"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: shop.appendingPathComponent("orders"), withIntermediateDirectories: true)
        var text = "order_number,status,email,name,address1,city,postcode,country,sku,quantity,price\n"
        for n in 0..<orders {
            for l in 0..<2 {
                text += "WEB-\(n),paid,c\(n)@example.com,Ann Lee,1 Road,Leeds,LS6 2DT,GB,SKU-\((n * 2 + l) % 40),1,10.00\n"
            }
        }
        try text.write(to: shop.appendingPathComponent("orders/orders.csv"), atomically: true, encoding: .utf8)
        self.exchange = exchange ?? dir.appendingPathComponent(".voxbatch/exchange").path
    }

    /// A workload on a set-up made elsewhere (another storefront, an SFTP exchange).
    init(dir: URL, config: String, exchange: String, orders: Int, seed: UInt64) {
        self.dir = dir
        self.config = config
        self.exchange = exchange
        self.orders = orders
        rng = seed
        self.seed = seed
    }

    mutating func random(_ range: ClosedRange<Int>) -> Int {
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return range.lowerBound + Int((rng >> 33) % UInt64(range.count))
    }

    /// Runs `job`, killing it at random moments up to `kills` times, then lets it finish. The moments are
    /// spread over the time a dry run of the same job takes (it does all the work but the effects).
    mutating func crashLoop(_ job: String, kills: Int) throws {
        let quiet = ["VOXBATCH_LOG_LEVEL": "error"]
        let started = Date()
        #expect(try CLI.run(["run", job, "--dry-run", "--config", config], environment: quiet).status <= 1)
        let span = max(2_000, Int(Date().timeIntervalSince(started) * 1_000_000))
        var attempts = 0
        while true {
            attempts += 1
            let killing = attempts <= kills * scale
            let us = random(span / 10...span * 6 / 10)
            let env = killing ? quiet.merging(["VOXBATCH_FAULT_KILL_AFTER_US": String(us)]) { $1 } : quiet
            let r = try CLI.run(["run", job, "--config", config], environment: env)
            if r.status == 9 {
                self.kills.append("\(job)@\(us)us")
                continue
            }
            if r.status == 0 || r.status == 1 {
                if !killing || attempts > kills * scale { return }
                continue  // finished before the kill: try another moment (until `kills` attempts were made)
            }
            Issue.record("\(job) exited \(r.status): \(r.stderr)")
            return
        }
    }

    func simulate(steps: Int) throws {
        for _ in 0..<steps {
            let r = try CLI.run(["simulate-warehouse", "--exchange", exchange, "--seed", "7"])
            #expect(r.status == 0, "\(r.stderr)")
            try afterSimulation?()
        }
    }

    /// Called after each simulated warehouse step (an FTP server's user must be able to move its files).
    var afterSimulation: (() throws -> Void)?

    /// Sales-order number → the files it went out in (sent, and still waiting in `in/`).
    func salesOrderFiles() throws -> [String: Set<String>] {
        var fileOf: [String: Set<String>] = [:]
        for row in try rows(in: exchange + "/in/processed", prefix: "SO_") + rows(in: exchange + "/in", prefix: "SO_") {
            fileOf[row["SalesOrderNumber"]!, default: []].insert(row["_file"]!)
        }
        return fileOf
    }

    /// Item code → its `column` in the last archived stock file that has it (the level the warehouse
    /// reported last, files read in name order).
    func latestStock(_ column: String = "Available") throws -> [String: Int] {
        var latest: [String: Int] = [:]
        for row in try rows(in: exchange + "/archive", prefix: "STOCK_") { latest[row["Item code"]!] = Int(row[column]!)! }
        return latest
    }

    /// Rows of every CSV file under `folder` whose name starts with `prefix`.
    func rows(in folder: String, prefix: String) throws -> [[String: String]] {
        var out: [[String: String]] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names.sorted() where name.hasPrefix(prefix) && name.hasSuffix(".csv") {
            let reader = try CSVReader(path: folder + "/" + name)
            while try reader.next() {
                var row: [String: String] = ["_file": name]
                for (i, c) in reader.header!.names.enumerated() where i < reader.fieldCount { row[c] = reader.field(i) }
                out.append(row)
            }
        }
        return out
    }
}

@Suite struct CrashInjectionTests {
    @Test func everyJobKilledAtRandomMomentsStillAppliesEverythingExactlyOnce() throws {
        // scripts/crash-soak varies the seed and multiplies the kill points; CI runs the defaults.
        let env = ProcessInfo.processInfo.environment
        let seed = env["VOXBATCH_CRASH_SEED"].flatMap(UInt64.init) ?? 20_261_130
        let scale = env["VOXBATCH_CRASH_SCALE"].flatMap(Int.init) ?? 1
        var w = try CrashWorkload(orders: 240, seed: seed)
        w.scale = scale
        try Self.crashEveryJobAndCheck(&w)
    }

    /// The same with the manifest and the job locks in a real PostgreSQL (a schema of its own): the
    /// guarantees do not depend on the engine.
    @Test func withStateInPostgreSQLEveryJobKilledAtRandomMomentsStillAppliesEverythingExactlyOnce() throws {
        let env = ProcessInfo.processInfo.environment
        let seed = env["VOXBATCH_CRASH_SEED"].flatMap(UInt64.init) ?? 20_261_205
        var w = try CrashWorkload(orders: 240, seed: seed, edits: [("state: .voxbatch", try CLI.postgresState())])
        w.scale = env["VOXBATCH_CRASH_SCALE"].flatMap(Int.init) ?? 1
        try Self.crashEveryJobAndCheck(&w)
    }

    /// Runs every job of the starter under random kills, then checks every order, despatch line, refund
    /// and stock level took effect exactly once and nothing was left half-done.
    static func crashEveryJobAndCheck(_ w: inout CrashWorkload) throws {
        let scale = w.scale
        try w.crashLoop("export-items", kills: 4)
        try w.simulate(steps: 1)  // the warehouse imports the items and reports stock
        try w.crashLoop("import-stock", kills: 5)
        try w.crashLoop("export-orders", kills: 10)
        try w.simulate(steps: 4)  // picking, despatches (some split), returns
        try w.crashLoop("import-order-status", kills: 4)
        try w.crashLoop("import-despatches", kills: 9)
        try w.crashLoop("import-returns", kills: 4)
        #expect(w.kills.count >= CrashWorkload.ciKills * scale, "kill points that interrupted a run: \(w.kills)")
        print("crash-injection: seed \(w.seed), \(w.kills.count) kill points interrupted a run: " + w.kills.joined(separator: " "))

        // Every order sent exactly once: in one sales-order file, none missing.
        let fileOf = try w.salesOrderFiles()
        #expect(fileOf.count == w.orders)
        #expect(fileOf.values.allSatisfy { $0.count == 1 }, "orders in two files: \(fileOf.filter { $0.value.count > 1 })")

        // Every despatch line in effect once: the storefront's journal has each (package, SKU) once, and
        // matches the warehouse's despatch files line for line.
        let archive = w.exchange + "/archive"
        let despatched = try w.rows(in: archive, prefix: "DESP_")
        let journal = try w.rows(in: w.dir.appendingPathComponent(".voxbatch/shop/updates").path, prefix: "fulfilments")
        let ids = journal.map { $0["fulfilment_id"]! }
        #expect(Set(ids).count == ids.count, "fulfilments recorded twice")
        #expect(Set(ids) == Set(despatched.map { "\($0["Salesorder number"]!)/\($0["Despatch number"]!)/\($0["Item code"]!)" }))

        // Refunds once each; only final states refunded.
        let refunds = try w.rows(in: w.dir.appendingPathComponent(".voxbatch/shop/updates").path, prefix: "refunds")
        let refundIDs = refunds.map { $0["refund_id"]! }
        #expect(Set(refundIDs).count == refundIDs.count, "refunds recorded twice")

        // Stock in effect: the last level per SKU is the warehouse's latest availability.
        let stockFiles = try w.rows(in: archive, prefix: "STOCK_")
        let stock = try w.rows(in: w.dir.appendingPathComponent(".voxbatch/shop/updates").path, prefix: "stock")
        var shown: [String: String] = [:]
        for row in stock { shown[row["sku"]!] = row["available"]! }
        var latest: [String: String] = [:]
        for row in stockFiles { latest[row["Item code"]!] = row["Available"]! }
        #expect(shown == latest)

        // Nothing half-done: no temporary files on the exchange, no file left processing or prepared.
        for folder in ["in", "out", "archive", "error"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: w.exchange + "/" + folder)) ?? []
            #expect(!names.contains { $0.hasSuffix(".part") }, "\(folder): \(names)")
        }
        let files = try CLI.run(["files", "list", "--limit", "1000", "--config", w.config, "--json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(files.stdout.utf8)) as? [[String: Any]])
        #expect(!entries.contains { ["processing", "prepared"].contains($0["status"] as? String ?? "") })
    }
}
