@testable import BatchJobs
import FileTransport
import Foundation
import TestSupport
import Testing

/// The Marketplacer connector in the jobs, on the Marketplacer fixture: approval before picking, field and
/// SKU mapping, shipments per package with the marketplace's carriers, refunds only from final returns,
/// inventory, and the marketplace's dispatch window.
@Suite struct MarketplacerTests {
    let mkp: MarketplacerFixture
    let f: FlowFixture

    init() throws {
        (mkp, f) = try Self.setUp()
    }

    static func setUp(storefrontExtra: String = "", mappings: String = "", policies: String = "") throws
        -> (MarketplacerFixture, FlowFixture)
    {
        let mkp = try MarketplacerFixture(token: "mkp-test-key")
        let secrets = try secretFiles([("token", "mkp-test-key")], prefix: "voxbatch-mkp")
        let f = try FlowFixture(epoch: .fixtureDay, extra: """
            mappings:
              carriers:
                DPD UK: DPD
              extra_columns:
                SalesOrderAttribute1: gift_message
            \(mappings)
            policies:
              refund_states: [Accepted]
              restock_states: [Accepted]
            \(policies)
            """, storefront: """
            storefront:
              type: marketplacer
              url: \(mkp.baseURL)
              token_file: \(secrets.appendingPathComponent("token").path)
              requests_per_second: 0
            \(storefrontExtra)
            """)
        mkp.variants = [
            MarketplacerFixture.Variant(1, advert: "Trail Runner", sku: "TR-42", barcode: "9310000000421", externalIds: ["pvx": "PVX-TR42"]),
            MarketplacerFixture.Variant(2, advert: "Trail Runner", sku: "TR-43", barcode: "9310000000438", externalIds: ["pvx": "PVX-TR43"]),
            MarketplacerFixture.Variant(3, advert: "Wool Socks", sku: "SOCK-M", barcode: "9310000000445"),  // no pvx external id
        ]
        return (mkp, f)
    }

    func warehouseKnows(_ codes: [String] = ["TR-42", "TR-43", "SOCK-M"]) throws {
        try f.stockFile("STOCK_1.csv", codes.map { ($0, 20) })
        try f.run(.importStock)
    }

    func calls(_ name: String) -> [GraphQLServerFixture.Call] { mkp.calls.filter { $0.operationName == name } }

    @Test func onlyInvoicesTheMarketplaceApprovedGoToTheWarehouse() throws {
        try warehouseKnows()
        mkp.addInvoice(13737, lines: [("TR-42", 1, 129)])
        mkp.addInvoice(13738, flags: ["AWAITING_PAYMENT"], lines: [("TR-43", 1, 129)])
        mkp.addInvoice(13739, flags: ["PAID", "CANCELLED"], lines: [("SOCK-M", 2, 12)])
        try f.run(.exportOrders)
        let rows = try f.rows(ofFileStarting: "SO_")
        #expect(rows.map { $0["SalesOrderNumber"] } == ["13737"])
        #expect(rows.first?["ItemCode"] == "TR-42" && rows.first?["SalePrice"] == "129.00")
        #expect(rows.first?["SalesOrderAttribute1"] == "Happy birthday" && rows.first?["ServiceType"] == "Express")
        #expect(calls("Invoices").allSatisfy { ($0.variables["filters"] as? [String: Any])?["notDispatched"] as? Bool == true })
    }

