@testable import BatchJobs
import FileTransport
import Foundation
import TestSupport
import Testing

/// The Centra connector in the jobs, on the Centra fixture: what the conformance suite cannot say about
/// Centra's own model (shipments, split orders, payment before completion, returns that start in Centra).
@Suite struct CentraTests {
    let centra: CentraFixture
    let f: FlowFixture

    init() throws {
        (centra, f) = try Self.setUp()
    }

    static func setUp(storefrontExtra: String = "", extra: String = "") throws -> (CentraFixture, FlowFixture) {
        let centra = try CentraFixture(token: "centra-test-token")
        let secrets = try secretFiles([("token", "centra-test-token")], prefix: "voxbatch-centra")
        let f = try FlowFixture(epoch: .fixtureDay, extra: "mappings:\n  extra_columns:\n    SalesOrderAttribute1: gift_message\n"
                                    + "  carriers:\n    Royal Mail: royal-mail\n" + extra,
                                storefront: """
            storefront:
              type: centra
              url: \(centra.baseURL)
              token_file: \(secrets.appendingPathComponent("token").path)
              stock_warehouse: Peoplevox 3PL
              requests_per_second: 0
            \(storefrontExtra)
            """)
        centra.sizes = [
            CentraFixture.Size(id: 11, sku: "JKT-BLK-M", ean: "7350000000111", product: "Field Jacket", size: "M"),
            CentraFixture.Size(id: 12, sku: "JKT-BLK-L", ean: "7350000000128", product: "Field Jacket", size: "L"),
            CentraFixture.Size(id: 13, sku: "CAP-NVY-OS", ean: "7350000000135", product: "Cap", variant: "Navy", size: "One Size"),
        ]
        return (centra, f)
    }

    func warehouseKnows(_ skus: [String] = ["JKT-BLK-M", "JKT-BLK-L", "CAP-NVY-OS"]) throws {
        try f.stockFile("STOCK_1.csv", skus.map { ($0, 20) })
        try f.run(.importStock)
    }

    func calls(_ name: String) -> [GraphQLServerFixture.Call] { centra.calls.filter { $0.operationName == name } }

