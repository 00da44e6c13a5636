@testable import BatchJobs
import CSVKit
import Foundation
import Testing

@Suite struct PeoplevoxTemplateTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private func validate(_ sample: String, _ template: String, delimiter: UInt8 = UInt8(ascii: ",")) throws
        -> ValidationSummary
    {
        let path = Self.root.appendingPathComponent("samples/peoplevox/\(sample)").path
        let reader = try CSVReader(path: path, configuration: .init(delimiter: delimiter))
        return try FileValidation.run(reader: reader, template: try #require(PeoplevoxTemplates.named(template)))
    }

    @Test(arguments: [("sales-orders.csv", "sales-orders"), ("item-types.csv", "item-types"),
                      ("cancellations.csv", "cancellations"), ("expected-returns.csv", "expected-returns"),
                      ("despatches.csv", "despatches"),
                      ("stock.csv", "stock"), ("returns.csv", "returns"),
                      ("order-status.csv", "order-status")])
    func everyValidSamplePassesItsTemplate(_ sample: String, _ template: String) throws {
        let summary = try validate(sample, template)
        #expect(summary.rows > 0)
        #expect(summary.invalid == 0, "\(summary.examples)")
        #expect(summary.fileAccepted)
    }

    @Test(arguments: [("sales-orders-with-mistakes.csv", "sales-orders", 8), ("item-types-with-mistakes.csv", "item-types", 3),
                      ("despatches-with-mistakes.csv", "despatches", 4), ("returns-with-mistakes.csv", "returns", 2)])
    func everyMistakenSampleIsCaught(_ sample: String, _ template: String, _ invalid: Int) throws {
        #expect(try validate(sample, template).invalid == invalid)
    }

    @Test func templatesAreFoundByFullAndShortName() {
        #expect(PeoplevoxTemplates.named("peoplevox-despatches")?.name == "peoplevox-despatches")
        #expect(PeoplevoxTemplates.named("Despatches")?.name == "peoplevox-despatches")
        #expect(PeoplevoxTemplates.named("nope") == nil)
        #expect(Set(PeoplevoxTemplates.all.map(\.name)).count == 8)
    }

    @Test func salesOrderTemplateUsesPeoplevoxColumnNames() {
        let names = PeoplevoxTemplates.salesOrders.headerNames
        for column in ["SalesOrderNumber", "ShippingAddressPostcode", "ShippingAddressCountry", "Email", "ItemCode",
                       "QuantityOrdered", "SalePrice", "ServiceType"] {
            #expect(names.contains(column))
        }
    }
}

@Suite struct StockLevelDecoderTests {
    @Test func numbersAreReadFromTheBytesAndEachRowKeepsItsOwnTimestamp() throws {
        let text = """
            Item code,Available,On hand,Allocated,Timestamp
            A, 12 ,14,2,30/11/2026 08:00
            B,-3,+4,,30/11/2026 08:00
            C,,x,1,30/11/2026 09:30
            D,99999999999999999999,5,1,
            E,7,7,0,30/11/2026 08:00

            """
        let reader = try CSVReader(source: MemorySource(text))
        var levels: [StockLevel] = []
        var decode: ((CSVReader) -> StockLevel)?
        while try reader.next() {
            if decode == nil {
                decode = StockLevel.decoder(template: PeoplevoxTemplates.stock, header: reader.header!, fileSnapshot: 42)
            }
            levels.append(decode!(reader))
        }
        #expect(levels.map(\.itemCode) == ["A", "B", "C", "D", "E"])
        #expect(levels.map(\.available) == [12, -3, 0, 0, 7])  // blank, overflowing: 0, as Int(text) ?? 0 was
        #expect(levels.map(\.onHand) == [14, 4, 0, 5, 7])
        #expect(levels.map(\.allocated) == [2, 0, 1, 1, 0])
        let eight = 1_796_025_600  // 2026-11-30 08:00 UTC
        #expect(levels.map(\.snapshot) == [eight, eight, eight + 5400, 42, eight])
    }
}

