import CSVKit
import Foundation
import TestSupport
import Testing

/// `type: scayle` end to end with the real `voxbatch` processes, the real loopback sshd as the warehouse's
/// SFTP server (the simulator playing Peoplevox on its folder), and the SCAYLE fixture as the shop — every
/// inbound job killed (SIGKILL) at random moments and rerun until done.
@Suite(.serialized) struct ScayleEndToEndTests {
    static let skus = (0..<12).map { "SCY-\($0)" }

    @Test func everyJobOverSFTPKilledAndRerunAppliesEverythingToScayleExactlyOnce() throws {
        let sshd = try SSHServerFixture()
        defer { sshd.stop() }
        try sshd.makeFolders()
        let scayle = try ScayleFixture()
        scayle.variants = Self.skus.enumerated().map { ScayleFixture.Variant(id: 100 + $0.offset, referenceKey: $0.element, ean: "") }
        for n in 770_001...770_030 { scayle.addOrder(n, lines: [(Self.skus[n % 12], 1, 4_000), (Self.skus[(n + 5) % 12], 2, 950)]) }
        let (dir, config) = try CLI.scayleStarter(scayle, sshd: sshd)
        var w = CrashWorkload(dir: dir, config: config, exchange: sshd.exchange, orders: 30, seed: 20_261_206)

        #expect(try CLI.run(["run", "export-items", "--config", config]).status == 0)
        try w.simulate(steps: 1)
        try w.crashLoop("import-stock", kills: 3)
        try w.crashLoop("export-orders", kills: 4)
        try w.simulate(steps: 4)
        try w.crashLoop("import-despatches", kills: 4)
        try w.crashLoop("import-returns", kills: 3)
        print("scayle end-to-end: \(w.kills.count) kill points interrupted a run: " + w.kills.joined(separator: " "))

        let fileOf = try w.salesOrderFiles()
        #expect(fileOf.count == 30 && fileOf.values.allSatisfy { $0.count == 1 })

        // One create-shipment per package, each unit shipped once, with the package's return keys.
        let despatched = try w.rows(in: sshd.exchange + "/archive", prefix: "DESP_")
        let orders = scayle.withLock { $0.orders }
        for order in orders {
            let rows = despatched.filter { $0["Salesorder number"] == String(order.id) }
            #expect(order.shipments.count == Set(rows.map { $0["Despatch number"]! }).count, "\(order.id)")
            let units = rows.reduce(0) { $0 + Int($1["No of items"]!)! }
            #expect(order.items.filter { $0.returnKey != nil }.count == units, "\(order.id)")
            for row in rows {
                let keyed = order.items.filter { $0.sku == row["Item code"] && ($0.returnKey?.hasPrefix(row["Despatch number"]! + "/") ?? false) }
                #expect(keyed.count == Int(row["No of items"]!)!, "\(order.id) \(row["Despatch number"]!)")
            }
        }
        // One create-return per final warehouse return line, by return keys, never twice.
        let returned = try w.rows(in: sshd.exchange + "/archive", prefix: "RET_")
            .filter { ["Accepted", "Quarantined"].contains($0["Status"] ?? "") }
        let references = orders.flatMap { $0.returns.compactMap { $0["referenceKey"] as? String } }
        #expect(Set(references).count == references.count)
        #expect(Set(references) == Set(returned.map { "\($0["Return number"]!)/\($0["Item code"]!)" }))
        // Stock: the latest snapshot per variant, stamped with its time.
        let latest = try w.latestStock()
        #expect(!latest.isEmpty)
        let shown = scayle.withLock { Dictionary(uniqueKeysWithValues: $0.variants.map { ($0.referenceKey, $0.stocks["pvx-leeds"]?.quantity) }) }
        for (sku, level) in latest { #expect(shown[sku] == max(0, level), "\(sku)") }
        print("scayle end-to-end: \(despatched.count) despatch lines, \(orders.map(\.shipments.count).reduce(0, +)) shipments, "
              + "\(references.count) returns")
    }
}
