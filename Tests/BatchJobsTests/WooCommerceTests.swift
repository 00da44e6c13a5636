@testable import BatchJobs
import FileTransport
import Foundation
import TestSupport
import Testing

@Suite struct WooCommerceTests {
    let woo: WooCommerceFixture
    let f: FlowFixture

    init() throws {
        (woo, f) = try Self.setUp(epoch: .fixtureDay)
    }

    /// A WooCommerce fixture server and a client of it whose clock starts on `epoch`.
    static func setUp(epoch: Epoch) throws -> (WooCommerceFixture, FlowFixture) {
        let woo = try WooCommerceFixture()
        let secrets = try secretFiles([("key", "ck_test"), ("secret", "cs_test")], prefix: "voxbatch-woo")
        let f = try FlowFixture(epoch: epoch, extra: "mappings:\n  extra_columns:\n    SalesOrderAttribute1: gift_message", storefront: """
            storefront:
              type: woocommerce
              url: \(woo.server.baseURL)
              key_file: \(secrets.appendingPathComponent("key").path)
              secret_file: \(secrets.appendingPathComponent("secret").path)
              tracking_meta_key: _wc_shipment_tracking_items
              requests_per_second: 0
            """)
        return (woo, f)
    }

    /// A catalogue: a simple product, a variable product with two variations, one without managed stock.
    func catalogue() {
        woo.products = [
            ["id": 10, "name": "Crew T-shirt", "type": "simple", "sku": "TSH-M", "regular_price": "12.00", "manage_stock": true,
             "stock_quantity": 5, "weight": "180"],
            ["id": 20, "name": "Hoodie", "type": "variable", "sku": "HOD", "manage_stock": false],
            ["id": 30, "name": "Gift card", "type": "simple", "sku": "GIFT", "manage_stock": false],
        ]
        woo.variations[20] = [
            ["id": 21, "sku": "HOD-M", "manage_stock": true, "stock_quantity": 2, "attributes": [["name": "Size", "option": "M"]]],
            ["id": 22, "sku": "HOD-L", "manage_stock": "parent", "stock_quantity": 0],
        ]
    }