@Suite struct SalesOrderRowTests {
    @Test func linesFillTheirColumnsAsTheTemplatesLookUpWouldEvenWhenRenamed() {
        var order = SalesOrder(number: "WEB-7", customer: "Ann Lee", email: "a@example.com", contactName: "Ann Lee",
                               shipping: Address(line1: "1 Road", city: "Leeds", postcode: "LS6 2DT", country: "GB"),
                               createdDate: "30/11/2026", lines: [.init(itemCode: "TSH-M", quantity: 2, salePrice: "9.50"),
                                                                  .init(itemCode: "HOD-L", quantity: 1)])
        order.set(column: "GiftMessage", to: "Happy birthday")
        // A warehouse that calls the item column "SKU" and the line number "LineNo" (both then aliases).
        let (renamed, unknown) = PeoplevoxTemplates.salesOrders.renamingColumns(["ItemCode": "SKU", "Line": "LineNo"])
        #expect(unknown.isEmpty)
        let template = CSVTemplate(name: renamed.name, columns: renamed.columns + [ColumnRule("GiftMessage")])
        let rows = order.rows(in: template)
        // What `template.row` makes of the whole dictionary of the order's and the line's fields.
        func expected(_ i: Int, _ line: SalesOrder.Line) -> [String] {
            var values = order.extraColumns
            values.merge(["SalesOrderNumber": "WEB-7", "Customer": "Ann Lee", "Email": "a@example.com",
                          "ContactName": "Ann Lee", "ShippingAddressLine1": "1 Road", "ShippingAddressCity": "Leeds",
                          "ShippingAddressPostcode": "LS6 2DT", "ShippingAddressCountry": "GB", "CreatedDate": "30/11/2026",
                          "IsPartialShipment": "false", "Status": order.status, "ItemCode": line.itemCode, "QuantityOrdered": String(line.quantity),
                          "Line": String(i + 1), "SalePrice": line.salePrice]) { $1 }
            return template.row(values)
        }
        #expect(rows.count == 2)
        for (i, line) in order.lines.enumerated() { #expect(rows[i] == expected(i, line)) }
        let sku = template.columns.firstIndex { $0.name == "SKU" }!, lineNo = template.columns.firstIndex { $0.name == "LineNo" }!
        #expect(rows.map { $0[sku] } == ["TSH-M", "HOD-L"] && rows.map { $0[lineNo] } == ["1", "2"])
        #expect(rows.allSatisfy { $0[template.columns.count - 1] == "Happy birthday" })
    }

    @Test func packedRowsAreTheBytesOfTheRowsPacked() {
        // Multi-byte text, an empty line column and a value with the separators' neighbours (tab, newline).
        var order = SalesOrder(number: "WEB-8", customer: "Zoë Ørsted", email: "z@example.com", contactName: "Zoë",
                               shipping: Address(line1: "Straße 1\tHof", line2: "2. OG\nlinks", city: "Köln",
                                                 postcode: "50667", country: "DE"),
                               createdDate: "01/12/2026", lines: [.init(itemCode: "TSH-M", quantity: 12, salePrice: "9.50"),
                                                                  .init(itemCode: "HOD-L", quantity: 1),
                                                                  .init(itemCode: "CAP-🧢", quantity: 3, salePrice: "4")])
        order.set(column: "GiftMessage", to: "Alles Gute")
        let template = CSVTemplate(name: "so", columns: PeoplevoxTemplates.salesOrders.columns + [ColumnRule("GiftMessage")])
        let layout = SalesOrder.Layout(template)
        let packed = order.packedRows(in: layout)
        let rows = order.rows(in: layout)
        #expect(packed.bytes == OutboundPipeline.pack(rows))
        #expect(packed.bytes.capacity < packed.bytes.count + 32)  // measured first: no spare capacity held
        #expect(packed.rows == 3 && packed.fieldCount == 3 * template.columns.count)
        let validator = TemplateValidator(template: template, header: CSVHeader(template.headerNames))
        var ends: [Int32] = [], errors: [FieldError] = []
        #expect(OutboundPipeline.validate(packed: packed, with: validator, ends: &ends, into: &errors))
        // A separator inside a field makes the count disagree, so the record is checked field by field.
        order.set(column: "GiftMessage", to: "a\u{1F}b")
        #expect(!OutboundPipeline.validate(packed: order.packedRows(in: layout), with: validator, ends: &ends, into: &errors))
    }
}
