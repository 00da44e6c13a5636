@testable import BatchJobs
import FileTransport
import Foundation
import TestSupport
import Testing

/// The SCAYLE connector in the jobs, on the SCAYLE fixture: the retry queue and its alert, one shipment per
/// package with return keys, returns by those keys, units the warehouse cannot fulfil, and stock stamped
/// with the warehouse's snapshot time.
@Suite struct ScayleTests {
    let scayle: ScayleFixture
    let f: FlowFixture

    init() throws {
        (scayle, f) = try Self.setUp()
    }

    static func setUp(extra: String = "") throws -> (ScayleFixture, FlowFixture) {
        let scayle = try ScayleFixture(token: "scayle-test-token")
        let secrets = try secretFiles([("token", "scayle-test-token")], prefix: "voxbatch-scayle")
        let f = try FlowFixture(epoch: .fixtureDay, extra: """
            mappings:
              carriers:
                DPD: dpd
            \(extra)
            """, storefront: """
            storefront:
              type: scayle
              url: \(scayle.baseURL)
              token_file: \(secrets.appendingPathComponent("token").path)
              shop_key: \(scayle.shopKey)
              country_code: \(scayle.countryCode)
              stock_warehouse: pvx-leeds
              requests_per_second: 0
            """)
        scayle.variants = ["SHOE-42", "SHOE-43", "BELT-M"].enumerated().map { i, sku in
            ScayleFixture.Variant(id: 700 + i, referenceKey: sku, ean: "400000000070\(i)")
        }
        return (scayle, f)
    }

    func warehouseKnows(_ codes: [String] = ["SHOE-42", "SHOE-43", "BELT-M"]) throws {
        try f.stockFile("STOCK_20261130T0700.csv", codes.map { ($0, 20) })
        try f.run(.importStock)
    }

