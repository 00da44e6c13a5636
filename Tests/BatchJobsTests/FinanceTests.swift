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
