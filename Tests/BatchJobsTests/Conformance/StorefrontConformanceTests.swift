@testable import BatchJobs
import FileTransport
import Foundation
import TestSupport
import Testing

/// What every storefront connector must do, run against each one's fixture (see `StorefrontHarness`).
/// A connector is listed in `ConformingStorefront`, and accepted by the configuration, only once it
/// passes all of it.
@Suite struct StorefrontConformanceTests {
    static let catalogue: [(sku: String, stock: Int)] = [("TSH-M", 5), ("HOD-L", 2), ("SCK-S", 0)]

    /// Orders 1001...1000+n ready, a few that are not, one cancelled.
    func seeded(_ kind: ConformingStorefront, ready n: Int = 3) throws -> any StorefrontHarness {
        let h = try kind.harness()
        var orders = (1...n).map { SeedOrder(id: 1000 + $0, lines: [("TSH-M", 2, "12.00"), ("HOD-L", 1, "45.00")]) }
        orders += (1...3).map { SeedOrder(id: 2000 + $0, ready: false, lines: [("TSH-M", 1, "12.00")]) }
        orders.append(SeedOrder(id: 3001, cancelled: true, lines: [("SCK-S", 1, "4.00")]))
        try h.seed(products: Self.catalogue, orders: orders)
        return h
    }

    func package(_ order: String, _ package: String, _ lines: [(String, Int)], last: Bool) -> Fulfilment {
        Fulfilment(orderNumber: order, package: package, carrier: "DPD", service: "Next Day", trackingNumber: "TRK-\(package)",
                   despatchDate: "2026-11-30T15:10:00Z", lines: lines.map { (sku: $0.0, quantity: $0.1) }, completesOrder: last)
    }

    // MARK: - Reading

    @Test(arguments: ConformingStorefront.allCases)
    func ordersByStatusComeWholeAcrossSeveralPages(kind: ConformingStorefront) throws {
        let probe = try kind.harness()
        let h = try seeded(kind, ready: probe.pageSize * 2 + 5)
        let orders = try h.connect().orders(statuses: [h.readyStatus])
        #expect(orders.count == h.pageSize * 2 + 5)
        #expect(orders.map(\.number) == (1...(h.pageSize * 2 + 5)).map { h.number(String(1000 + $0)) })
        let first = try #require(orders.first)
        #expect(first.lines.map(\.sku) == ["TSH-M", "HOD-L"] && first.lines.map(\.quantity) == [2, 1])
        #expect(first.shipping.line1 == "14 Mill Lane" && first.shipping.postcode == "LS6 2DT" && first.shipping.country == "GB")
        #expect(first.shipping.name == "Amelia Hart" && first.email == "amelia@example.com")
        #expect(first.service.lowercased() == "express")
        #expect(first.fields["gift_message"] == "Happy birthday")
        #expect(try h.connect().orders(statuses: [h.cancelledStatus]).map(\.number) == [h.number("3001")])
    }

    @Test(arguments: ConformingStorefront.allCases)
    func anOrderByNumberShowsWhatWasFulfilledAndRefundedSoFar(kind: ConformingStorefront) throws {
        let h = try seeded(kind)
        let shop = try h.connect()
        try shop.fulfil(package(h.number("1001"), "DSP-1", [("TSH-M", 2)], last: false))
        try shop.refund(Refund(orderNumber: h.number("1001"), returnNumber: "RMA-1", sku: "TSH-M", quantity: 1, restock: true,
                               reason: "Too small"))
        try shop.flush()
        let order = try #require(try h.connect().order(number: h.number("1001")))
        #expect(order.lines.map(\.fulfilled) == [2, 0] && order.lines.map(\.refunded) == [1, 0])
        #expect(order.fulfilmentIDs == ["DSP-1/TSH-M"] && order.refundIDs == ["RMA-1/TSH-M"])
        #expect(try h.connect().order(number: h.number("9999")) == nil)
    }

    @Test(arguments: ConformingStorefront.allCases)
    func aCheckReadsOnePageOfOrdersAndProductsAndWritesNothing(kind: ConformingStorefront) throws {
        let probe = try kind.harness()
        let h = try seeded(kind, ready: probe.pageSize + 5)
        let found = try h.connect().check(readyStatuses: [h.readyStatus])
        #expect(found.storefront == kind.rawValue)
        #expect(found.readyOrders >= 1 && found.readyOrders <= h.pageSize)
        #expect(found.totalReadyOrders == (h.countsReadyOrders ? h.pageSize + 5 : nil))
        #expect(found.products >= Self.catalogue.count && found.exampleOrders.first == h.number("1001"))
        #expect(try h.fulfilmentLines(order: h.number("1001")).isEmpty && h.cancellations(order: h.number("1001")).isEmpty)
        if let http = h as? any HTTPStorefrontHarness {
            #expect(http.onlyReads)
            #expect(http.requestCount == 2)  // one page of each
        }
    }