    @Test func aSplitOrdersShipmentsEachReachTheWarehouseOnceUnderTheirOwnNumbers() throws {
        try warehouseKnows()
        centra.addOrder(39790, lines: [("JKT-BLK-M", 1, 120)])
        centra.shipments.append(CentraFixture.Shipment(id: 399, number: "39790-2", orderNumber: 39790, isGoodToGo: true,
                                                       lines: [CentraFixture.Line(id: 7001, sku: "CAP-NVY-OS", quantity: 2, price: 25)]))
        centra.addOrder(39791, goodToGo: false, lines: [("JKT-BLK-L", 1, 120)])
        try f.run(.exportOrders)
        f.now += 60
        try f.run(.exportOrders)  // a rerun sends nothing twice
        let sent = try f.salesOrdersSent()
        #expect(sent.keys.sorted() == ["39790-1", "39790-2"])
        #expect(sent.values.allSatisfy { $0.count == 1 })
        let rows = try f.rows(ofFileStarting: "SO_")
        let second = try #require(rows.first { $0["SalesOrderNumber"] == "39790-2" })
        #expect(second["ItemCode"] == "CAP-NVY-OS" && second["QuantityOrdered"] == "2")
        #expect(second["SalesOrderAttribute1"] == "Happy birthday" && second["ShippingAddressPostcode"] == "LS6 2DT")
        #expect(second["ServiceType"] == "Express" && second["ContactName"] == "Amelia Hart")
        // Asked for: good to go and not shipped, by Centra's limit/page.
        let listing = calls("ReadyShipments")
        #expect(listing.allSatisfy { ($0.variables["where"] as? [String: Any])?["isGoodToGo"] as? Bool == true
                && ($0.variables["where"] as? [String: Any])?["isShipped"] as? Bool == false && $0.variables["limit"] as? Int == 100 })
    }

    @Test func aPackageForPartOfAShipmentIsRecordedAndTheShipmentCompletedWithItsLastPackage() throws {
        try warehouseKnows()
        centra.addOrder(40001, lines: [("JKT-BLK-M", 1, 120), ("CAP-NVY-OS", 2, 25)])
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("40001-1", "PVX-1", "JKT-BLK-M", 1))
        try f.run(.importDespatches)
        var shipment = try #require(centra.withLock { $0.shipments.first })
        #expect(!shipment.isShipped && shipment.additionalMessage.contains("[voxbatch fulfilment PVX-1/JKT-BLK-M=1]"))
        #expect(calls("CompleteShipment").isEmpty)
        f.now += 3600
        try f.fromWarehouse("DESP_2.csv", despatchColumns + f.despatch("40001-1", "PVX-2", "CAP-NVY-OS", 2, carrier: "Royal Mail"))
        try f.run(.importDespatches)
        shipment = try #require(centra.withLock { $0.shipments.first })
        #expect(shipment.isShipped && shipment.sendEmail == true)
        #expect(shipment.shipmentInfo?["packagesNumber"] as? Int == 2 && shipment.shipmentInfo?["trackingNumber"] as? String == "TRKPVX-2")
        #expect(shipment.shipmentInfo?["carrier"] as? String == "royal-mail")  // mapped
        #expect(shipment.shippedAt == "2026-11-30T15:10:00Z")
        #expect(centra.withLock { $0.orders.first?.status } == "SHIPPED")
        // The same file again changes nothing in Centra.
        try f.fromWarehouse("DESP_3.csv", despatchColumns + f.despatch("40001-1", "PVX-2", "CAP-NVY-OS", 2, carrier: "Royal Mail"))
        try f.run(.importDespatches)
        #expect(calls("CompleteShipment").count == 1 && calls("UpdateShipment").count == 1)
    }

    @Test func anUnpaidShipmentIsNotCompletedAndSaysWhy() throws {
        try warehouseKnows()
        centra.addOrder(40002, lines: [("JKT-BLK-M", 1, 120)])
        centra.shipments[0].isPaid = false
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("40002-1", "PVX-1", "JKT-BLK-M", 1))
        try f.run(.importDespatches)
        #expect(centra.withLock { $0.shipments[0].isShipped } == false)
        let open = try f.openExceptions("despatch-not-applied")
        #expect(open.map(\.reference) == ["40002-1"])
        #expect(open.first?.message.contains("Shipment must be paid before it is completed") == true)
        // Paid in Centra, the file reprocessed (what `voxbatch files reprocess DESP_1.csv` does): the
        // package is recorded and the shipment completed.
        centra.withLock { $0.shipments[0].isPaid = true }
        f.now += 3600
        let entry = try #require(try f.manifest().latestFile(name: "DESP_1.csv"))
        try f.manifest().allowReprocessing(flow: entry.flow, sha256: entry.sha256)
        try FileManager.default.moveItem(atPath: f.exchange + "/archive/DESP_1.csv", toPath: f.exchange + "/out/DESP_1.csv")
        try f.run(.importDespatches)
        #expect(centra.withLock { $0.shipments[0].isShipped })
    }

    @Test func captureOnDespatchCapturesAnUnpaidShipmentBeforeCompletingIt() throws {
        let (centra, f) = try Self.setUp(storefrontExtra: "  capture_on_despatch: true")
        try f.stockFile("STOCK_1.csv", [("JKT-BLK-M", 20)])
        try f.run(.importStock)
        centra.addOrder(40003, lines: [("JKT-BLK-M", 1, 120)])
        centra.shipments[0].isPaid = false
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("40003-1", "PVX-1", "JKT-BLK-M", 1))
        try f.run(.importDespatches)
        #expect(centra.withLock { $0.shipments[0].isShipped && $0.shipments[0].isPaid })
        #expect(centra.calls.filter { ["CaptureShipment", "CompleteShipment"].contains($0.operationName) }.map(\.operationName)
                == ["CaptureShipment", "CompleteShipment"])
    }

    @Test func aReturnCreatedInCentraIsAnnouncedToTheWarehouseAndCompletedOnlyInAFinalState() throws {
        try warehouseKnows()
        centra.addOrder(40004, lines: [("JKT-BLK-M", 1, 120), ("CAP-NVY-OS", 1, 25)])
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("40004-1", "PVX-1", "JKT-BLK-M", 1)
                            + f.despatch("40004-1", "PVX-1", "CAP-NVY-OS", 1))
        try f.run(.importDespatches)
        // The customer asks to return the jacket in Centra.
        let line = centra.shipments[0].lines[0].id
        centra.returns.append(CentraFixture.Return(id: 315, shipmentID: centra.shipments[0].id, status: "IN_PROGRESS",
                                                   comment: "Too small", lines: [(line, 1)], stockPolicy: "releaseItemsBackToWarehouse"))
        f.now += 3600
        try f.run(.exportReturns)
        let rma = try f.rows(ofFileStarting: "RMA_")
        #expect(rma.map { $0["ReturnNumber"] } == ["315"] && rma.first?["SalesOrderNumber"] == "40004-1")
        #expect(rma.first?["ItemCode"] == "JKT-BLK-M" && rma.first?["QuantityExpected"] == "1")
        f.now += 60
        #expect(try f.run(.exportReturns).summary.applied == 0)  // announced once

        // The parcel arrives: pending first (nothing in Centra), then accepted (the return is completed).
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + "40004-1,315,JKT-BLK-M,1,Pending,Too small,\(f.day(30))\r\n")
        try f.run(.importReturns)
        #expect(centra.withLock { $0.returns[0].status } == "IN_PROGRESS" && calls("CompleteReturn").isEmpty)
        f.now += 3600
        try f.fromWarehouse("RET_2.csv", header + "40004-1,315,JKT-BLK-M,1,Accepted,Too small,\(f.day(31))\r\n")
        try f.run(.importReturns)
        #expect(centra.withLock { $0.returns.map(\.status) } == ["COMPLETED"])
        #expect(calls("CreateReturn").isEmpty && calls("CompleteReturn").count == 1)
        // Completed returns are no longer announced.
        f.now += 60
        #expect(try f.run(.exportReturns).summary.applied == 0)
    }

    @Test func anOrderCancelledInCentraIsRequestedFromTheWarehouseOrWithheld() throws {
        try warehouseKnows()
        centra.addOrder(40005, lines: [("JKT-BLK-M", 1, 120)])
        try f.run(.exportOrders)
        centra.addOrder(40006, goodToGo: false, lines: [("JKT-BLK-L", 1, 120)])
        try f.fromWarehouse("STATUS_1.csv", "Salesorder number,Status,Date\r\n40005-1,New,\(f.day(8 + 5 / 60.0))\r\n")
        try f.run(.importOrderStatus)
        centra.orders = centra.orders.map { var o = $0; o.status = "CANCELLED"; return o }
        f.now += 3600
        try f.run(.exportCancellations)
        #expect(try f.rows(ofFileStarting: "CANCEL_").map { $0["SalesOrderNumber"] } == ["40005-1"])
        let messages = centra.withLock { $0.shipments.map(\.additionalMessage) }
        #expect(messages[0].contains("[voxbatch cancellation requested]") && messages[1].contains("[voxbatch cancellation withheld]"))
        f.now += 60
        #expect(try f.run(.exportCancellations).summary.applied == 0)
        #expect(calls("UpdateShipment").count == 2)
    }

    @Test func aRefundMadeInCentraWithoutAReturnIsAnExceptionForCustomerService() throws {
        try warehouseKnows()
        centra.addOrder(40010, lines: [("JKT-BLK-M", 1, 120)])  // refunded by hand, no return
        centra.addOrder(40011, lines: [("CAP-NVY-OS", 1, 25)])  // refunded against its return
        centra.addOrder(40012, lines: [("JKT-BLK-L", 1, 120)])  // a refund attempt that failed
        centra.orders[0].refunds = [("2026-11-30T07:40:00+00:00", 120, "SUCCESS")]
        centra.orders[1].refunds = [("2026-11-30T07:45:00+00:00", 25, "SUCCESS")]
        centra.orders[2].refunds = [("2026-11-30T07:50:00+00:00", 120, "FAILED")]
        centra.returns.append(CentraFixture.Return(id: 501, shipmentID: centra.shipments[1].id, status: "COMPLETED", comment: "",
                                                   lines: [(centra.shipments[1].lines[0].id, 1)], stockPolicy: "releaseItemsBackToWarehouse"))
        try f.run(.exportOrders)
        try f.run(.reconcile)
        let open = try f.openExceptions("refund-without-return")
        #expect(open.map(\.reference) == ["40010-1"])
        #expect(open.first?.owner == .customerService && open.first?.message.contains("120.00") == true)
        // Looked for over the last 30 days of the job's clock.
        let since = try #require(calls("RefundedOrders").first?.variables["where"] as? [String: Any])
        #expect((since["updatedAt"] as? [String: Any])?["from"] as? String == "2026-10-31T08:00:00Z")
    }

    @Test func throttledAnswersAreWaitedOutAndAnExpiredTokenIsPermanent() throws {
        try warehouseKnows()
        centra.addOrder(40007, lines: [("JKT-BLK-M", 1, 120)])
        centra.faults = [({ $0.operationName == "ReadyShipments" },
                          .errors([GraphQLServerFixture.error("Too many requests", code: "THROTTLED")]))]
        try f.run(.exportOrders)
        #expect(try f.salesOrdersSent().keys.sorted() == ["40007-1"])
        #expect(calls("ReadyShipments").count == 2)  // throttled, then the (only, short) page

        let (other, g) = try Self.setUp()
        let tokenFile = g.configuration.storefront.token!.description.replacingOccurrences(of: "file ", with: "")
        try FileHandle(forWritingAtPath: tokenFile)!.write(contentsOf: Data("expired-token-5d1e".utf8))
        other.addOrder(40008, lines: [("JKT-BLK-M", 1, 120)])
        #expect {
            try g.run(.exportOrders)
        } throws: { error in
            let e = error as? StorefrontError
            return e?.isTransient == false && e?.message.contains("HTTP 401") == true && e?.message.contains(tokenFile) == true
                && !"\(error)".contains("expired-token-5d1e")
        }
        #expect(other.calls.isEmpty)  // refused at the door: nothing past the token check
    }

    @Test func itemCodesCanBeCentrasEANs() throws {
        let (centra, f) = try Self.setUp(storefrontExtra: "  sku_field: ean")
        try f.stockFile("STOCK_1.csv", [("7350000000111", 20)])
        try f.run(.importStock)
        #expect(centra.withLock { $0.sizes[0].stock["Peoplevox 3PL"] } == 20)
        centra.addOrder(40009, lines: [("JKT-BLK-M", 1, 120)])
        try f.run(.exportOrders)
        #expect(try f.rows(ofFileStarting: "SO_").first?["ItemCode"] == "7350000000111")
    }
}

@Suite struct CentraSampleTests {
    @Test func theSampleConfigurationIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = try Configuration.load(path: root.appendingPathComponent("samples/centra/voxbatch.yml").path)
        #expect(config.storefront.kind == "centra")
        #expect(config.storefront.token == .environment("CENTRA_INTEGRATION_TOKEN"))
        #expect(config.storefront.stockWarehouse == "Peoplevox 3PL" && config.storefront.readyStatuses == ["good-to-go"])
        #expect(config.mappings.extraColumns["SalesOrderAttribute2"] == "centra_order_number")
    }
}