    @Test func ordersArePagedMappedAndSentWithRetriesOnBusyAnswers() throws {
        catalogue()
        var orders = (1...205).map { WooCommerceFixture.order(1000 + $0, lines: [(1, "TSH-M", 1, "12.00")]) }
        orders[3] = WooCommerceFixture.order(1004, lines: [(1, "TSH-M", 1, "12.00"), (2, "HOD-L", 2, "90.00")])  // a variation
        orders[4] = WooCommerceFixture.order(1005, lines: [(1, "", 1, "5.00")])  // a line without an SKU
        orders.append(WooCommerceFixture.order(2000, status: "on-hold", lines: [(1, "TSH-M", 1, "12.00")]))
        woo.orders = orders
        woo.faults = [("/orders?", .json(["code": "too_many_requests"], status: 429, headers: ["Retry-After": "1"])),
                      ("/orders?", .json(["message": "boom"], status: 500))]
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50), ("HOD-L", 9)])
        try f.run(.importStock)
        let result = try f.run(.exportOrders)
        #expect(result.summary.applied == 204)
        let sent = try f.salesOrdersSent()
        #expect(sent.count == 204 && sent["1005"] == nil && sent["2000"] == nil)
        #expect(try f.openExceptions("missing-sku").map(\.reference) == ["1005"])
        let rows = try f.rows(ofFileStarting: "SO_").filter { $0["SalesOrderNumber"] == "1004" }
        #expect(rows.map { $0["ItemCode"] } == ["TSH-M", "HOD-L"])
        #expect(rows.first?["ServiceType"] == "Express" && rows.first?["SalesOrderAttribute1"] == "Happy birthday")
        #expect(rows.first?["ContactName"] == "Amelia Hart" && rows.first?["ShippingAddressPostcode"] == "LS6 2DT")
        // The listing: three pages of 100 (after one 429 and one 500 on the first), each with the status filter.
        let listing = woo.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/wp-json/wc/v3/orders?") }
        #expect(listing.count == 5)
        #expect(listing.allSatisfy { $0.path.contains("status=processing") && $0.path.contains("per_page=100") })
        #expect(listing.suffix(3).map { $0.path.contains("page=1") || $0.path.contains("page=2") || $0.path.contains("page=3") } == [true, true, true])
    }

    @Test func despatchesBecomeNotesAndMetaAndCompleteTheOrderOnlyAtTheEnd() throws {
        catalogue()
        woo.orders = [WooCommerceFixture.order(1001, lines: [(1, "TSH-M", 2, "24.00"), (2, "HOD-M", 1, "45.00")])]
        try f.fromWarehouse("DESP_1.csv", despatchColumns + despatch("1001", "DSP-1", "TSH-M", 2))
        try f.run(.importDespatches)
        #expect(woo.writes == ["POST /wp-json/wc/v3/orders/1001/notes", "PUT /wp-json/wc/v3/orders/1001"])
        let note = try #require(woo.notes[1001]?.first)
        #expect((note["note"] as? String)?.contains("Despatched 2 x TSH-M with DPD Next Day, tracking number TRKDSP-1") == true)
        #expect(note["customer_note"] as? Bool == true)
        let put = try #require(woo.requests.last { $0.method == "PUT" }?.json as? [String: Any])
        #expect(put["status"] == nil)  // partial: not completed
        #expect((put["meta_data"] as? [[String: Any]])?.first?["key"] as? String == "_wc_shipment_tracking_items")

        // The same package again (a re-drop under another name with a changed row order): nothing is added twice.
        try f.fromWarehouse("DESP_2.csv", despatchColumns + despatch("1001", "DSP-1", "TSH-M", 2) + despatch("1001", "DSP-2", "HOD-M", 1))
        try f.run(.importDespatches)
        #expect(woo.notes[1001]?.count == 2)
        let last = try #require(woo.requests.last { $0.method == "PUT" }?.json as? [String: Any])
        #expect(last["status"] as? String == "completed")
        #expect(woo.orders[0]["status"] as? String == "completed")
    }

    @Test func stockGoesThroughTheBatchEndpointsForProductsAndVariations() throws {
        catalogue()
        woo.products += (1...120).map { ["id": 100 + $0, "name": "Sock \($0)", "type": "simple", "sku": "SCK-\($0)",
                                         "manage_stock": true, "stock_quantity": 0] as [String: Any] }
        try f.stockFile("STOCK_1.csv", [("TSH-M", 7), ("HOD-M", 3), ("HOD-L", 4), ("GIFT", 9), ("GHOST", 1)]
                        + (1...120).map { ("SCK-\($0)", $0) })
        let result = try f.run(.importStock)
        #expect(result.summary.exceptions == 1)
        #expect(try f.openExceptions("unknown-sku-stock").map(\.reference) == ["GHOST"])
        let batches = woo.requests.filter { $0.method == "POST" }
        #expect(batches.map(\.path) == ["/wp-json/wc/v3/products/20/variations/batch", "/wp-json/wc/v3/products/batch",
                                        "/wp-json/wc/v3/products/batch"])
        #expect(batches.map { ((($0.json as? [String: Any])?["update"]) as? [Any])?.count } == [2, 100, 21])
        #expect(woo.products[0]["stock_quantity"] as? Int == 7)
        #expect(woo.variations[20]?.map { $0["stock_quantity"] as? Int } == [3, 4])
        #expect(woo.products[2]["stock_quantity"] == nil)  // GIFT: stock not managed in the shop, left alone
    }

    @Test func refundsAreMadeOnceForFinalStatesWithTheAmountFromTheOrderLine() throws {
        catalogue()
        woo.orders = [WooCommerceFixture.order(1001, status: "completed", lines: [(7, "TSH-M", 2, "24.00"), (8, "HOD-M", 1, "45.00")])]
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + "1001,RMA-1,TSH-M,1,Accepted,Too small,30/11/2026 10:00\r\n"
                            + "1001,RMA-1,HOD-M,1,Pending,,30/11/2026 10:00\r\n")
        try f.run(.importReturns)
        #expect(woo.writes == ["POST /wp-json/wc/v3/orders/1001/refunds"])
        let body = try #require(woo.requests.last { $0.method == "POST" }?.json as? [String: Any])
        #expect(body["amount"] as? String == "12")
        #expect(body["restock_items"] as? Bool == true && body["api_refund"] as? Bool == true)
        #expect((body["reason"] as? String)?.contains("[voxbatch return RMA-1/TSH-M=1]") == true)
        let items = try #require(body["line_items"] as? [[String: Any]])
        #expect(items.first?["id"] as? Int == 7 && items.first?["quantity"] as? Int == 1)
        // A later file repeats the accepted line (already refunded: nothing) and accepts the pending one.
        try f.fromWarehouse("RET_2.csv", header + "1001,RMA-1,TSH-M,1,Accepted,Too small,30/11/2026 11:00\r\n"
                            + "1001,RMA-1,HOD-M,1,Quarantined,Damaged,30/11/2026 11:00\r\n")
        try f.run(.importReturns)
        #expect(woo.refunds[1001]?.count == 2)
        let second = try #require(woo.requests.last { $0.method == "POST" }?.json as? [String: Any])
        #expect(second["restock_items"] as? Bool == false && second["amount"] as? String == "45")
    }

    @Test func aMalformedAnswerIsAClearErrorNotACrash() throws {
        catalogue()
        woo.faults = [("/orders?", .init(status: 200, headers: ["Content-Type": "application/json"], body: Data("<html>oops".utf8)))]
        #expect {
            try f.run(.exportOrders)
        } throws: { error in
            let e = error as? StorefrontError
            return e?.message.contains("not the JSON WooCommerce sends") == true && e?.isTransient == false
        }
        // Nothing was sent and the manifest records the failed run.
        #expect(try f.salesOrdersSent().isEmpty)
        #expect(try f.manifest().recentRuns(job: "export-orders").first?.outcome == "failed")
    }

    @Test func credentialsNeverReachTheLogsOrErrors() throws {
        catalogue()
        woo.faults = [("/orders?", .json(["message": "boom"], status: 500)), ("/orders?", .json(["message": "boom"], status: 500)),
                      ("/orders?", .json(["message": "boom"], status: 500)), ("/orders?", .json(["message": "boom"], status: 500))]
        var message = ""
        do { try f.run(.exportOrders) } catch { message = "\(error)" }
        #expect(message.contains("HTTP 500") || message.contains("after"))
        #expect(!message.contains("cs_test") && !message.contains("ck_test"))
    }
}