    // MARK: - Fulfilment

    @Test(arguments: ConformingStorefront.allCases)
    func aPackageFulfilledTwiceFromNewProcessesIsRecordedOnce(kind: ConformingStorefront) throws {
        let h = try seeded(kind)
        for _ in 0..<2 {  // a rerun after a crash: a new connector, nothing remembered
            let shop = try h.connect()
            try shop.fulfil(package(h.number("1001"), "DSP-1", [("TSH-M", 2)], last: false))
            try shop.flush()
        }
        #expect(try h.fulfilmentLines(order: h.number("1001")) == ["DSP-1/TSH-M=2"])
        #expect(try h.status(order: h.number("1001")) == h.readyStatus)  // not complete: HOD-L has not left
    }

    @Test(arguments: ConformingStorefront.allCases)
    func theOrderCompletesOnlyWithItsLastPackage(kind: ConformingStorefront) throws {
        let h = try seeded(kind)
        var shop = try h.connect()
        try shop.fulfil(package(h.number("1002"), "DSP-1", [("TSH-M", 1)], last: false))
        try shop.flush()
        shop = try h.connect()
        try shop.fulfil(package(h.number("1002"), "DSP-2", [("TSH-M", 1)], last: false))
        try shop.flush()
        #expect(try h.status(order: h.number("1002")) == h.readyStatus)
        shop = try h.connect()
        try shop.fulfil(package(h.number("1002"), "DSP-3", [("HOD-L", 1)], last: true))
        try shop.flush()
        #expect(try h.fulfilmentLines(order: h.number("1002")) == ["DSP-1/TSH-M=1", "DSP-2/TSH-M=1", "DSP-3/HOD-L=1"])
        #expect(try h.status(order: h.number("1002")) == "completed")
    }

    // MARK: - Stock

    @Test(arguments: ConformingStorefront.allCases)
    func stockIsSetAbsolutelyAndUnknownSKUsAreReturned(kind: ConformingStorefront) throws {
        let h = try seeded(kind)
        var shop = try h.connect()
        var levels: [(sku: String, quantity: Int)] = [("TSH-M", 7), ("HOD-L", 0), ("GHOST-1", 4)]
        if let unmanaged = h.unmanagedSKU { levels.append((unmanaged, 9)) }
        #expect(try shop.setStock(levels) == ["GHOST-1"])
        try shop.flush()
        shop = try h.connect()
        _ = try shop.setStock([("TSH-M", 7)])  // the same value again: still 7, not 14
        try shop.flush()
        #expect(try h.stock(sku: "TSH-M") == 7 && h.stock(sku: "HOD-L") == 0)
        if let unmanaged = h.unmanagedSKU { #expect(try h.stock(sku: unmanaged) == nil) }  // left alone
    }

    // MARK: - Refunds and cancellations

    @Test(arguments: ConformingStorefront.allCases)
    func aRefundMadeTwiceIsRecordedOnceWithItsRestockFlag(kind: ConformingStorefront) throws {
        let h = try seeded(kind)
        let shipper = try h.connect()  // goods come back after they left
        try shipper.fulfil(package(h.number("1001"), "DSP-1", [("TSH-M", 2), ("HOD-L", 1)], last: true))
        try shipper.flush()
        for _ in 0..<2 {
            let shop = try h.connect()
            try shop.refund(Refund(orderNumber: h.number("1001"), returnNumber: "RMA-1", sku: "TSH-M", quantity: 1, restock: true,
                                   reason: "Too small"))
            try shop.refund(Refund(orderNumber: h.number("1001"), returnNumber: "RMA-1", sku: "HOD-L", quantity: 1, restock: false,
                                   reason: "Faulty"))
            try shop.flush()
        }
        let refunds = try h.refunds(order: h.number("1001"))
        #expect(refunds.map(\.id) == ["RMA-1/TSH-M", "RMA-1/HOD-L"])
        #expect(refunds.map(\.restock) == [true, false])
    }

    @Test(arguments: ConformingStorefront.allCases)
    func cancellationOutcomesAreRecordedOnce(kind: ConformingStorefront) throws {
        let h = try seeded(kind)
        for _ in 0..<2 {
            let shop = try h.connect()
            try shop.recordCancellation(orderNumber: h.number("3001"), outcome: .withheld, detail: "not sent")
            try shop.recordCancellation(orderNumber: h.number("1003"), outcome: .tooLate, detail: "Picking in the warehouse")
            try shop.flush()
        }
        #expect(try h.cancellations(order: h.number("3001")) == ["withheld"])
        #expect(try h.cancellations(order: h.number("1003")) == ["too-late"])
    }

    // MARK: - Faults (storefronts over HTTP)

    @Test(arguments: ConformingStorefront.overHTTP)
    func busyAndFailingAnswersToReadsAreRetried(kind: ConformingStorefront) throws {
        let h = try #require(try seeded(kind) as? any HTTPStorefrontHarness)
        h.fail(.orderListing, with: .json(["code": "too_many_requests"], status: 429, headers: ["Retry-After": "3"]))
        h.fail(.orderListing, with: .json(["message": "maintenance"], status: 503))
        h.fail(.orderListing, with: HTTPServerFixture.Response.json([["id": 1]]).cutBody(afterBytes: 5))
        #expect(try h.connect().orders(statuses: [h.readyStatus]).count == 3)
        #expect(h.waits.first == 3)  // the server's Retry-After, not the backoff
        #expect(h.count(.orderListing) == 4)
    }

    @Test(arguments: ConformingStorefront.overHTTP)
    func aServerSlowerThanTheTimeoutIsATransientError(kind: ConformingStorefront) throws {
        let h = try #require(try seeded(kind) as? any HTTPStorefrontHarness)
        for _ in 0..<4 { h.fail(.orderListing, with: HTTPServerFixture.Response.json([]).delayed(2)) }
        #expect {
            try h.connect(timeout: 1).orders(statuses: [h.readyStatus])
        } throws: { error in
            (error as? StorefrontError)?.isTransient == true
        }
    }

