import CSVKit
import Foundation
import TestSupport
import Testing

/// `type: centra` end to end with the real `voxbatch` processes, the real loopback sshd as the warehouse's
/// SFTP server (the simulator playing Peoplevox on its folder), and the Centra fixture as the store:
/// shipments out as sales orders, items and stock, despatches and returns back — with every inbound job
/// killed (SIGKILL) at random moments and rerun until done, as the crash-injection suite does.
@Suite(.serialized) struct CentraEndToEndTests {
    static let skus = (0..<16).map { "CEN-\($0)" }

    func seededCentra() throws -> CentraFixture {
        let centra = try CentraFixture()
        centra.sizes = Self.skus.enumerated().map { i, sku in
            CentraFixture.Size(id: 10 + i, sku: sku, ean: "7350000000\(100 + i)", product: "Product \(i / 4)",
                               size: ["S", "M", "L", "XL"][i % 4], stock: ["Peoplevox 3PL": 0])
        }
        for n in 1001...1036 {
            centra.addOrder(n, lines: [(Self.skus[n % 16], 1, 20), (Self.skus[(n + 5) % 16], 2, 7.5)])
        }
        // A split order: two shipments of one order, each its own sales order.
        centra.addOrder(1050, lines: [(Self.skus[1], 1, 20)])
        let second = CentraFixture.Shipment(id: 399, number: "1050-2", orderNumber: 1050, isGoodToGo: true,
                                            lines: [CentraFixture.Line(id: 7999, sku: Self.skus[2], quantity: 3, price: 9)])
        centra.shipments.append(second)
        // Not good to go: must stay out of the warehouse.
        centra.addOrder(1060, status: "CONFIRMED", goodToGo: false, lines: [(Self.skus[3], 1, 20)])
        return centra
    }

    @Test func everyJobOverSFTPKilledAndRerunAppliesEverythingToCentraExactlyOnce() throws {
        let sshd = try SSHServerFixture()
        defer { sshd.stop() }
        try sshd.makeFolders()
        let centra = try seededCentra()
        let (dir, config) = try CLI.centraStarter(centra, sshd: sshd)
        var w = CrashWorkload(dir: dir, config: config, exchange: sshd.exchange, orders: 38, seed: 20_261_204)

        #expect(try CLI.run(["run", "export-items", "--config", config]).status == 0)
        try w.simulate(steps: 1)  // the warehouse imports the items and reports stock
        try w.crashLoop("import-stock", kills: 3)
        try w.crashLoop("export-orders", kills: 4)
        try w.simulate(steps: 4)  // picking, despatches (some split), returns
        try w.crashLoop("import-despatches", kills: 4)
        try w.crashLoop("import-returns", kills: 3)
        print("centra end-to-end: \(w.kills.count) kill points interrupted a run: " + w.kills.joined(separator: " "))

        // Every good-to-go shipment reached the warehouse once, under its own number; the split order's
        // two shipments both; the one not good to go, not.
        let fileOf = try w.salesOrderFiles()
        #expect(fileOf.count == 38)
        #expect(fileOf.values.allSatisfy { $0.count == 1 }, "shipments in two files: \(fileOf.filter { $0.value.count > 1 })")
        #expect(fileOf["1050-1"] != nil && fileOf["1050-2"] != nil && fileOf["1060-1"] == nil)

        // Every despatched line recorded once on its shipment, and a shipment completed exactly when all of
        // its lines have left.
        let despatched = try w.rows(in: sshd.exchange + "/archive", prefix: "DESP_")
        #expect(!despatched.isEmpty)
        let shipments = centra.withLock { $0.shipments }
        for shipment in shipments {
            let markers = markers(shipment.additionalMessage, "fulfilment")
            #expect(Set(markers).count == markers.count, "\(shipment.number) recorded a package twice: \(markers)")
            let expected = despatched.filter { $0["Salesorder number"] == shipment.number }
                .map { "\($0["Despatch number"]!)/\($0["Item code"]!)=\($0["No of items"]!)" }
            #expect(Set(markers) == Set(expected), "\(shipment.number)")
            var left: [String: Int] = [:]
            for line in shipment.lines { left[line.sku, default: 0] += line.quantity }
            for row in despatched where row["Salesorder number"] == shipment.number {
                left[row["Item code"]!, default: 0] -= Int(row["No of items"]!)!
            }
            #expect(shipment.isShipped == (left.values.allSatisfy { $0 <= 0 } && !expected.isEmpty), "\(shipment.number)")
            if shipment.isShipped {
                #expect(shipment.shipmentInfo?["packagesNumber"] as? Int == Set(expected.map { $0.prefix { $0 != "/" } }).count)
            }
        }

        // Returns: one completed Centra return per warehouse line in a final state, none for the others.
        let returned = try w.rows(in: sshd.exchange + "/archive", prefix: "RET_")
        let returns = centra.withLock { $0.returns }
        let created = returns.flatMap { ret in markers(ret.comment, "return").map { ($0, ret) } }
        #expect(Set(created.map(\.0)).count == created.count, "a return created twice")
        #expect(created.allSatisfy { $0.1.status == "COMPLETED" })
        let final = returned.filter { ["Accepted", "Quarantined"].contains($0["Status"] ?? "") }
        #expect(!final.isEmpty && final.count < returned.count + 1)
        #expect(shipments.filter(\.isShipped).count >= 10, "shipments completed: \(shipments.filter(\.isShipped).count)")
        print("centra end-to-end: \(despatched.count) despatch lines, \(shipments.filter(\.isShipped).count) shipments completed, "
              + "\(returned.count) return lines (\(final.count) final), \(created.count) Centra returns")
        #expect(Set(created.map(\.0)) == Set(final.map { "\($0["Return number"]!)/\($0["Item code"]!)=\($0["Quantity"]!)" }))
        for (marker, ret) in created {
            let row = final.first { marker.hasPrefix("\($0["Return number"]!)/\($0["Item code"]!)=") }
            #expect((ret.stockPolicy == "releaseItemsBackToWarehouse") == (row?["Status"] == "Accepted"), "\(marker)")
        }

        // Stock: the 3PL's Centra warehouse shows the warehouse's latest availability for every item.
        let latest = try w.latestStock()
        #expect(!latest.isEmpty)
        let shown = centra.withLock { fixture in Dictionary(uniqueKeysWithValues: fixture.sizes.map { ($0.sku, $0.stock["Peoplevox 3PL"] ?? -1) }) }
        for (sku, level) in latest { #expect(shown[sku] == max(0, level), "\(sku)") }

        // Nothing half-done on the SFTP server.
        for folder in ["in", "out", "archive", "error"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: sshd.exchange + "/" + folder)) ?? []
            #expect(!names.contains { $0.hasSuffix(".part") }, "\(folder): \(names)")
        }
    }

    private func markers(_ text: String, _ kind: String) -> [String] {
        text.components(separatedBy: "[voxbatch \(kind) ").dropFirst().flatMap { $0.prefix { $0 != "]" }.split(separator: " ").map(String.init) }
    }
}