@Suite struct WooCommerceSampleTests {
    @Test func theSampleConfigurationIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = try Configuration.load(path: root.appendingPathComponent("samples/woocommerce/voxbatch.yml").path)
        #expect(config.storefront.kind == "woocommerce")
        #expect(config.storefront.key == .environment("WOO_CONSUMER_KEY"))
        #expect(config.storefront.trackingMetaKey == "_wc_shipment_tracking_items")
        #expect(config.schedulePath?.hasSuffix("schedules/standard.yml") == true)
    }

    @Test func aWooCommerceStorefrontWithoutCredentialsIsAConfigurationError() {
        #expect(throws: ConfigError.self) {
            try Configuration.parse(yaml: "client: x\nwarehouse: {url: \"file:///tmp/x\"}\nstorefront: {type: woocommerce, url: \"https://shop.example\"}\n",
                                    baseDirectory: "/tmp")
        }
    }
}

extension WooCommerceTests {
    @Test func aCancelledOrderNeverSentIsWithheldAndNotedOnce() throws {
        catalogue()
        woo.orders = [WooCommerceFixture.order(1001, status: "cancelled", lines: [(1, "TSH-M", 1, "12.00")])]
        try f.run(.exportCancellations)
        f.now += 60
        try f.run(.exportCancellations)
        #expect(woo.writes == ["POST /wp-json/wc/v3/orders/1001/notes"])
        #expect((woo.notes[1001]?.first?["note"] as? String)?.contains("[voxbatch cancellation withheld]") == true)
        let listing = try #require(woo.requests.first { $0.path.hasPrefix("/wp-json/wc/v3/orders?") })
        #expect(listing.path.contains("status=cancelled") && listing.path.contains("modified_after="))
    }
}