    @Test func everyColumnCanComeFromAnInvoiceFieldAndAMissingOneIsNamed() throws {
        let (mkp, f) = try Self.setUp(mappings: """
              order_fields:
                CustomerPurchaseOrderReferenceNumber: metadata.po_number
                ContactName: buyerFirstName
              required_fields: [metadata.po_number]
            """)
        try f.stockFile("STOCK_1.csv", [("TR-42", 20)])
        try f.run(.importStock)
        mkp.addInvoice(20001, lines: [("TR-42", 1, 129)])
        mkp.addInvoice(20002, lines: [("TR-42", 1, 129)])
        mkp.invoices[0].metadata["po_number"] = "PO-88120"
        try f.run(.exportOrders)
        let rows = try f.rows(ofFileStarting: "SO_")
        #expect(rows.map { $0["SalesOrderNumber"] } == ["20001"])
        #expect(rows.first?["CustomerPurchaseOrderReferenceNumber"] == "PO-88120" && rows.first?["ContactName"] == "Amelia")
        let held = try f.openExceptions("missing-field")
        #expect(held.map(\.reference) == ["20002"])
        #expect(held.first?.message.contains("\"metadata.po_number\" (for CustomerPurchaseOrderReferenceNumber)") == true)
    }

    @Test func variantsMatchItemCodesByAnExternalIdAndUnmappedOnesAreExceptions() throws {
        let (mkp, f) = try Self.setUp(storefrontExtra: "  sku_field: external_id:pvx")
        try f.stockFile("STOCK_1.csv", [("PVX-TR42", 7), ("PVX-TR43", 0), ("PVX-GONE", 3)])
        let stock = try f.run(.importStock)
        #expect(stock.summary.exceptions == 1)
        #expect(try f.openExceptions("unknown-sku-stock").map(\.reference) == ["PVX-GONE"])  // not the seller's: for ops
        #expect(mkp.withLock { $0.variants.map(\.countOnHand) } == [7, 0, 0])
        mkp.addInvoice(20003, lines: [("TR-42", 1, 129)])
        mkp.addInvoice(20004, lines: [("SOCK-M", 1, 12)])  // the socks have no pvx id
        try f.run(.exportOrders)
        #expect(try f.rows(ofFileStarting: "SO_").map { $0["ItemCode"] } == ["PVX-TR42"])
        #expect(try f.openExceptions("missing-sku").map(\.reference) == ["20004"])
    }

