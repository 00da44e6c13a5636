import CSVKit
import Foundation
import TestSupport
import Testing

/// WAIR as the inventory master end to end with the real `voxbatch` processes and the real loopback sshd
/// (the simulator playing Peoplevox): WAIR's transfers out as sales orders, their despatches confirmed in
/// WAIR, the warehouse's stock to WAIR — every job killed (SIGKILL) at random moments, mid-upload
/// included, and rerun until done: no batch left open, nothing doubled, nothing lost.
@Suite(.serialized) struct WairEndToEndTests {
    @Test func transfersDespatchesAndStockOverSFTPKilledAndRerun() throws {
        let sshd = try SSHServerFixture()
        defer { sshd.stop() }
        try sshd.makeFolders()
        let wair = try WairFixture()
        wair.locations = (1...3).map {
            ["id": "STORE-\($0)", "name": "Store \($0)", "address1": "\($0) High Street", "city": "Leeds", "postalCode": "LS1 \($0)AB",
             "countryCode": "GB", "email": "store\($0)@acme.example"]
        }
        let skus = (0..<10).map { "WR-\($0)" }
        wair.transfers = (0..<24).flatMap { n in
            [WairFixture.transfer("RD_\(n)", from: "PVX-LEEDS", to: "STORE-\(n % 3 + 1)", sku: skus[n % 10], quantity: 2),
             WairFixture.transfer("RD_\(n)", from: "PVX-LEEDS", to: "STORE-\(n % 3 + 1)", sku: skus[(n + 3) % 10], quantity: 1)]
        }
        let (dir, config) = try CLI.wairStarter(wair, sshd: sshd)
        let shop = dir.appendingPathComponent(".voxbatch/shop")
        try ("sku,name,price\n" + skus.map { "\($0),Product \($0),10.00\n" }.joined())
            .write(to: shop.appendingPathComponent("products.csv"), atomically: true, encoding: .utf8)
        var w = CrashWorkload(dir: dir, config: config, exchange: sshd.exchange, orders: 24, seed: 20_261_207)

        #expect(try CLI.run(["run", "export-items", "--config", config]).status == 0)
        try w.simulate(steps: 1)
        try w.crashLoop("import-stock", kills: 2)
        try w.crashLoop("export-inventory", kills: 3)
        try w.crashLoop("export-transfers", kills: 3)
        try w.simulate(steps: 4)
        try w.crashLoop("import-despatches", kills: 4)
        try w.crashLoop("import-stock", kills: 2)
        try w.crashLoop("export-inventory", kills: 3)
        print("wair end-to-end: \(w.kills.count) kill points interrupted a run: " + w.kills.joined(separator: " "))

        // Every transfer reached the warehouse once.
        let fileOf = try w.salesOrderFiles()
        #expect(fileOf.count == 24 && fileOf.values.allSatisfy { $0.count == 1 })
        #expect(fileOf.keys.allSatisfy { $0.hasPrefix("WAIR-RD_") })
        // Every despatched line confirmed in WAIR under its package, with its quantity — and nothing else.
        let despatched = try w.rows(in: sshd.exchange + "/archive", prefix: "DESP_")
        #expect(!despatched.isEmpty)
        let confirmed = wair.withLock { $0.uploaded["/Transfers"] ?? [:] }
        #expect(Set(confirmed.keys) == Set(despatched.map { "\($0["Despatch number"]!)/\($0["Item code"]!)" }))
        for row in despatched {
            #expect(confirmed["\(row["Despatch number"]!)/\(row["Item code"]!)"]?["quantity"] as? Int == Int(row["No of items"]!))
        }
        // WAIR holds the warehouse's latest on-hand; no batch is left open.
        let latest = try w.latestStock("On hand")
        #expect(!latest.isEmpty)
        for (sku, onHand) in latest { #expect(wair.withLock { $0.stockView["PVX-LEEDS|\(sku)"] } == onHand, "\(sku)") }
        #expect(wair.openBatches.isEmpty)
        print("wair end-to-end: \(despatched.count) despatch lines confirmed, \(wair.withLock { $0.batches.count }) batches")
    }
}