    @Test(arguments: ConformingStorefront.overHTTP)
    func refusedCredentialsArePermanentAndNameTheirSourceNeverTheirValue(kind: ConformingStorefront) throws {
        let h = try #require(try seeded(kind) as? any HTTPStorefrontHarness)
        let (shop, secret, source) = try h.connectWithWrongCredentials()
        #expect {
            try shop.orders(statuses: [h.readyStatus])
        } throws: { error in
            let e = error as? StorefrontError
            return e?.isTransient == false && e?.message.contains(source) == true && e?.message.contains("HTTP 401") == true
                && !"\(error)".contains(secret)
        }
        #expect(h.requestCount == 1)  // a refusal is not retried
    }

    @Test(arguments: ConformingStorefront.overHTTP)
    func aWriteThatMayHaveReachedTheShopIsLookedUpNotResent(kind: ConformingStorefront) throws {
        let h = try #require(try seeded(kind) as? any HTTPStorefrontHarness)
        // The shop records the package, and its answer is lost (a 502 from a proxy, a cut connection).
        h.failAfterApplying(.fulfilmentWrite(order: h.number("1001")), with: .json(["message": "bad gateway"], status: 502))
        #expect(throws: StorefrontError.self) {
            try h.connect().fulfil(package(h.number("1001"), "DSP-1", [("TSH-M", 2)], last: false))
        }
        h.failAfterApplying(.refundWrite(order: h.number("1001")),
                            with: HTTPServerFixture.Response.json(["id": 1]).cutBody(afterBytes: 3))
        #expect(throws: StorefrontError.self) {
            try h.connect().refund(Refund(orderNumber: h.number("1001"), returnNumber: "RMA-1", sku: "TSH-M", quantity: 1,
                                          restock: true, reason: "Too small"))
        }
        // The rerun finds both in the shop and adds neither again.
        let shop = try h.connect()
        try shop.fulfil(package(h.number("1001"), "DSP-1", [("TSH-M", 2)], last: false))
        try shop.refund(Refund(orderNumber: h.number("1001"), returnNumber: "RMA-1", sku: "TSH-M", quantity: 1, restock: true,
                               reason: "Too small"))
        #expect(try h.fulfilmentLines(order: h.number("1001")) == ["DSP-1/TSH-M=2"])
        #expect(try h.refunds(order: h.number("1001")).map(\.id) == ["RMA-1/TSH-M"])
        #expect(h.count(.fulfilmentWrite(order: h.number("1001"))) == 1)
        #expect(h.count(.refundWrite(order: h.number("1001"))) == 1)
    }
}
