@testable import BatchJobs
import FileTransport
import Foundation
import TestSupport
import Testing

/// WAIR For Retail as the inventory master beside the plain-file shop, on the WAIR fixture: transfers out,
/// their despatches confirmed, stock changes, levels and allocations in batches, and drift.
@Suite struct WairTests {
    let wair: WairFixture
    let f: FlowFixture
    static let warehouse = "PVX-LEEDS"

    init() throws {
        (wair, f) = try Self.setUp()
    }

    static func setUp(extra: String = "") throws -> (WairFixture, FlowFixture) {
        let wair = try WairFixture()
        let secrets = try secretFiles([("user", wair.username), ("password", wair.password)], prefix: "voxbatch-wair")
        let f = try FlowFixture(epoch: .fixtureDay, extra: """
            inventory_master:
              type: wair
              url: \(wair.baseURL)
              tenant: \(wair.tenant)
              username_file: \(secrets.appendingPathComponent("user").path)
              password_file: \(secrets.appendingPathComponent("password").path)
              warehouse_location: \(warehouse)
              requests_per_second: 0
            \(extra)
            """)
        wair.locations = [
            ["id": "STORE-AMS", "code": "AMS01", "name": "Acme Amsterdam", "address1": "Kalverstraat 12", "city": "Amsterdam",
             "postalCode": "1012 PK", "countryCode": "NL", "email": "amsterdam@acme.example"],
            ["id": "STORE-MAN", "code": "MAN01", "name": "Acme Manchester", "address1": "1 Market Street", "city": "Manchester",
             "postalCode": "M1 1WR", "countryCode": "GB", "email": "manchester@acme.example"],
        ]
        return (wair, f)
    }

    func stock(_ name: String, _ rows: [(String, onHand: Int, allocated: Int)], at hours: Double) throws {
        var text = "Item code,Available,On hand,Allocated,Timestamp\r\n"
        for row in rows { text += "\(row.0),\(row.onHand - row.allocated),\(row.onHand),\(row.allocated),\(f.day(hours))\r\n" }
        try f.fromWarehouse(name, text)
    }