    @Test func eachPackageIsAShipmentOfWhatItCarriedWithTheMarketplacesCarrier() throws {
        try warehouseKnows()
        mkp.addInvoice(13740, lines: [("TR-42", 1, 129), ("SOCK-M", 3, 12)])
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("13740", "PVX-1", "TR-42", 1, carrier: "DPD UK")
                            + f.despatch("13740", "PVX-1", "SOCK-M", 2, carrier: "DPD UK"))
        try f.run(.importDespatches)
        var invoice = try #require(mkp.withLock { $0.invoices.first })
        #expect(invoice.shipments.count == 1 && invoice.flags.contains("PART_SENT") && !invoice.flags.contains("SENT"))
        let first = try #require(invoice.shipments.first)
        #expect(first.carrierID == MarketplacerFixture.nodeID("ShipmentCarrier", 68) && first.trackingNumber == "TRKPVX-1")
        #expect(first.items.map(\.quantity) == [1, 2] && first.dispatchedAt == "2026-11-30T15:10:00Z")
        // The rest in a second package, with a carrier the marketplace does not have: an exception, not a guess.
        f.now += 3600
        try f.fromWarehouse("DESP_2.csv", despatchColumns + f.despatch("13740", "PVX-2", "SOCK-M", 1, carrier: "Parcelforce"))
        try f.run(.importDespatches)
        #expect(try f.openExceptions("despatch-not-applied").first?.message.contains("carrier \"Parcelforce\" is not one of the marketplace's") == true)
        f.now += 3600
        try f.fromWarehouse("DESP_3.csv", despatchColumns + f.despatch("13740", "PVX-3", "SOCK-M", 1, carrier: "Royal Mail"))
        try f.run(.importDespatches)
        invoice = try #require(mkp.withLock { $0.invoices.first })
        #expect(invoice.shipments.count == 2 && invoice.flags.contains("SENT"))
        // Rerun of the same content under a new name: nothing twice.
        try f.fromWarehouse("DESP_4.csv", despatchColumns + f.despatch("13740", "PVX-3", "SOCK-M", 1, carrier: "Royal Mail"))
        try f.run(.importDespatches)
        #expect(calls("ShipmentCreate").count == 2)
    }

    @Test func aReturnBecomesARefundOnlyInAFinalStateAndUsesTheCustomersRequest() throws {
        try warehouseKnows()
        mkp.addInvoice(13741, lines: [("TR-42", 1, 129), ("SOCK-M", 2, 12)])
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("13741", "PVX-1", "TR-42", 1, carrier: "DPD UK")
                            + f.despatch("13741", "PVX-1", "SOCK-M", 2, carrier: "DPD UK"))
        try f.run(.importDespatches)
        // The customer asked to return the shoes on the marketplace.
        let shoes = mkp.invoices[0].lineItems[0].id
        mkp.invoices[0].refundRequests.append(.init(id: MarketplacerFixture.nodeID("RefundRequest", 1), status: "AWAITING",
                                                    notes: ["Too small"], items: [(shoes, 1)]))
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + "13741,R-1,TR-42,1,Pending,Too small,\(f.day(30))\r\n"
                            + "13741,R-1,SOCK-M,1,Quarantined,Worn,\(f.day(30))\r\n")
        try f.run(.importReturns)
        #expect(calls("RefundRequestReturn").isEmpty && calls("RefundRequestCreate").isEmpty)  // neither is final by policy
        f.now += 3600
        try f.fromWarehouse("RET_2.csv", header + "13741,R-1,TR-42,1,Accepted,Too small,\(f.day(31))\r\n")
        try f.run(.importReturns)
        let requests = mkp.withLock { $0.invoices[0].refundRequests }
        #expect(requests.count == 1 && requests[0].status == "RETURNED")  // the customer's own, marked returned
        #expect(requests[0].notes.last?.contains("[voxbatch return R-1/TR-42=1]") == true)
        f.now += 3600
        try f.fromWarehouse("RET_3.csv", header + "13741,R-2,SOCK-M,1,Accepted,Changed mind,\(f.day(32))\r\n")
        try f.run(.importReturns)
        try f.fromWarehouse("RET_4.csv", header + "13741,R-2,SOCK-M,1,Accepted,Changed mind,\(f.day(32))\r\n"
                            + "13741,R-1,TR-42,1,Accepted,Too small,\(f.day(31))\r\n")
        try f.run(.importReturns)
        let after = mkp.withLock { $0.invoices[0].refundRequests }
        #expect(after.count == 2 && after.allSatisfy { $0.status == "RETURNED" })
        #expect(calls("RefundRequestCreate").count == 1 && calls("RefundRequestReturn").count == 2)
    }

    @Test func invoicesOutsideTheDispatchWindowAreFlagged() throws {
        let (mkp, f) = try Self.setUp(policies: "  dispatch_window_hours: 24")
        try f.stockFile("STOCK_1.csv", [("TR-42", 20)])
        try f.run(.importStock)
        mkp.addInvoice(20010, lines: [("TR-42", 1, 129)])
        mkp.addInvoice(20011, lines: [("TR-42", 1, 129)])
        mkp.invoices[0].createdAt = "2026-11-28T07:00:00Z"  // 49 h before the job's clock
        try f.run(.exportOrders)
        try f.run(.reconcile)
        let late = try f.openExceptions("dispatch-window")
        #expect(late.map(\.reference) == ["20010"])
        #expect(late.first?.message.contains("placed 49 h ago") == true && late.first?.message.contains("within 24 h") == true)
    }
}

@Suite struct MarketplacerSampleTests {
    @Test func theSampleConfigurationIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = try Configuration.load(path: root.appendingPathComponent("samples/marketplacer/voxbatch.yml").path)
        #expect(config.storefront.kind == "marketplacer")
        #expect(config.storefront.token == .environment("MARKETPLACER_SELLER_API_KEY"))
        #expect(config.storefront.skuField == "external_id:peoplevox" && config.policies.dispatchWindowHours == 48)
        #expect(config.mappings.requiredFields == ["metadata.po_number"])
    }
}