extension WooCommerceTests {
    /// Cancelled orders are looked for from 30 days before the job's clock: an order cancelled this morning
    /// is found on any day (a look-back from the wall clock would miss it on a day years away).
    @Test(arguments: Epoch.allCases)
    func cancelledOrdersAreLookedForBackFromTheJobsClock(epoch: Epoch) throws {
        let (woo, f) = try Self.setUp(epoch: epoch)
        woo.orders = [WooCommerceFixture.order(1001, status: "cancelled", lines: [(1, "TSH-M", 1, "12.00")],
                                               at: f.day(7.25, "yyyy-MM-dd'T'HH:mm:ss"))]
        try f.run(.exportCancellations)
        let listing = try #require(woo.requests.first { $0.path.hasPrefix("/wp-json/wc/v3/orders?") })
        let query = URLComponents(string: listing.path)?.queryItems ?? []
        let since = try #require(query.first { $0.name == "modified_after" }?.value)
        #expect(WooCommerceFixture.gmt(since) == f.now.addingTimeInterval(-30 * 86_400))
        #expect(woo.writes == ["POST /wp-json/wc/v3/orders/1001/notes"])
    }

    @Test func aCancellationRequestIsNotedFromOneListingOfCancelledOrders() throws {
        catalogue()
        woo.orders = [WooCommerceFixture.order(1001, lines: [(1, "TSH-M", 1, "12.00")])]
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        woo.orders = [WooCommerceFixture.order(1001, status: "cancelled", lines: [(1, "TSH-M", 1, "12.00")])]
        let before = woo.requests.count
        try f.run(.exportCancellations)
        let run = woo.requests.dropFirst(before)
        #expect(run.filter { $0.method == "GET" && $0.path.contains("status=cancelled") }.count == 1)
        #expect(run.filter { $0.method == "POST" }.map(\.path) == ["/wp-json/wc/v3/orders/1001/notes"])
        #expect((woo.notes[1001]?.last?["note"] as? String)?.contains("[voxbatch cancellation requested]") == true)
    }
}

extension WooCommerceTests {
    @Test func cutConnectionsToTheShopNeverAddANoteOrARefundTwice() throws {
        catalogue()
        woo.orders = (1...30).map { WooCommerceFixture.order(1000 + $0, lines: [(1, "TSH-M", 1, "12.00")]) }
        final class Plan: @unchecked Sendable {
            var rng: UInt64 = 7
            func next(_ n: Int) -> FaultProxy.Fault {
                guard n < 60, n % 3 == 1 else { return .none }  // every third connection of the first 60 is cut
                rng = rng &* 6_364_136_223_846_793_005 &+ 1
                return .cut(afterBytes: 300 + Int((rng >> 33) % 1500))  // often after the request reached the shop
            }
        }
        let plan = Plan()
        let proxy = try FaultProxy(targetPort: woo.server.port) { plan.next($0) }
        defer { proxy.stop() }
        let yml = try String(contentsOfFile: f.root + "/voxbatch.yml", encoding: .utf8)
            .replacingOccurrences(of: "127.0.0.1:\(woo.server.port)", with: "127.0.0.1:\(proxy.port)")
        try yml.write(toFile: f.root + "/voxbatch.yml", atomically: true, encoding: .utf8)
        let proxied = try Configuration.load(path: f.root + "/voxbatch.yml")
        try f.fromWarehouse("DESP_1.csv", despatchColumns + (1...30).map { despatch(String(1000 + $0), "DSP-\($0)", "TSH-M", 1) }.joined())
        var runs = 0
        while runs < 40 {
            runs += 1
            if (try? JobRunner(configuration: proxied, clock: { [f] in f.now }).run(.importDespatches)) != nil { break }
        }
        #expect(proxy.faults >= 10)
        for id in 1001...1030 {
            let notes = woo.notes[id] ?? []
            #expect(notes.count == 1, "order \(id) has \(notes.count) despatch notes")
        }
        #expect(woo.orders.allSatisfy { $0["status"] as? String == "completed" })
    }
}
