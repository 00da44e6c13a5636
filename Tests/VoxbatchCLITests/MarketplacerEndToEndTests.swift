import CSVKit
import Foundation
import TestSupport
import Testing

/// `type: marketplacer` end to end with the real `voxbatch` processes, the real loopback sshd as the
/// warehouse's SFTP server (the simulator playing Peoplevox on its folder), and the Marketplacer fixture as
/// the marketplace: invoices out, items and inventory, shipments and refunds back — every inbound job
/// killed (SIGKILL) at random moments and rerun until done.
@Suite(.serialized) struct MarketplacerEndToEndTests {
    static let skus = (0..<12).map { "MKP-\($0)" }

    @Test func everyJobOverSFTPKilledAndRerunAppliesEverythingToTheMarketplaceExactlyOnce() throws {
        let sshd = try SSHServerFixture()
        defer { sshd.stop() }
        try sshd.makeFolders()
        let mkp = try MarketplacerFixture()
        mkp.variants = Self.skus.enumerated().map { MarketplacerFixture.Variant($0.offset + 1, advert: "Advert \($0.offset / 3)", sku: $0.element) }
        for n in 5001...5030 { mkp.addInvoice(n, lines: [(Self.skus[n % 12], 1, 40), (Self.skus[(n + 5) % 12], 2, 9.5)]) }
        mkp.addInvoice(5040, flags: ["AWAITING_PAYMENT"], lines: [(Self.skus[0], 1, 40)])  // not approved: stays
        let (dir, config) = try CLI.marketplacerStarter(mkp, sshd: sshd)
        var w = CrashWorkload(dir: dir, config: config, exchange: sshd.exchange, orders: 30, seed: 20_261_205)

        #expect(try CLI.run(["run", "export-items", "--config", config]).status == 0)
        try w.simulate(steps: 1)
        try w.crashLoop("import-stock", kills: 3)
        try w.crashLoop("export-orders", kills: 4)
        try w.simulate(steps: 4)
        try w.crashLoop("import-despatches", kills: 4)
        try w.crashLoop("import-returns", kills: 3)
        print("marketplacer end-to-end: \(w.kills.count) kill points interrupted a run: " + w.kills.joined(separator: " "))

        // Every approved invoice sent once; the unapproved one never.
        let fileOf = try w.salesOrderFiles()
        #expect(fileOf.count == 30 && fileOf["5040"] == nil)
        #expect(fileOf.values.allSatisfy { $0.count == 1 })

        // One marketplace shipment per package, each line once, with only what the package carried.
        let despatched = try w.rows(in: sshd.exchange + "/archive", prefix: "DESP_")
        let invoices = mkp.withLock { $0.invoices }
        var packages = 0
        for invoice in invoices {
            let rows = despatched.filter { $0["Salesorder number"] == String(invoice.legacyId) }
            let recorded = invoice.shipments.flatMap { markers($0.note, "fulfilment") }
            #expect(Set(recorded).count == recorded.count, "\(invoice.legacyId) recorded a package twice")
            #expect(Set(recorded) == Set(rows.map { "\($0["Despatch number"]!)/\($0["Item code"]!)=\($0["No of items"]!)" }))
            #expect(invoice.shipments.count == Set(rows.map { $0["Despatch number"]! }).count)
            packages += invoice.shipments.count
            let shipped = invoice.shipments.flatMap(\.items).reduce(0) { $0 + $1.quantity }
            #expect(shipped == rows.reduce(0) { $0 + Int($1["No of items"]!)! })
            #expect(invoice.flags.contains("SENT") == (shipped == invoice.lineItems.reduce(0) { $0 + $1.quantity }))
        }
        #expect(packages >= 20)

        // Refund requests: one per final warehouse return line, marked returned; none for the others.
        let returned = try w.rows(in: sshd.exchange + "/archive", prefix: "RET_")
        let final = returned.filter { ["Accepted", "Quarantined"].contains($0["Status"] ?? "") }
        let requests = invoices.flatMap(\.refundRequests)
        let created = requests.flatMap { r in markers(r.notes.joined(separator: "\n"), "return").map { ($0, r) } }
        #expect(Set(created.map(\.0)).count == created.count)
        #expect(created.allSatisfy { $0.1.status == "RETURNED" })
        #expect(Set(created.map(\.0)) == Set(final.map { "\($0["Return number"]!)/\($0["Item code"]!)=\($0["Quantity"]!)" }))
        print("marketplacer end-to-end: \(despatched.count) despatch lines in \(packages) shipments, \(returned.count) return lines, "
              + "\(created.count) refund requests")

        // Inventory: every variant shows the warehouse's latest availability.
        let latest = try w.latestStock()
        #expect(!latest.isEmpty)
        let shown = mkp.withLock { Dictionary(uniqueKeysWithValues: $0.variants.map { ($0.sku, $0.countOnHand) }) }
        for (sku, level) in latest { #expect(shown[sku] == max(0, level), "\(sku)") }
    }

    private func markers(_ text: String, _ kind: String) -> [String] {
        text.components(separatedBy: "[voxbatch \(kind) ").dropFirst().flatMap { $0.prefix { $0 != "]" }.split(separator: " ").map(String.init) }
    }
}
