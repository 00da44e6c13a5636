import BatchJobs
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