    @Test func anOrderThatKeepsFailingIsRetriedWithBackoffThenAlertedWithItsReferenceAndError() throws {
        let hooks = try HTTPServerFixture { _ in .init(status: 200) }
        let urlFile = try secretFiles([("webhook", hooks.baseURL + "/hooks/ops")], prefix: "voxbatch-scayle-hook")
            .appendingPathComponent("webhook").path
        let (scayle, f) = try Self.setUp(extra: """
            policies:
              order_retry_attempts: 3
              order_retry_backoff_minutes: 15
            alerts:
              webhook_url_file: \(urlFile)
              exception_kinds: [order-retries-exhausted]
            """)
        try f.stockFile("STOCK_20261130T0700.csv", [("SHOE-42", 20)])
        try f.run(.importStock)
        scayle.addOrder(880_101, lines: [("SHOE-42", 1, 12_900), ("NEW-SHOE-44", 1, 12_900)])  // the warehouse lacks 44
        let attempts = { try f.manifest().openException(kind: "unknown-sku", reference: "880101")?.occurrences }
        try f.run(.exportOrders)
        #expect(try attempts() == 1)
        for (minutes, expected) in [(5, 1), (16, 2), (30, 2), (47, 3), (60, 3)] {  // due at +15, then +30 after that
            f.now = Epoch.fixtureDay.start.addingTimeInterval(Double(minutes) * 60)
            try f.run(.exportOrders)
            #expect(try attempts() == expected, "after \(minutes) min")
        }
        #expect(try f.salesOrdersSent()["880101"] == nil)  // never a half order
        let exhausted = try f.openExceptions("order-retries-exhausted")
        #expect(exhausted.map(\.reference) == ["880101"])
        let alerter = Alerter(configuration: f.configuration, manifest: try f.manifest())
        #expect(try alerter.evaluate(try f.runner().health()).map(\.incident) == ["exceptions:order-retries-exhausted"])
        let text = String(decoding: try #require(hooks.requests.first).body, as: UTF8.self)
        #expect(text.contains("880101") && text.contains("has failed 3 attempts") && text.contains("\\\"NEW-SHOE-44\\\""))
        // Fixed: the SKU reaches the warehouse, the order goes out, and both exceptions close.
        try f.stockFile("STOCK_20261130T0900.csv", [("NEW-SHOE-44", 5)])
        try f.run(.importStock)
        f.now += 86_400
        try f.run(.exportOrders)
        #expect(try f.salesOrdersSent()["880101"] != nil)
        #expect(try f.openExceptions().filter { $0.reference == "880101" }.isEmpty)
    }

    @Test func eachPackageIsOneShipmentWithReturnKeysAndReturnsUseThem() throws {
        try warehouseKnows()
        scayle.addOrder(880_102, lines: [("SHOE-42", 2, 12_900), ("BELT-M", 1, 3_500)])
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("880102", "PVX-9", "SHOE-42", 2)
                            + f.despatch("880102", "PVX-10", "BELT-M", 1))
        try f.run(.importDespatches)
        let order = try #require(scayle.withLock { $0.orders.first })
        #expect(order.shipments.count == 2)
        #expect(order.shipments.map { $0["carrier"] as? String } == ["dpd", "dpd"])
        #expect(order.shipments.map { $0["shipmentKey"] as? String } == ["TRKPVX-9", "TRKPVX-10"])
        #expect(order.shipments.first?["deliveryDate"] as? String == "2026-11-30 15:10:00")
        #expect(order.items.compactMap(\.returnKey).allSatisfy { $0.hasPrefix("PVX-9/") || $0.hasPrefix("PVX-10/") })
        // The same despatches again: nothing twice.
        try f.fromWarehouse("DESP_2.csv", despatchColumns + f.despatch("880102", "PVX-9", "SHOE-42", 2))
        try f.run(.importDespatches)
        #expect(scayle.withLock { $0.orders[0].shipments.count } == 2)
        // One shoe comes back in a final state; the return names the unit by its return key.
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + "880102,R-77,SHOE-42,1,Quarantined,Damaged box,\(f.day(30))\r\n")
        try f.run(.importReturns)
        let returned = try #require(scayle.withLock { $0.orders[0].returns.first })
        #expect(returned["referenceKey"] as? String == "R-77/SHOE-42")
        #expect(((returned["items"] as? [[String: Any]])?.count) == 1)
        #expect((returned["customData"] as? [String: Any])?["restock"] as? Bool == false)  // Quarantined: not restocked
        try f.fromWarehouse("RET_2.csv", header + "880102,R-77,SHOE-42,1,Quarantined,Damaged box,\(f.day(30))\r\n")
        try f.run(.importReturns)
        #expect(scayle.withLock { $0.orders[0].returns.count } == 1)
    }

    @Test func unitsTheWarehouseNeverDespatchedAreCancelledSoTheCustomerIsRefunded() throws {
        try warehouseKnows()
        scayle.addOrder(880_103, lines: [("SHOE-42", 1, 12_900), ("SHOE-43", 2, 12_900)])
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("880103", "PVX-11", "SHOE-42", 1)
                            + f.despatch("880103", "PVX-11", "SHOE-43", 1))
        try f.run(.importDespatches)
        try f.fromWarehouse("STATUS_1.csv", "Salesorder number,Status,Date\r\n880103,Despatched,\(f.day(16))\r\n")
        try f.run(.importOrderStatus)
        try f.run(.reconcile)
        let order = try #require(scayle.withLock { $0.orders.first })
        #expect(order.cancellations.count == 1 && order.items.filter { $0.status == "cancelled" }.map(\.sku) == ["SHOE-43"])
        #expect(try f.openExceptions("short-shipped").first?.message.contains("without 1 x SHOE-43") == true)
        f.now += 3600
        try f.run(.reconcile)
        #expect(scayle.withLock { $0.orders[0].cancellations.count } == 1)  // once
        let finance = try FinanceReport.build(manifest: try f.manifest(), day: "2026-11-30")
        #expect(finance.currencies.first?.cancelledCents == 12_900 && finance.currencies.first?.currency == "EUR")
        #expect(finance.differences.isEmpty)  // charged 387.00 − cancelled 129.00 = despatched 258.00
    }

    @Test func stockCarriesTheWarehousesSnapshotTimeAndAnOlderSnapshotChangesNothing() throws {
        try f.stockFile("STOCK_1.csv", [("SHOE-42", 9)], at: f.day(7))  // the warehouse's snapshot: 07:00
        try f.run(.importStock)
        let pushed = scayle.requests.filter { $0.method == "POST" && $0.path.contains("/variants/key=SHOE-42/stocks") }
        let body = try #require(pushed.first?.json as? [String: Any])
        #expect(body["changedAt"] as? String == "2026-11-30T07:00:00Z" && body["quantity"] as? Int == 9)
        #expect(body["warehouseReferenceKey"] as? String == "pvx-leeds")
        // A file from 06:00 arriving late: SCAYLE (and voxbatch's manifest) keep the 07:00 level.
        try f.stockFile("STOCK_2.csv", [("SHOE-42", 40)], at: f.day(6))
        f.now += 60
        try f.run(.importStock)
        #expect(scayle.withLock { $0.variants[0].stocks["pvx-leeds"]?.quantity } == 9)
    }
}

@Suite struct ScayleSampleTests {
    @Test func theSampleConfigurationIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = try Configuration.load(path: root.appendingPathComponent("samples/scayle/voxbatch.yml").path)
        #expect(config.storefront.kind == "scayle" && config.storefront.shopKey == "ms" && config.storefront.countryCode == "DE")
        #expect(config.storefront.token == .environment("SCAYLE_ADMIN_TOKEN"))
        #expect(config.policies.orderRetryAttempts == 4 && config.policies.orderRetryBackoffMinutes == 30)
    }
}
