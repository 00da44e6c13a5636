@testable import BatchJobs
import CSVKit
import Foundation
import TestSupport
import Testing

/// `state.retention_days`: old per-record ledgers are pruned, and nothing old is ever applied twice.
@Suite struct RetentionTests {
    @Test(arguments: StateBackend.allCases)
    func prunedHistoryNeverLetsAnOldFileBeAppliedTwice(backend: StateBackend) throws {
        let f = try FlowFixture(backend: backend)
        try f.products(["TSH-M", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2), ("HOD-L", 1)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50), ("HOD-L", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        let despatch = despatchColumns + f.despatch("WEB-1", "P1", "TSH-M", 2)
        try f.fromWarehouse("DESP_1.csv", despatch)
        try f.run(.importDespatches)
        let journal = { try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8)
            .split(separator: "\n").count - 1 }
        #expect(try journal() == 1)

        // 300 days on: nothing is old enough yet.
        f.now += 300 * 86_400
        #expect(try f.run(.reconcile).reconciliation?.prunedRecords == 0)
        // 401 days on: the despatch's ledger row goes; the stock levels and what was sent stay.
        f.now += 101 * 86_400
        let report = try #require(try f.run(.reconcile).reconciliation)
        #expect(report.prunedRecords == 1 && report.prunedEvents >= 1)
        let manifest = try f.manifest()
        #expect(try manifest.recordCount(flow: "despatches") == 0 && manifest.recordCount(flow: "stock") == 2)
        #expect(try manifest.recordCount(flow: "sales-orders") == 1)

        // The same file dropped again: recognised by its content, skipped.
        try f.fromWarehouse("DESP_1.csv", despatch)
        let again = try f.run(.importDespatches)
        #expect(again.summary.files.first?.outcome == "duplicate" && again.summary.applied == 0)
        // A corrected file with the old line and a new one: the storefront already has the old package.
        try f.fromWarehouse("DESP_1b.csv", despatch + f.despatch("WEB-1", "P2", "HOD-L", 1))
        try f.run(.importDespatches)
        #expect(try journal() == 2)
        #expect(try f.storefront().order(number: "WEB-1")?.fulfilmentIDs == ["P1/TSH-M", "P2/HOD-L"])
        // And the order itself is never sent again.
        f.now += 60
        try f.run(.exportOrders)
        #expect(try f.salesOrdersSent()["WEB-1"]?.count == 1)
    }

    @Test func theRetentionIsConfigurableAndSane() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-ret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let base = "client: acme\nwarehouse: {url: \"file://x\"}\nstorefront: {type: file, folder: shop}\n"
        try (base + "state: {path: st, retention_days: 90}\n").write(to: dir.appendingPathComponent("a.yml"), atomically: true, encoding: .utf8)
        let config = try Configuration.load(path: dir.appendingPathComponent("a.yml").path)
        #expect(config.retentionDays == 90 && config.stateDirectory.hasSuffix("/st"))
        try (base + "state: st\n").write(to: dir.appendingPathComponent("b.yml"), atomically: true, encoding: .utf8)
        #expect(try Configuration.load(path: dir.appendingPathComponent("b.yml").path).retentionDays == 400)
        try (base + "state: {path: st, retention_days: 7}\n").write(to: dir.appendingPathComponent("c.yml"), atomically: true, encoding: .utf8)
        #expect { try Configuration.load(path: dir.appendingPathComponent("c.yml").path) } throws: {
            "\($0)".contains("retention_days must be at least 30")
        }
    }
}
