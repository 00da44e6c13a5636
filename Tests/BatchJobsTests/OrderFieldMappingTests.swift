@testable import BatchJobs
import Foundation
import TestSupport
import Testing

/// `mappings.order_fields` and `required_fields`: any sales-order column from any order field, and orders
/// held back, with the field named, when a field the mapping needs is missing.
@Suite struct OrderFieldMappingTests {
    let mappings = """
        mappings:
          order_fields:
            CustomerPurchaseOrderReferenceNumber: delivery_instructions
            ContactName: gift_message
            ShippingAddressRegion: shipping.city
          required_fields: [delivery_instructions]
        """

    @Test func anyColumnIsFilledFromAnyFieldAndARequiredFieldHoldsTheOrderNamingIt() throws {
        let f = try FlowFixture(extra: mappings)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)], gift: "Ann Lee", instructions: "PO-7731"),
                               .init(number: "WEB-2", lines: [("TSH-M", 1)], gift: "Bo Chen")])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        let rows = try f.rows(ofFileStarting: "SO_")
        #expect(rows.map { $0["SalesOrderNumber"] } == ["WEB-1"])
        #expect(rows.first?["CustomerPurchaseOrderReferenceNumber"] == "PO-7731")
        #expect(rows.first?["ContactName"] == "Ann Lee" && rows.first?["ShippingAddressRegion"] == "Leeds")
        let held = try f.openExceptions("missing-field")
        #expect(held.map(\.reference) == ["WEB-2"])
        #expect(held.first?.message.contains("\"delivery_instructions\" (for CustomerPurchaseOrderReferenceNumber)") == true)
        #expect(held.first?.owner == .customerService)
    }

    @Test func unknownAndReservedColumnsAreConfigurationErrors() throws {
        #expect {
            _ = try FlowFixture(extra: "mappings:\n  order_fields:\n    SalesOrderNumber: number\n    GiftWrap: gift_message")
        } throws: { error in
            let text = "\(error)"
            return text.contains("SalesOrderNumber cannot be mapped") && text.contains("unknown sales-order column \"GiftWrap\"")
        }
    }
}