    @Test func transfersFromTheWarehouseBecomeSalesOrdersOnceAndTheirDespatchesConfirmThem() throws {
        try f.products(["TSH-M", "HOD-L"])
        try stock("STOCK_1.csv", [("TSH-M", 50, 0), ("HOD-L", 20, 0)], at: 7)
        try f.run(.importStock)
        wair.transfers = [
            WairFixture.transfer("RD_71ff", from: Self.warehouse, to: "STORE-AMS", sku: "TSH-M", quantity: 6),
            WairFixture.transfer("RD_71ff", from: Self.warehouse, to: "STORE-AMS", sku: "HOD-L", quantity: 2),
            WairFixture.transfer("RD_8a02", from: "STORE-MAN", to: "STORE-AMS", sku: "TSH-M", quantity: 1),  // store to store
            WairFixture.transfer("RD_9c13", from: Self.warehouse, to: "STORE-MAN", sku: "NEW-1", quantity: 4),  // unknown item
        ]
        try f.run(.exportTransfers)
        let rows = try f.rows(ofFileStarting: "SO_")
        #expect(rows.map { $0["SalesOrderNumber"] } == ["WAIR-RD_71ff", "WAIR-RD_71ff"])
        #expect(rows.map { $0["ItemCode"] } == ["TSH-M", "HOD-L"] && rows.map { $0["QuantityOrdered"] } == ["6", "2"])
        #expect(rows.first?["ShippingAddressCity"] == "Amsterdam" && rows.first?["ShippingAddressPostcode"] == "1012 PK")
        #expect(rows.first?["ShippingAddressCountry"] == "NL" && rows.first?["Email"] == "amsterdam@acme.example")
        #expect(try f.openExceptions("unknown-sku").map(\.reference) == ["WAIR-RD_9c13"])
        f.now += 3600
        try f.run(.exportTransfers)  // WAIR lists open transfers again: nothing twice
        #expect(try f.salesOrdersSent()["WAIR-RD_71ff"]?.count == 1)

        // The warehouse despatches it in two packages; a shop order in the same file goes to the shop.
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)])])
        try f.run(.exportOrders)
        wair.transfers = []  // WAIR no longer lists it: the lines voxbatch noted are used
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WAIR-RD_71ff", "PVX-1", "TSH-M", 6)
                            + f.despatch("WAIR-RD_71ff", "PVX-2", "HOD-L", 2) + f.despatch("WEB-1", "PVX-3", "TSH-M", 1))
        try f.run(.importDespatches)
        let confirmed = wair.withLock { $0.uploaded["/Transfers"] ?? [:] }
        #expect(confirmed.keys.sorted() == ["PVX-1/TSH-M", "PVX-2/HOD-L"])
        #expect(confirmed["PVX-1/TSH-M"]?["quantity"] as? Int == 6 && confirmed["PVX-1/TSH-M"]?["status"] as? String == "Shipped")
        #expect(confirmed["PVX-1/TSH-M"]?["trackingNumber"] as? String == "TRKPVX-1")
        #expect(confirmed["PVX-1/TSH-M"]?["toLocationId"] as? String == "STORE-AMS")
        #expect(wair.openBatches.isEmpty && wair.withLock { $0.uploadCalls.allSatisfy { $0.path == "/Transfers" } })
        #expect(try f.storefront().order(number: "WEB-1")?.fulfilmentIDs == ["PVX-3/TSH-M"])
    }

    @Test func stockGoesUpAsMutationsLevelsAndAllocationsInOneBatchChunkedToTheMaximum() throws {
        let (wair, f) = try Self.setUp(extra: "  max_records_per_call: 2")
        try f.products(["A", "B", "C", "D", "E"])
        var text = "Item code,Available,On hand,Allocated,Timestamp\r\n"
        for (i, sku) in ["A", "B", "C", "D", "E"].enumerated() { text += "\(sku),\(10 + i - 1),\(10 + i),1,\(f.day(7))\r\n" }
        try f.fromWarehouse("STOCK_1.csv", text)
        try f.run(.importStock)
        try f.run(.exportInventory)
        var calls = wair.withLock { $0.uploadCalls }
        #expect(calls.filter { $0.path == "/StockMutations" }.isEmpty)  // the first levels: nothing to mutate from
        #expect(calls.filter { $0.path == "/Stock" }.map(\.count) == [2, 2, 1])
        #expect(calls.filter { $0.path == "/Stock" }.map(\.more) == ["true", "true", "false"])
        #expect(calls.filter { $0.path == "/StockNotForReplenishment" }.allSatisfy { $0.fullLoad == "true" })
        #expect(Set(calls.map(\.batch)).count == 1 && wair.openBatches.isEmpty)
        #expect(wair.withLock { $0.stockView["PVX-LEEDS|C"] } == 12)  // on hand, not available
        // A count finds two fewer C, and a receipt adds five A: mutations of -2 and +5, then the levels.
        f.now += 3600
        try f.fromWarehouse("STOCK_2.csv", "Item code,Available,On hand,Allocated,Timestamp\r\nA,14,15,1,\(f.day(9))\r\n"
                            + "C,9,10,1,\(f.day(9))\r\n")
        try f.run(.importStock)
        try f.run(.exportInventory)
        calls = wair.withLock { $0.uploadCalls }
        let mutations = wair.withLock { $0.uploaded["/StockMutations"] ?? [:] }
        #expect(mutations.values.map { "\($0["skuId"]!)=\($0["quantity"]!)" }.sorted() == ["A=5", "C=-2"])
        #expect(Set(calls.map(\.batch)).count == 2 && wair.openBatches.isEmpty)
        // Nothing new: no batch at all.
        f.now += 60
        try f.run(.exportInventory)
        #expect(Set(wair.withLock { $0.uploadCalls }.map(\.batch)).count == 2)
    }

    @Test func aRunKilledMidUploadLeavesNoBatchOpenAndItsRerunDoublesNothing() throws {
        try f.products(["A", "B"])
        try stock("STOCK_1.csv", [("A", 10, 0), ("B", 4, 0)], at: 7)
        try f.run(.importStock)
        try f.run(.exportInventory)
        try stock("STOCK_2.csv", [("A", 7, 0), ("B", 4, 0)], at: 9)
        try f.run(.importStock)
        // The mutation reaches WAIR, then the connection dies on the levels (the run ends with the batch open).
        wair.withLock { $0.faults = Array(repeating: ("POST /Stock?", HTTPServerFixture.Response.json(["e": 1]).cutBody(afterBytes: 1)), count: 5) }
        #expect(throws: (any Error).self) { try f.run(.exportInventory) }
        #expect(wair.openBatches.count == 1)
        wair.withLock { $0.faults = [] }
        f.now += 300
        try f.run(.exportInventory)
        #expect(wair.openBatches.isEmpty)
        let mutations = wair.withLock { $0.uploaded["/StockMutations"] ?? [:] }
        #expect(mutations.count == 1 && mutations.values.first?["quantity"] as? Int == -3)  // sent twice, held once
        #expect(wair.withLock { $0.stockView["PVX-LEEDS|A"] } == 7)
    }

    @Test func aBatchStartedWhoseAnswerWasLostIsStoppedByTheNextRun() throws {
        try f.products(["A"])
        try stock("STOCK_1.csv", [("A", 10, 2)], at: 7)
        try f.run(.importStock)
        // WAIR opens the batch, and the answer never arrives (the run dies right there).
        wair.withLock { $0.faultsAfterApplying = [("POST /Batch/start", HTTPServerFixture.Response.json(["e": 1]).cutBody(afterBytes: 1))] }
        #expect(throws: (any Error).self) { try f.run(.exportInventory) }
        #expect(wair.openBatches.count == 1)
        f.now += 300
        try f.run(.exportInventory)
        #expect(wair.openBatches.isEmpty && wair.withLock { $0.stockView["PVX-LEEDS|A"] } == 10)
        #expect(wair.withLock { $0.uploaded["/StockNotForReplenishment"]?.values.first?["quantity"] as? Int } == 2)
    }

    @Test func reconcileRaisesDriftBeyondWhatIsInFlight() throws {
        try f.products(["TSH-M", "HOD-L", "CAP-1"])
        try stock("STOCK_1.csv", [("TSH-M", 50, 0), ("HOD-L", 20, 0), ("CAP-1", 8, 0)], at: 7)
        try f.run(.importStock)
        try f.run(.exportInventory)
        wair.transfers = [WairFixture.transfer("RD_1", from: Self.warehouse, to: "STORE-AMS", sku: "TSH-M", quantity: 6)]
        try f.run(.exportTransfers)  // 6 x TSH-M in flight
        wair.withLock {
            $0.stockView["PVX-LEEDS|TSH-M"] = 44  // WAIR already counts the transfer: within what is in flight
            $0.stockView["PVX-LEEDS|HOD-L"] = 17  // three missing: drift
            $0.stockView["PVX-LEEDS|CAP-1"] = 9  // one more than the warehouse has: drift
        }
        try f.run(.reconcile)
        let drift = try f.openExceptions("inventory-drift")
        #expect(drift.map(\.reference).sorted() == ["CAP-1@PVX-LEEDS", "HOD-L@PVX-LEEDS"])
        #expect(drift.allSatisfy { $0.owner == .inventory })
        #expect(drift.first { $0.reference.hasPrefix("HOD-L") }?.message.contains("WAIR holds 17 on hand of HOD-L") == true)
    }
}
