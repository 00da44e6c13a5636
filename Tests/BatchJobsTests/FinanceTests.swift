@testable import BatchJobs
import Foundation
import TestSupport
import Testing

/// `voxbatch finance`'s figures on a small day, computed by hand.
@Suite struct FinanceTests {
    @Test func aSmallDayAddsUpByHand() throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "HOD-L"])
        // Every line of the fixture's shop costs 10.00.
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2), ("HOD-L", 1)]),  // 30.00
                               .init(number: "WEB-2", lines: [("TSH-M", 1)]),                  // 10.00
                               .init(number: "WEB-3", lines: [("HOD-L", 3)])])                 // 30.00
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50), ("HOD-L", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        // WEB-1 leaves in full, in two packages; WEB-2 is reported despatched with nothing despatched.
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "P1", "TSH-M", 2) + f.despatch("WEB-1", "P2", "HOD-L", 1))
        try f.run(.importDespatches)
        try f.fromWarehouse("STATUS_1.csv", "Salesorder number,Status,Date\r\nWEB-1,Despatched,\(f.day(9))\r\n"
                            + "WEB-2,Despatched,\(f.day(9))\r\nWEB-3,New,\(f.day(9))\r\n")
        try f.run(.importOrderStatus)
        // WEB-3 is cancelled in the shop while still New: the request goes out.
        try f.orders("b.csv", [.init(number: "WEB-3", status: "cancelled", lines: [("HOD-L", 3)])])
        f.now += 600
        try f.run(.exportCancellations)
        // One of WEB-1's T-shirts comes back and is accepted; a rerun of the same file adds nothing.
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + "WEB-1,R-1,TSH-M,1,Accepted,Too small,\(f.day(10))\r\n")
        try f.run(.importReturns)
        try f.fromWarehouse("DESP_2.csv", despatchColumns + f.despatch("WEB-1", "P1", "TSH-M", 2))
        try f.run(.importDespatches)

        let report = try FinanceReport.build(manifest: try f.manifest(), day: "2026-11-30")
        let totals = try #require(report.currencies.first)
        #expect(report.currencies.count == 1 && totals.currency == "")  // the plain-file shop names no currency
        #expect(totals.ordersSent == 3 && totals.sentCents == 7_000)
        #expect(totals.despatchedCents == 3_000 && totals.cancelledCents == 3_000 && totals.refundedCents == 1_000)
        #expect(report.differences.map(\.orderNumber) == ["WEB-2"])
        #expect(report.differences.first?.differenceCents == -1_000 && report.differences.first?.warehouseState == "Despatched")
        // Another day: nothing.
        #expect(try FinanceReport.build(manifest: try f.manifest(), day: "2026-12-01").currencies.isEmpty)
        let csv = String(decoding: try report.csv(), as: UTF8.self)
        #expect(csv.contains("2026-11-30,,3,70.00,30.00,30.00,10.00") && csv.contains("WEB-2,,10.00,0.00,0.00,-10.00,Despatched"))
    }

    /// A day's orders are those with a line of that day: lines recorded again later (already there, so keeping their
    /// first day) do not make their order part of the later day; new lines of it do.
    @Test(arguments: StateBackend.allCases)
    func anOrderTouchesTheDaysItsLinesWereFirstRecorded(_ backend: StateBackend) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-finance-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var now = Epoch.fixtureDay.start
        let manifest = try Manifest(location: try backend.freshLocation(in: dir), clock: { now })
        func line(_ order: String, _ kind: String, _ sku: String) -> FinanceLine {
            FinanceLine(orderNumber: order, kind: kind, reference: "P1", sku: sku, quantity: 1, unitCents: 1_000, currency: "GBP")
        }
        try manifest.recordFinance([line("WEB-1", "sent", "A"), line("WEB-1", "sent", "B"), line("WEB-2", "sent", "A")])
        let first = Manifest.day(Int64(now.timeIntervalSince1970))
        now += 86_400
        let second = Manifest.day(Int64(now.timeIntervalSince1970))
        try manifest.recordFinance([line("WEB-1", "sent", "A"), line("WEB-2", "sent", "A"),  // both already recorded
                                    line("WEB-2", "despatched", "A"), line("WEB-3", "sent", "C")])
        func orders(_ day: String) throws -> [String] {
            Array(Set(try manifest.financeLines(touchingDay: day).map(\.line.orderNumber))).sorted()
        }
        #expect(try orders(first) == ["WEB-1", "WEB-2"])
        #expect(try orders(second) == ["WEB-2", "WEB-3"])  // WEB-1's lines were all there already
        #expect(try manifest.financeLines(touchingDay: second).filter { $0.line.orderNumber == "WEB-2" }.map(\.day)
            == [first, second])  // each line with its own day
        #expect(try orders(Manifest.day(Int64(now.timeIntervalSince1970) + 86_400)).isEmpty)
    }

    /// A manifest from before `finance_days` gets a row for every order and day its lines already have, and keeps
    /// reporting them.
    @Test func aManifestFromBeforeTheDaysTableReportsTheSameDays() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-finance-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state.sqlite"
        do {
            let old = try SQLiteState(path: path, busyTimeout: 5)
            try old.migrate(Array(Manifest.migrations.prefix { $0.id != Manifest.financeDaysMigration.id }))
            try old.write { db in
                for (order, sku, day) in [("WEB-1", "A", "2026-11-29"), ("WEB-1", "B", "2026-11-30"), ("WEB-2", "A", "2026-11-30")] {
                    try db.execute(sql: """
                        INSERT INTO finance_lines (order_number, kind, reference, sku, quantity, unit_cents, currency, day, at)
                        VALUES (?, 'sent', '', ?, 1, 500, '', ?, 0)
                        """, arguments: [.text(order), .text(sku), .text(day)])
                }
            }
        }
        let manifest = try Manifest(location: .sqlite(path: path), clock: { Epoch.fixtureDay.start })
        #expect(try manifest.financeLines(touchingDay: "2026-11-29").map(\.line.sku) == ["A", "B"])  // WEB-1's lines
        #expect(Set(try manifest.financeLines(touchingDay: "2026-11-30").map(\.line.orderNumber)) == ["WEB-1", "WEB-2"])
        #expect(try manifest.read { db in
            try db.fetchValue(sql: "SELECT COUNT(*) FROM finance_days", arguments: [], as: Int.self)
        } == 3)
    }

    /// A manifest from before the lines were kept by their key alone keeps every line through the change, still
    /// takes a line once, and reports as before.
    @Test func aManifestFromBeforeLinesByKeyKeepsItsLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-finance-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state.sqlite"
        let lines = [("WEB-1", "sent", "SO_1.csv", "A", 2), ("WEB-1", "despatched", "DSP-1", "A", 1),
                     ("WEB-2", "sent", "SO_1.csv", "B", 3)]
        do {
            let old = try SQLiteState(path: path, busyTimeout: 5)
            try old.migrate(Array(Manifest.migrations.prefix { $0.id != Manifest.financeLinesByKeyMigration.id }))
            try old.write { db in
                for (order, kind, reference, sku, quantity) in lines {
                    try db.execute(sql: """
                        INSERT INTO finance_lines (order_number, kind, reference, sku, quantity, unit_cents, currency, day, at)
                        VALUES (?, ?, ?, ?, ?, 500, 'GBP', '2026-11-30', 0)
                        """, arguments: [.text(order), .text(kind), .text(reference), .text(sku), .integer(Int64(quantity))])
                }
                try db.execute(sql: "INSERT INTO finance_days (day, order_number) VALUES ('2026-11-30', 'WEB-1'), ('2026-11-30', 'WEB-2')")
            }
        }
        let manifest = try Manifest(location: .sqlite(path: path), clock: { Epoch.fixtureDay.start })
        let schema = try manifest.read { db in
            try db.fetchValue(sql: "SELECT sql FROM sqlite_master WHERE name = 'finance_lines'", arguments: [], as: String.self)
        }
        #expect(schema?.contains("WITHOUT ROWID") == true)
        let found = try manifest.financeLines(touchingDay: "2026-11-30").map(\.line)
        #expect(found.map { "\($0.orderNumber) \($0.kind) \($0.reference) \($0.sku) \($0.quantity) \($0.unitCents) \($0.currency)" }
            == ["WEB-1 despatched DSP-1 A 1 500 GBP", "WEB-1 sent SO_1.csv A 2 500 GBP", "WEB-2 sent SO_1.csv B 3 500 GBP"])
        // The same line again is the one there already; a new one is added.
        try manifest.recordFinance([FinanceLine(orderNumber: "WEB-1", kind: "despatched", reference: "DSP-1", sku: "A",
                                                quantity: 1, unitCents: 500, currency: "GBP"),
                                    FinanceLine(orderNumber: "WEB-2", kind: "despatched", reference: "DSP-2", sku: "B",
                                                quantity: 3, unitCents: 500, currency: "GBP")])
        #expect(try manifest.read { db in
            try db.fetchValue(sql: "SELECT COUNT(*) FROM finance_lines", arguments: [], as: Int.self)
        } == 4)
    }

    @Test func pricesAreReadAsMoney() {
        #expect(FinanceLine.cents("12.5") == 1250 && FinanceLine.cents("£1,299.99") == 129_999 && FinanceLine.cents("") == nil)
        #expect(FinanceReport.amount(-1005) == "-10.05" && FinanceReport.amount(7) == "0.07")
    }

    /// Prices are read from their bytes when they are plain, and by `Decimal` otherwise: both must agree.
    @Test func thePlainPriceReaderAgreesWithDecimal() {
        var fixed = ["0", "12", "12.5", "12.50", "12.", ".5", "-3.07", "£1,299.99", "1 299,00", "12.345", "-", ".", "",
                     "1.2.3", "12-3", "--1", "٣.٥٠", "EUR 7.10", "999999999999999", "1e3", "0.01", "-0.00"]
        var seed: UInt64 = 42
        for _ in 0..<2_000 {  // random short strings over the characters prices are made of
            var text = ""
            for _ in 0..<(Int(seed % 9)) {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(Array("0123456789.-,£ x")[Int((seed >> 33) % 16)])
            }
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            fixed.append(text)
        }
        for price in fixed {
            if let plain = FinanceLine.plainCents(price) {
                #expect(plain == FinanceLine.decimalCents(price), "\(price)")
            }
        }
        #expect(FinanceLine.plainCents("12.50") == 1250 && FinanceLine.plainCents("12.345") == nil)
    }
}
