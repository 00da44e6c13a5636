@testable import BatchJobs
import CSVKit
import FileTransport
import Foundation
import TestSupport
import Testing

@Suite struct ExportOrdersTests {
    /// A day when no SKU reaches the warehouse: every order, over more than one page, is held with one exception
    /// (raised a page at a time), counted again only once its backoff has passed; none is sent.
    @Test(arguments: StateBackend.allCases)
    func everyOrderHeldOnADayOfUnknownSKUsHasOneExceptionCountedOnlyWhenDue(backend: StateBackend) throws {
        let f = try FlowFixture(backend: backend)
        try f.products(["TSH-M"])
        try f.orders("a.csv", (1...1_205).map { .init(number: "WEB-\($0)", lines: [("TSH-M", 1)]) })
        let first = try f.run(.exportOrders)  // no stock file yet: the warehouse knows no SKU
        #expect(first.summary.exceptions == 1_205 && first.summary.applied == 0)
        func counts() throws -> [Int] { try f.openExceptions("unknown-sku").map(\.occurrences) }
        #expect(try counts() == Array(repeating: 1, count: 1_205))
        f.now += 60
        #expect(try f.run(.exportOrders).summary.exceptions == 1_205)
        #expect(try counts() == Array(repeating: 1, count: 1_205))  // not due yet
        f.now += 86_400
        try f.run(.exportOrders)
        #expect(try counts() == Array(repeating: 2, count: 1_205))
        #expect(try f.salesOrdersSent().isEmpty)
    }

    @Test func theOrderFilesColumnsAreReadByTheirPositions() {
        // OrderExports reads fields by `OrderColumn`, looked up in the header in `orderColumns`' order.
        #expect(OrderColumn.allCases.count == FileStorefront.orderColumns.count)
        #expect(FileStorefront.orderColumns[OrderColumn.orderNumber.rawValue] == "order_number")
        #expect(FileStorefront.orderColumns[OrderColumn.shippingCost.rawValue] == "shipping_cost")
        #expect(FileStorefront.orderColumns[OrderColumn.customerNote.rawValue] == "customer_note")
        #expect(FileStorefront.orderColumns[OrderColumn.price.rawValue] == "price")
        let camel = OrderColumn.allCases.map { "\($0)".lowercased() }
        let snake = FileStorefront.orderColumns.map { $0.replacingOccurrences(of: "_", with: "") }
        #expect(camel == snake)
    }

    @Test func createdDatesAreWrittenAsPeoplevoxReadsThem() {
        #expect(ExportOrdersFlow.peoplevoxDate("2026-11-30T14:05:09Z") == "30/11/2026 14:05")
        #expect(ExportOrdersFlow.peoplevoxDate("2026-01-02T03:04") == "02/01/2026 03:04")
        #expect(ExportOrdersFlow.peoplevoxDate("30/11/2026 14:05") == "30/11/2026 14:05")  // already so: kept
        #expect(ExportOrdersFlow.peoplevoxDate("2026-11-30") == "2026-11-30")  // no time: kept
        // Other text where the digits should be: cut by characters, not bytes; too short: kept.
        #expect(ExportOrdersFlow.peoplevoxDate("2026-11-3ØT14:05") == "3Ø/11/2026 14:05")
        #expect(ExportOrdersFlow.peoplevoxDate("2026-ØØ-ØØ") == "2026-ØØ-ØØ")
    }

    @Test(arguments: [("GB", "GB"), ("UK", "GB"), ("United Kingdom", "GB"), ("u.s.a.", "US"), ("DE", "DE"), ("ZZ", "ZZ")])
    func countriesAreCodedWhateverTheirCase(_ written: String, _ code: String) {
        #expect(PostcodeRules.countryCode(written) == code)
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func anUnknownSKUHoldsBackOnlyItsOrderUntilTheWarehouseKnowsTheSKU(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)]),
                               .init(number: "WEB-2", lines: [("TSH-M", 1), ("LEGACY-9", 2)]),
                               .init(number: "WEB-3", lines: [("HOD-L", 1)], gift: "Happy birthday")])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 5), ("HOD-L", 5)])
        try f.run(.importStock)
        let first = try f.run(.exportOrders)
        #expect(first.outcome == "completed-with-exceptions")
        #expect(try f.salesOrdersSent().keys.sorted() == ["WEB-1", "WEB-3"])
        let unknown = try f.openExceptions("unknown-sku")
        #expect(unknown.map(\.reference) == ["WEB-2"])
        #expect(unknown.first?.owner == .merchandising)
        #expect(unknown.first?.message.contains("\"LEGACY-9\"") == true)
        // The operational fields travel: the gift message in its mapped attribute, the service type.
        let rows = try f.rows(ofFileStarting: "SO_")
        #expect(rows.first { $0["SalesOrderNumber"] == "WEB-3" }?["ServiceType"] == "express")
        #expect(rows.first { $0["SalesOrderNumber"] == "WEB-3" }?["SalesOrderAttribute1"] == "")  // no mapping given
        #expect(rows.first { $0["SalesOrderNumber"] == "WEB-1" }?["ShippingAddressPostcode"] == "LS6 2DT")

        // Rerun: nothing is re-sent; the failing order is tried again once its backoff (15 min) has passed
        // (one exception, two attempts).
        f.now += 300
        #expect(try f.run(.exportOrders).summary.applied == 0)
        #expect(try f.openExceptions("unknown-sku").first?.occurrences == 1)
        f.now += 600
        #expect(try f.run(.exportOrders).summary.applied == 0)
        #expect(try f.openExceptions("unknown-sku").first?.occurrences == 2)

        // The warehouse now reports the SKU: the order goes out, and its exception closes by itself.
        try f.stockFile("STOCK_2.csv", [("LEGACY-9", 3)], at: f.day(9))
        try f.run(.importStock)
        f.now += 300
        #expect(try f.run(.exportOrders).summary.applied == 1)
        #expect(try f.salesOrdersSent()["WEB-2"]?.count == 1)
        #expect(try f.openExceptions("unknown-sku").isEmpty)
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func extraColumnsAreCarriedByTheYAMLMapping(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend, extra: """
            mappings:
              extra_columns:
                SalesOrderAttribute1: gift_message
            """)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-3", lines: [("TSH-M", 1)], gift: "Happy birthday")])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 5)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        #expect(try f.rows(ofFileStarting: "SO_").first?["SalesOrderAttribute1"] == "Happy birthday")
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func missingOrInvalidPostcodesAreExceptionsForCustomerService(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", postcode: "", lines: [("TSH-M", 1)]),
                               .init(number: "WEB-2", postcode: "LS6", lines: [("TSH-M", 1)]),
                               .init(number: "WEB-3", postcode: "10115", country: "Germany", lines: [("TSH-M", 1)]),
                               .init(number: "WEB-4", lines: [("TSH-M", 0)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 5)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        #expect(try f.salesOrdersSent().keys.sorted() == ["WEB-3"])
        let rows = try f.rows(ofFileStarting: "SO_")
        #expect(rows.first?["ShippingAddressCountry"] == "DE")  // country names become ISO codes
        let problems = try f.openExceptions()
        #expect(problems.map(\.kind) == ["invalid-address", "invalid-address", "invalid-quantity"])
        #expect(problems[0].message.contains("no postcode"))
        #expect(problems[1].message.contains("\"LS6\" is not a valid GB postcode"))
        #expect(problems.allSatisfy { $0.owner == .customerService })
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func anOrderTheShopSendsTwiceBecomesOneSalesOrder(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend, extra: "policies:\n  max_orders_per_file: 2")
        try f.products(["TSH-M"])
        let orders: [FlowFixture.Order] = (1...5).map { .init(number: "WEB-\($0)", lines: [("TSH-M", 1)]) }
        try f.orders("a.csv", orders)
        try f.orders("b.csv", [orders[0], orders[3]])  // exported again
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])
        try f.run(.importStock)
        let result = try f.run(.exportOrders)
        #expect(result.summary.files.count == 3)  // 2 + 2 + 1: the per-file maximum
        f.now += 60
        try f.run(.exportOrders)  // a rerun
        let sent = try f.salesOrdersSent()
        #expect(sent.count == 5)
        #expect(sent.values.allSatisfy { $0.count == 1 })
    }

    /// The shop's values reach the warehouse byte for byte, whatever they start with; the warehouse's
    /// despatch file, made from that sales order, brings them back and completes the order.
    @Test func valuesThatStartLikeFormulasRoundTripVerbatimThroughTheWarehouse() throws {
        let f = try FlowFixture(extra: """
            mappings:
              extra_columns:
                SalesOrderAttribute1: gift_message
                SalesOrderAttribute2: delivery_instructions
            """)
        try f.products(["-TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("-TSH-M", 2)], gift: "+ happy birthday", name: "-Ann Lee",
                                     company: "@Home Ltd", address1: "=1 High St", instructions: "- ring twice -")])
        try f.run(.exportItems)
        var settings = WarehouseSimulator.Settings()
        settings.pickRate = 1
        settings.splitRate = 0
        let simulator = try WarehouseSimulator(exchange: f.exchange, settings: settings)
        try simulator.step(now: f.now)  // takes the item
        #expect(try f.run(.exportOrders).summary.applied == 1)

        let sent = try #require(try f.rows(ofFileStarting: "SO_").first)
        #expect(sent["Customer"] == "@Home Ltd" && sent["ContactName"] == "-Ann Lee")
        #expect(sent["ShippingAddressLine1"] == "=1 High St" && sent["ItemCode"] == "-TSH-M")
        #expect(sent["SalesOrderAttribute1"] == "+ happy birthday" && sent["SalesOrderAttribute2"] == "- ring twice -")
        let raw = try String(contentsOfFile: f.exchange + "/in/" + (try FileManager.default.contentsOfDirectory(atPath: f.exchange + "/in")
            .first { $0.hasPrefix("SO_") } ?? ""), encoding: .utf8)
        #expect(!raw.contains("'"), "\(raw)")

        f.now += 3600
        try simulator.step(now: f.now)  // the order is accepted and picked
        f.now += 3600
        try simulator.step(now: f.now)  // and despatched
        let despatch = try #require(try FileManager.default.contentsOfDirectory(atPath: f.exchange + "/out").first { $0.hasPrefix("DESP_") })
        #expect(try String(contentsOfFile: f.exchange + "/out/" + despatch, encoding: .utf8).contains(",-TSH-M,2,"))
        #expect(try f.run(.importDespatches).summary.applied == 1)
        let order = try #require(try f.storefront().order(number: "WEB-1"))
        #expect(order.status == "completed" && order.lines.map(\.sku) == ["-TSH-M"])
        #expect(order.shipping.company == "@Home Ltd" && order.fields["gift_message"] == "+ happy birthday")
        #expect(try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8).contains(",-TSH-M,2,true,"))
    }

    @Test func theFormulaGuardCanBeTurnedOnForAWarehouseThatOpensFilesInASpreadsheet() throws {
        let f = try FlowFixture(extra: "files:\n  guard_formulas: true")
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)], company: "@Home Ltd", address1: "=1 High St")])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 5)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        let raw = try String(contentsOfFile: f.exchange + "/in/" + (try FileManager.default.contentsOfDirectory(atPath: f.exchange + "/in")
            .first { $0.hasPrefix("SO_") } ?? ""), encoding: .utf8)
        #expect(raw.contains("WEB-1,'@Home Ltd,,'=1 High St,"))
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func dryRunSendsNothingAndRecordsNothing(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 5)])
        try f.run(.importStock)
        let dry = try f.run(.exportOrders, .init(dryRun: true))
        #expect(dry.summary.applied == 1 && dry.summary.dryRun)
        #expect(try f.salesOrdersSent().isEmpty)
        #expect(try f.run(.exportOrders).summary.applied == 1)
    }
}

@Suite struct ImportDespatchesTests {
    func sentOrder(_ f: FlowFixture, lines: [(String, Int)] = [("TSH-M", 2), ("HOD-L", 1)]) throws {
        try f.products(["TSH-M", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: lines)])
        try f.stockFile("STOCK_0.csv", [("TSH-M", 50), ("HOD-L", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func aPartialDespatchMakesOneFulfilmentPerPackageAndCompletesOnlyAtTheEnd(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend, extra: "mappings:\n  carriers:\n    DPD: dpd-uk")
        try sentOrder(f)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 1))
        try f.run(.importDespatches)
        var order = try #require(try f.storefront().order(number: "WEB-1"))
        #expect(order.status == "paid")
        #expect(order.lines.map(\.fulfilled) == [1, 0])

        try f.fromWarehouse("DESP_2.csv", despatchColumns + f.despatch("WEB-1", "DSP-2", "TSH-M", 1)
                            + f.despatch("WEB-1", "DSP-2", "HOD-L", 1))
        try f.run(.importDespatches)
        order = try #require(try f.storefront().order(number: "WEB-1"))
        #expect(order.status == "completed")
        #expect(order.isFullyFulfilled)
        let journal = try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8)
        let lines = journal.split(separator: "\n")
        #expect(lines.count == 4)  // header + 3 lines in 2 packages
        #expect(lines[1].contains("DSP-1") && lines[1].contains("dpd-uk") && lines[1].hasSuffix(",false,\(f.day(8, "yyyy-MM-dd'T'HH:mm:ss'Z'"))"))
        #expect(lines[3].contains("DSP-2") && lines[3].contains("HOD-L") && lines[3].contains(",true,"))
        // The order's history: one line per package, naming what it carried.
        let despatched = try f.manifest().orderEvents("WEB-1").filter { $0.kind == "despatched" }.map(\.detail)
        #expect(despatched.count == 2)
        // Word for word: a rerun after a crash must write the same detail, which is what makes the event once only.
        #expect(despatched.last == "package DSP-2: 1 x TSH-M, 1 x HOD-L, DPD Next Day tracking TRKDSP-2, despatched "
                + f.day(15 + 1 / 6.0))
    }

    /// A shop whose order exports are too large to index whole has each despatch file's orders read on their own:
    /// the same fulfilments and the same exceptions as with every order indexed, across two files of one run (the
    /// second sees what the first wrote), for numbers padded with spaces and a later version of an order in another
    /// export; once the files are done, any order can be looked up again.
    @Test(arguments: [false, true])
    func despatchesAreTheSameWhetherTheOrdersAreIndexedWholeOrFileByFile(fileByFile: Bool) throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2), ("HOD-L", 1)]),
                               .init(number: "WEB-2", lines: [("TSH-M", 1)]), .init(number: "WEB-3", lines: [("HOD-L", 1)])])
        try f.orders("b.csv", [.init(number: "WEB-2", lines: [("TSH-M", 1), ("HOD-L", 1)])])  // WEB-2 changed
        try f.stockFile("STOCK_0.csv", [("TSH-M", 50), ("HOD-L", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 1)
                            + f.despatch(" WEB-2 ", "DSP-2", "HOD-L", 1) + f.despatch("WEB-404", "DSP-9", "TSH-M", 1))
        try f.fromWarehouse("DESP_2.csv", despatchColumns + f.despatch("WEB-1", "DSP-3", "TSH-M", 1)
                            + f.despatch("WEB-1", "DSP-3", "HOD-L", 1) + f.despatch("WEB-2", "DSP-4", "HOD-L", 1))
        let storefront = try FileStorefront(folder: f.root + "/shop", clock: f.clock)
        storefront.orderIndexThreshold = fileByFile ? 0 : .max
        storefront.temporaryDirectory = f.root
        #expect(storefront.wantsOrderNumbersFirst == fileByFile)
        let result = try JobRunner(configuration: f.configuration, storefront: storefront, clock: f.clock)
            .run(.importDespatches)
        #expect(result.summary.files.map(\.outcome) == ["applied", "applied"])
        #expect(result.summary.applied == 4 && result.summary.exceptions == 2)
        // WEB-2's HOD-L went in the first file: the second file's is one too many.
        #expect(try f.openExceptions().map(\.kind).sorted() == ["despatch-mismatch", "unknown-order"])
        #expect(try storefront.order(number: "WEB-1")?.status == "completed")
        #expect(try storefront.order(number: "WEB-2")?.lines.map(\.fulfilled) == [0, 1])
        #expect(try storefront.order(number: "WEB-3")?.lines.map(\.fulfilled) == [0])
        let journal = try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 5)  // header + 4 lines
    }

    /// The crash window of a large shop read file by file: the lines reach the storefront's journal, and the run dies
    /// before the manifest's commit. The rerun reads the file's orders again, finds the lines in effect in the
    /// journal, and hands their finance back without writing them twice.
    @Test func aRerunAfterACrashBeforeTheCommitWritesEachLineOnceWhenOrdersAreReadFileByFile() throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2), ("HOD-L", 1)]),
                               .init(number: "WEB-2", lines: [("TSH-M", 1)])])
        let path = f.root + "/DESP_1.csv"
        try (despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 2) + f.despatch("WEB-1", "DSP-1", "HOD-L", 1))
            .write(toFile: path, atomically: true, encoding: .utf8)
        let records = [("TSH-M", 2), ("HOD-L", 1)].map {
            DespatchLine(orderNumber: "WEB-1", despatchNumber: "DSP-1", carrier: "DPD", service: "Next Day",
                         despatchDate: f.day(15), trackingNumber: "TRKDSP-1", itemCode: $0.0, quantity: $0.1)
        }
        for _ in 0..<2 {  // the run, then the rerun after it died before its commit
            let shop = try FileStorefront(folder: f.root + "/shop", clock: f.clock)
            shop.orderIndexThreshold = 0
            shop.temporaryDirectory = f.root
            let flow = ImportDespatchesFlow(configuration: f.configuration, storefront: shop, manifest: try f.manifest())
            try flow.willApplyRows(ofFile: path, configuration: CSVConfiguration(), temporaryDirectory: f.root)
            var finance: [FinanceLine] = []
            _ = try flow.apply(records, previous: [nil, nil], dryRun: false, finance: &finance)
            flow.didApplyRows()
            #expect(finance.map(\.sku) == ["TSH-M", "HOD-L"])  // handed back each time, for the commit
        }
        let journal = try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 3)  // header + each line once
        let order = try FileStorefront(folder: f.root + "/shop", clock: f.clock).order(number: "WEB-1")
        #expect(order?.lines.map(\.fulfilled) == [2, 1] && order?.status == "completed")
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func unknownOrdersAndOverDespatchesAreExceptionsNotCrashes(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try sentOrder(f, lines: [("TSH-M", 1)])
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-404", "DSP-9", "TSH-M", 1)
                            + f.despatch("WEB-1", "DSP-1", "TSH-M", 3) + f.despatch("WEB-1", "DSP-1", "SCK-X", 1))
        let result = try f.run(.importDespatches)
        #expect(result.summary.exceptions == 3 && result.summary.applied == 0)
        #expect(try f.openExceptions().map(\.kind).sorted() == ["despatch-mismatch", "unknown-order"])
        #expect(try f.storefront().order(number: "WEB-1")?.lines.first?.fulfilled == 0)
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func aCorrectedFileReDroppedUnderTheSameNameAppliesOnlyWhatWasMissing(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try sentOrder(f)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 2)
                            + "WEB-1,DSP-1,DPD,Next Day,\(f.day(15 + 1 / 6.0)),TRKDSP-1,HOD-L,one\r\n")
        let first = try f.run(.importDespatches)
        #expect(first.summary.files.first?.outcome == "partially-applied")
        #expect(FileManager.default.fileExists(atPath: f.exchange + "/error/DESP_1.errors.csv"))
        // Ops fix the row from the error report and drop the file again under the same name.
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 2)
                            + f.despatch("WEB-1", "DSP-1", "HOD-L", 1))
        let second = try f.run(.importDespatches)
        #expect(second.summary.applied == 1 && second.summary.skipped == 1)
        #expect(try f.storefront().order(number: "WEB-1")?.status == "completed")
        let files = try f.manifest().files(flow: "despatches")
        #expect(files.map(\.status) == [.applied, .superseded])
        let journal = try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 3)  // each line recorded once
    }

    /// Error reports are for people, who open them in a spreadsheet: a hostile value in a rejected row
    /// is guarded there (while the files for the warehouse stay verbatim).
    @Test func theErrorReportGuardsFormulasFromTheWarehousesFile() throws {
        let f = try FlowFixture()
        try sentOrder(f)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 2)
                            + "WEB-1,=HYPERLINK(\"http://evil.example\"),DPD,Next Day,\(f.day(15)),T1,HOD-L,one\r\n")
        #expect(try f.run(.importDespatches).summary.failed == 1)
        let report = try String(contentsOfFile: f.exchange + "/error/DESP_1.errors.csv", encoding: .utf8)
        #expect(report.contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""), "\(report)")
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func theSameFileDroppedAgainUnderAnotherNameIsADuplicate(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try sentOrder(f)
        let text = despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 2)
        try f.fromWarehouse("DESP_1.csv", text)
        try f.run(.importDespatches)
        try f.fromWarehouse("DESP_1_copy.csv", text)
        #expect(try f.run(.importDespatches).summary.files.map(\.outcome) == ["duplicate"])
        #expect(try f.storefront().order(number: "WEB-1")?.lines.first?.fulfilled == 2)
    }

    /// The shop's orders cannot be kept for look-ups (a full disk, a work folder that cannot be made): a named
    /// error before any package is applied, and the next run, with room again, applies the file.
    @Test func ordersThatCannotBeKeptStopTheImportBeforeAnyPackage() throws {
        let f = try FlowFixture()
        try sentOrder(f)
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 2))
        let shop = try f.storefront()
        shop.temporaryDirectory = f.root + "/shop/products.csv/tmp"  // under a file: no folder can be made
        do {
            _ = try JobRunner(configuration: f.configuration, storefront: shop, clock: f.clock).run(.importDespatches)
            Issue.record("the import ran without the shop's orders")
        } catch let error as OrderStoreError {
            #expect(error.errno == ENOTDIR)
            #expect(error.description.hasPrefix("cannot keep the shop's orders for look-ups in \(f.root)/shop/products.csv/tmp"))
        }
        let journal = f.root + "/shop/updates/fulfilments.csv"
        #expect((try? String(contentsOfFile: journal, encoding: .utf8))?.split(separator: "\n").count ?? 0 <= 1)
        let result = try f.run(.importDespatches)
        #expect(result.summary.applied == 1)
        #expect(try f.storefront().order(number: "WEB-1")?.lines.first?.fulfilled == 2)
    }
}

@Suite struct ImportStockTests {
    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func availabilityIsTheWarehouseFigureMinusTheBufferNeverBelowZero(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend, extra: "policies:\n  stock_buffer: 2\n  stock_buffer_per_sku:\n    HOD-L: 10")
        try f.products(["TSH-M", "HOD-L", "SCK-S"])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 12), ("HOD-L", 15), ("SCK-S", 1), ("GHOST-1", 4)])
        let result = try f.run(.importStock)
        #expect(try f.storefront().stockLevels() == ["TSH-M": 10, "HOD-L": 5, "SCK-S": 0])
        #expect(result.summary.exceptions == 1)
        let ghost = try f.openExceptions("unknown-sku-stock")
        #expect(ghost.map(\.reference) == ["GHOST-1"] && ghost.first?.owner == .merchandising)
    }

    /// A catalogue too large to hold is compared with each stock file's SKUs a partition at a time: the same
    /// levels and the same unknown SKUs as with the catalogue held, for codes padded with spaces and codes
    /// mapped to other SKUs; once the file is done, any SKU is checked against the whole catalogue again.
    @Test(arguments: [false, true])
    func unknownSKUsAreTheSameWhetherTheCatalogueIsHeldOrPartitioned(partitioned: Bool) throws {
        let f = try FlowFixture(extra: "mappings:\n  skus:\n    MAPPED-1: WH-9\n    NOPE-8: WH-8")
        try f.products(["TSH-M", "HOD-L", "SCK-S", "MAPPED-1"])
        try f.fromWarehouse("STOCK_1.csv", "Item code,Available,On hand,Allocated,Timestamp\r\n"
                            + "TSH-M,5,5,0,\(f.day(8))\r\n HOD-L ,6,6,0,\(f.day(8))\r\nGHOST-1,7,7,0,\(f.day(8))\r\n"
                            + "WH-9,8,8,0,\(f.day(8))\r\nWH-8,9,9,0,\(f.day(8))\r\n\"broken,1,1,0,\(f.day(8))\r\n")
        let storefront = try FileStorefront(folder: f.root + "/shop", clock: f.clock)
        storefront.cataloguePartitionThreshold = partitioned ? 0 : .max
        storefront.temporaryDirectory = f.root
        #expect(storefront.wantsStockSKUsFirst == partitioned)
        let result = try JobRunner(configuration: f.configuration, storefront: storefront, clock: f.clock).run(.importStock)
        #expect(result.summary.applied == 3 && result.summary.exceptions == 2 && result.summary.failed == 1)
        #expect(try storefront.stockLevels() == ["TSH-M": 5, "HOD-L": 6, "MAPPED-1": 8])
        #expect(try f.openExceptions("unknown-sku-stock").map(\.reference).sorted() == ["GHOST-1", "WH-8"])
        // The file's SKUs are no longer the only ones asked about.
        #expect(try storefront.setStock([("SCK-S", 3), ("GHOST-2", 1)]) == ["GHOST-2"])
    }

    /// The catalogue's partitions cannot be written (a full disk, a missing folder): a named error before any
    /// level is applied, and the next run, with room again, applies the file.
    @Test func catalogueKeysThatCannotBeWrittenStopTheJobBeforeAnyLevel() throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "HOD-L"])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 5), ("HOD-L", 6)])
        let storefront = try FileStorefront(folder: f.root + "/shop", clock: f.clock)
        storefront.cataloguePartitionThreshold = 0
        storefront.temporaryDirectory = f.root + "/shop/products.csv/tmp"  // under a file: no folder can be made
        do {
            _ = try JobRunner(configuration: f.configuration, storefront: storefront, clock: f.clock).run(.importStock)
            Issue.record("the import ran without its catalogue's partitions")
        } catch let error as KeyPartitionsError {
            #expect(error.errno == ENOTDIR)
            #expect(error.description == "cannot check the file's keys against the catalogue: \(f.root)/shop/products.csv/tmp: Not a directory")
        }
        #expect(try storefront.stockLevels().isEmpty)
        let again = try FileStorefront(folder: f.root + "/shop", clock: f.clock)
        again.cataloguePartitionThreshold = 0
        again.temporaryDirectory = f.root
        let result = try JobRunner(configuration: f.configuration, storefront: again, clock: f.clock).run(.importStock)
        #expect(result.summary.applied == 2)
        #expect(try again.stockLevels() == ["TSH-M": 5, "HOD-L": 6])
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func onlyChangesArePushedUnlessFull(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M", "HOD-L"])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 12), ("HOD-L", 15)], at: f.day(8))
        try f.run(.importStock)
        try f.stockFile("STOCK_2.csv", [("TSH-M", 12), ("HOD-L", 9)], at: f.day(9))
        let delta = try f.run(.importStock)
        #expect(delta.summary.applied == 1 && delta.summary.skipped == 1)
        try f.stockFile("STOCK_3.csv", [("TSH-M", 12), ("HOD-L", 9)], at: f.day(10))
        #expect(try f.run(.importStock, .init(full: true)).summary.applied == 2)
        let journal = try String(contentsOfFile: f.root + "/shop/updates/stock.csv", encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 1 + 2 + 1 + 2)
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func anOlderStockFileArrivingLateNeverOverwritesANewerOne(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M"])
        try f.stockFile("STOCK_\(f.stamp(10)).csv", [("TSH-M", 7)], at: f.day(10))
        try f.run(.importStock)
        try f.stockFile("STOCK_\(f.stamp(8)).csv", [("TSH-M", 30)], at: f.day(8))
        let late = try f.run(.importStock)
        #expect(late.summary.applied == 0 && late.summary.skipped == 1)
        #expect(try f.storefront().stockLevels()["TSH-M"] == 7)
        #expect(try f.manifest().files(flow: "stock").count == 2)  // recorded, and skipped
    }

    /// The warehouse's item codes are noted when first seen in a stock file, and stay known.
    @Test func itemCodesSeenInStockFilesAreKnownToTheWarehouse() throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "NEW-1"])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 5)])
        try f.run(.importStock)
        #expect(try f.manifest().warehouseItems() == ["TSH-M"])
        try f.stockFile("STOCK_2.csv", [("TSH-M", 4), ("NEW-1", 2)], at: f.day(9))
        try f.run(.importStock)
        #expect(try f.manifest().warehouseItems() == ["TSH-M", "NEW-1"])
        // A code the shop does not sell: an exception, no level recorded — and still known to be held.
        try f.stockFile("STOCK_3.csv", [("TSH-M", 4), ("OLD-9", 7)], at: f.day(10))
        try f.run(.importStock)
        #expect(try f.openExceptions("unknown-sku-stock").map(\.reference) == ["OLD-9"])
        #expect(try f.manifest().warehouseItems() == ["TSH-M", "NEW-1", "OLD-9"])
    }

    @Test func theSnapshotTimeComesFromTheFileNameWhenThereIsNoTimestampColumn() {
        #expect(ImportStockFlow.snapshot(fromName: "STOCK_20261124T0800.csv") == 1_795_507_200)
        #expect(ImportStockFlow.snapshot(fromName: "STOCK_20261124T081500Z.csv") == 1_795_508_100)
        #expect(ImportStockFlow.snapshot(fromName: "stock.csv") == nil)
    }
}

@Suite struct ImportReturnsTests {
    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func onlyFinalStatesAreRefundedAndOnlySellableOnesRestocked(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M", "HOD-L", "SCK-S"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2), ("HOD-L", 1), ("SCK-S", 1)])])
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + "WEB-1,RMA-1,TSH-M,1,Accepted,Too small,\(f.day(10))\r\n"
                            + "WEB-1,RMA-1,HOD-L,1,Quarantined,Faulty,\(f.day(10))\r\n"
                            + "WEB-1,RMA-1,SCK-S,1,Pending,,\(f.day(10))\r\n")
        let first = try f.run(.importReturns)
        #expect(first.summary.applied == 2 && first.summary.skipped == 1)
        var order = try #require(try f.storefront().order(number: "WEB-1"))
        #expect(order.refundIDs == ["RMA-1/TSH-M", "RMA-1/HOD-L"])
        let journal = try String(contentsOfFile: f.root + "/shop/updates/refunds.csv", encoding: .utf8)
        #expect(journal.contains("RMA-1/TSH-M,WEB-1,RMA-1,TSH-M,1,10,true"))
        #expect(journal.contains("RMA-1/HOD-L,WEB-1,RMA-1,HOD-L,1,10,false"))

        // The pending line reaches a final state in a later file; the others are not refunded twice.
        try f.fromWarehouse("RET_2.csv", header + "WEB-1,RMA-1,TSH-M,1,Accepted,Too small,\(f.day(10))\r\n"
                            + "WEB-1,RMA-1,SCK-S,1,Accepted,,\(f.day(33))\r\n")
        let second = try f.run(.importReturns)
        #expect(second.summary.applied == 1 && second.summary.skipped == 1)
        order = try #require(try f.storefront().order(number: "WEB-1"))
        #expect(order.refundIDs.count == 3)
        #expect(order.lines.map(\.refunded) == [1, 1, 1])
    }
}

extension ImportReturnsTests {
    /// A shop whose order exports are too large to index whole has each returns file's orders read on their own:
    /// the same refunds and the same unknown order as with every order indexed.
    @Test(arguments: [false, true])
    func returnsAreTheSameWhetherTheOrdersAreIndexedWholeOrFileByFile(fileByFile: Bool) throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2), ("HOD-L", 1)]),
                               .init(number: "WEB-2", lines: [("TSH-M", 1)])])
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + " WEB-1 ,RMA-1,TSH-M,1,Accepted,Too small,\(f.day(10))\r\n"
                            + "WEB-404,RMA-2,TSH-M,1,Accepted,,\(f.day(10))\r\n")
        let storefront = try FileStorefront(folder: f.root + "/shop", clock: f.clock)
        storefront.orderIndexThreshold = fileByFile ? 0 : .max
        storefront.temporaryDirectory = f.root
        let result = try JobRunner(configuration: f.configuration, storefront: storefront, clock: f.clock)
            .run(.importReturns)
        #expect(result.summary.applied == 1 && result.summary.exceptions == 1)
        #expect(try f.openExceptions().map(\.kind) == ["unknown-order"])
        #expect(try storefront.order(number: "WEB-1")?.refundIDs == ["RMA-1/TSH-M"])
        #expect(try storefront.order(number: "WEB-2")?.refundIDs == [])
    }
}

@Suite struct ExportReturnsTests {
    /// A returns (RMA) file as the shop exports it.
    func announce(_ f: FlowFixture, _ file: String, _ rows: [String]) throws {
        try FileManager.default.createDirectory(atPath: f.root + "/shop/returns", withIntermediateDirectories: true)
        try ((FileStorefront.returnColumns.joined(separator: ",") + "\n") + rows.map { $0 + "\n" }.joined())
            .write(toFile: f.root + "/shop/returns/" + file, atomically: true, encoding: .utf8)
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func aReturnAnnouncedInTheShopGoesToTheWarehouseOnceAndIsRefundedOnlyWhenItArrives(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend, extra: "mappings:\n  skus:\n    tee-m: TSH-M")
        try f.products(["tee-m", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("tee-m", 2), ("HOD-L", 1)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50), ("HOD-L", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        let created = f.day(9, "yyyy-MM-dd'T'HH:mm:ss'Z'")
        try announce(f, "r1.csv", ["RMA-1,WEB-1,tee-m,1,Too small,\(created)", "RMA-1,WEB-1,HOD-L,1,Faulty,\(created)",
                                   "RMA-2,WEB-404,tee-m,1,Changed mind,\(created)", "RMA-3,WEB-1,GHOST-1,1,,\(created)"])
        f.now += 3600
        let result = try f.run(.exportReturns)
        #expect(result.summary.applied == 1 && result.summary.exceptions == 2)
        let rows = try f.rows(ofFileStarting: "RMA_")
        #expect(rows.map { $0["ItemCode"] } == ["TSH-M", "HOD-L"])  // SKUs as the warehouse knows them
        #expect(rows.allSatisfy { $0["ReturnNumber"] == "RMA-1" && $0["SalesOrderNumber"] == "WEB-1" })
        #expect(rows.first?["RequestedDate"] == f.day(9) && rows.first?["QuantityExpected"] == "1")
        #expect(try f.openExceptions("return-order-not-sent").map(\.reference) == ["RMA-2"])
        #expect(try f.openExceptions("unknown-sku").map(\.reference) == ["RMA-3"])
        // A rerun announces nothing twice.
        f.now += 60
        #expect(try f.run(.exportReturns).summary.applied == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.exchange + "/in").filter { $0.hasPrefix("RMA_") }.count == 1)

        // No refund before the warehouse has the goods; then only for a final state.
        #expect(try f.storefront().order(number: "WEB-1")?.refundIDs.isEmpty == true)
        let header = "Salesorder number,Return number,Item code,Quantity,Status,Reason,Return date\r\n"
        try f.fromWarehouse("RET_1.csv", header + "WEB-1,RMA-1,TSH-M,1,Accepted,Too small,\(f.day(30))\r\n"
                            + "WEB-1,RMA-1,HOD-L,1,Pending,Faulty,\(f.day(30))\r\n")
        try f.run(.importReturns)
        #expect(try f.storefront().order(number: "WEB-1")?.refundIDs == ["RMA-1/tee-m"])
    }

    @Test func aStorefrontWhereReturnsStartInTheWarehouseHasNothingToAnnounce() throws {
        let woo = try WooCommerceFixture()
        let f = try FlowFixture(storefront: "storefront:\n  type: woocommerce\n  url: \(woo.server.baseURL)\n"
                                + "  key_env: HOME\n  secret_env: HOME")
        let result = try f.run(.exportReturns)
        #expect(result.outcome == "ok" && result.summary.files.isEmpty)
        #expect(woo.requests.isEmpty)
    }
}

@Suite struct CancellationTests {
    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func aCancellationIsWithheldRequestedOrFlaggedByHowFarTheOrderGot(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M"])
        let orders: [FlowFixture.Order] = (1...3).map { .init(number: "WEB-\($0)", lines: [("TSH-M", 1)]) }
        try f.orders("a.csv", orders)
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        // The warehouse has WEB-1 as New and WEB-2 already in picking; WEB-4 arrives and is cancelled at once.
        try f.fromWarehouse("STATUS_1.csv", "Salesorder number,Status,Date\r\nWEB-1,New,\(f.day(8 + 5 / 60.0))\r\n"
                            + "WEB-2,Picking,\(f.day(8 + 20 / 60.0))\r\n")
        try f.run(.importOrderStatus)
        var cancelled = orders.prefix(2).map { var o = $0; o.status = "cancelled"; return o }
        cancelled.append(.init(number: "WEB-4", status: "cancelled", lines: [("TSH-M", 1)]))
        try f.orders("b.csv", cancelled)
        let result = try f.run(.exportCancellations)
        #expect(result.summary.applied == 1)
        let rows = try f.rows(ofFileStarting: "CANCEL_")
        #expect(rows.map { $0["SalesOrderNumber"] } == ["WEB-1"])
        #expect(rows.first?["Status"] == "Cancelled")
        let late = try f.openExceptions("cancel-too-late")
        #expect(late.map(\.reference) == ["WEB-2"])
        #expect(late.first?.message.contains("is Picking in the warehouse") == true)
        let told = try String(contentsOfFile: f.root + "/shop/updates/cancellations.csv", encoding: .utf8)
        #expect(told.contains("WEB-4,withheld") && told.contains("WEB-1,requested") && told.contains("WEB-2,too-late"))
        // The withheld order is never sent, even if the shop shows it as paid again.
        try f.orders("c.csv", [.init(number: "WEB-4", lines: [("TSH-M", 1)])])
        f.now += 60
        try f.run(.exportOrders)
        #expect(try f.salesOrdersSent()["WEB-4"] == nil)
        // A rerun requests nothing twice.
        f.now += 60
        #expect(try f.run(.exportCancellations).summary.applied == 0)
    }
}

@Suite struct ReconcileTests {
    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func unsentOrdersAndOrdersPastTheSLAAreFound(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend, extra: "policies:\n  sla_hours: 24")
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)]),
                               .init(number: "WEB-2", lines: [("TSH-M", 1)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        try f.orders("b.csv", [.init(number: "WEB-3", lines: [("TSH-M", 1)])])  // arrived after the export
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 1))
        try f.run(.importDespatches)
        f.now += 30 * 3600
        let result = try f.run(.reconcile)
        let report = try #require(result.reconciliation)
        #expect(report.notSent == ["WEB-3"])
        #expect(report.pastSLA == ["WEB-2"])
        #expect(result.outcome == "completed-with-exceptions")
        #expect(try f.openExceptions("sla-breach").map(\.reference) == ["WEB-2"])
        #expect(try f.openExceptions("not-sent").map(\.reference) == ["WEB-3"])
    }
}

@Suite(.serialized) final class FlowsOverSFTPTests {
    let server: SSHServerFixture

    init() throws {
        server = try SSHServerFixture()
        try server.makeFolders()
    }

    @Test func exportOrdersAndImportDespatchesOverARealSSHServer() throws {
        let f = try FlowFixture(warehouseURL: "sftp://\(server.user)@127.0.0.1:\(server.port)\(server.exchange)",
                                warehouseExtra: "  identity: \(server.clientKey)\n  known_hosts: \(server.knownHosts)")
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])  // only read from the local folder: move it to the server
        try FileManager.default.moveItem(atPath: f.exchange + "/out/STOCK_1.csv", toPath: server.exchange + "/out/STOCK_1.csv")
        try f.run(.importStock)
        let sent = try f.run(.exportOrders)
        #expect(sent.summary.applied == 1)
        let dropped = try FileManager.default.contentsOfDirectory(atPath: server.exchange + "/in")
        #expect(dropped.count == 1 && dropped[0].hasPrefix("SO_"))
        try (despatchColumns + despatch("WEB-1", "DSP-1", "TSH-M", 2))
            .write(toFile: server.exchange + "/out/DESP_1.csv", atomically: true, encoding: .utf8)
        let applied = try f.run(.importDespatches)
        #expect(applied.summary.applied == 1)
        #expect(try f.storefront().order(number: "WEB-1")?.status == "completed")
        #expect(FileManager.default.fileExists(atPath: server.exchange + "/archive/DESP_1.csv"))
    }
}

@Suite struct FileStorefrontTests {
    @Test func theSampleShopReadsCSVAndJSONLinesAndALaterExportWins() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-shop-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: root.appendingPathComponent("samples/storefront"), to: copy)
        let shop = try FileStorefront(folder: copy.path, clock: { Epoch.fixtureDay.start })
        #expect(try shop.orders(statuses: ["paid"]).map(\.number) == ["WEB-100232", "WEB-100233"])
        #expect(try shop.orders(statuses: ["cancelled"]).map(\.number) == ["WEB-100231"])
        let berlin = try #require(try shop.order(number: "WEB-100232"))
        #expect(berlin.shipping.line1 == "Hauptstraße 8" && berlin.shipping.company == "Becker GmbH")
        #expect(berlin.fields["delivery_instructions"] == "Leave at reception")
        #expect(try shop.order(number: "WEB-100233")?.fields["delivery_instructions"] == "Code porte 4521")
        #expect(try shop.products().count == 4)
        var announced: [AnnouncedReturn] = []
        try shop.announcedReturns(pageSize: 10) { announced += $0 }
        #expect(announced.map(\.returnNumber) == ["RMA-50231"] && announced.first?.lines.map(\.sku) == ["TSH-CRW-NVY-M", "HOD-ZIP-GRY-L"])
    }

    /// Orders read in the background (``FileStorefront/prepareOrderLookups()``, as a despatch import starts)
    /// are the same orders, with the same fulfilments and refunds folded in, as orders read on first use; a
    /// listing asked for while the read is under way waits for it.
    @Test func ordersReadInTheBackgroundAreTheOrdersReadOnFirstUse() throws {
        let f = try FlowFixture()
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1), ("HOD-L", 2)]),
                               .init(number: "WEB-2", lines: [("TSH-M", 2)]), .init(number: "WEB-1", lines: [("CAP-S", 1)])])
        let first = try f.storefront()
        try first.fulfil(Fulfilment(orderNumber: "WEB-1", package: "P1", carrier: "DPD", service: "Next Day",
                                    trackingNumber: "T1", despatchDate: "2026-11-30T17:00:00Z",
                                    lines: [("TSH-M", 1), ("HOD-L", 1)], completesOrder: false))
        try first.fulfil(Fulfilment(orderNumber: "WEB-2", package: "P2", carrier: "DPD", service: "Next Day",
                                    trackingNumber: "T2", despatchDate: "2026-11-30T17:00:00Z",
                                    lines: [("TSH-M", 2)], completesOrder: true))
        try first.refund(Refund(orderNumber: "WEB-2", returnNumber: "RMA-1", sku: "TSH-M", quantity: 1,
                                restock: true, reason: "too small"))
        try first.flush()

        let onFirstUse = try f.storefront()
        let inBackground = try f.storefront()
        inBackground.prepareOrderLookups()
        for number in ["WEB-1", "WEB-2", "WEB-3"] {
            #expect(try inBackground.order(number: number) == onFirstUse.order(number: number))
        }
        let web1 = try #require(try inBackground.order(number: "WEB-1"))
        #expect(web1.lines.map(\.sku) == ["TSH-M", "HOD-L", "CAP-S"] && web1.lines.map(\.fulfilled) == [1, 1, 0])
        #expect(web1.fulfilmentIDs == ["P1/TSH-M", "P1/HOD-L"])
        let web2 = try #require(try inBackground.order(number: "WEB-2"))
        #expect(web2.status == "completed" && web2.refundIDs == ["RMA-1/TSH-M"] && web2.lines.first?.refunded == 1)

        let listing = try f.storefront()
        listing.prepareOrderLookups()
        #expect(try listing.orders(statuses: ["paid"]).map(\.number) == ["WEB-1"])
    }

    /// Orders are read a page at a time from the exports as they are: an order whose rows are split within
    /// a file comes whole, a later export of an order replaces the earlier one (here: a cancellation), and
    /// an order the fulfilments completed is no longer ready.
    @Test func ordersAreReadPageByPageWholeAndInTheirLatestVersion() throws {
        let f = try FlowFixture()
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)]), .init(number: "WEB-2", lines: [("TSH-M", 2)]),
                               .init(number: "WEB-1", lines: [("HOD-L", 3)]), .init(number: "WEB-3", lines: [("TSH-M", 1)]),
                               .init(number: "WEB-4", lines: [("TSH-M", 1)])])
        try f.orders("b.csv", [.init(number: "WEB-3", status: "cancelled", lines: [("TSH-M", 1)])])
        var shop = try f.storefront()
        try shop.fulfil(Fulfilment(orderNumber: "WEB-4", package: "DSP-1", carrier: "dpd", service: "", trackingNumber: "T1",
                                   despatchDate: "", lines: [("TSH-M", 1)], completesOrder: true))
        try shop.flush()
        shop = try f.storefront()  // a new run: nothing in memory
        var pages: [[String]] = []
        try shop.orders(statuses: ["paid"], pageSize: 1) { page in
            pages.append(page.map { "\($0.number):" + $0.lines.map { "\($0.sku)x\($0.quantity)" }.joined(separator: "+") })
        }
        #expect(pages == [["WEB-2:TSH-Mx2"], ["WEB-1:TSH-Mx1+HOD-Lx3"]])
        // The same when the indexed numbers are too many to hold (0 here) and every order is looked up, and when
        // the first pass's filter is so small (64 bits) that it takes nearly every number for a repeat.
        let exports = OrderExports(directory: f.root + "/shop/orders")
        for limit in [0, LatestOrderIndex.repeatedInMemory] {
            for bits in [nil, 64] {
                var seen: [String] = []
                let completed = CompletedNumbers(bytes: 64) { add in try add("WEB-4") }
                try exports.pages(statuses: ["paid", "cancelled", "completed"], completed: completed, pageSize: 10,
                                  repeatedInMemory: limit, filterBits: bits) { page in
                    seen += page.map { "\($0.number):\($0.status):" + $0.lines.map(\.sku).joined(separator: "+") }
                }
                #expect(seen == ["WEB-2:paid:TSH-M", "WEB-1:paid:TSH-M+HOD-L", "WEB-4:completed:TSH-M",
                                 "WEB-3:cancelled:TSH-M"], "limit \(limit), filter \(bits.map(String.init) ?? "sized")")
            }
        }
        #expect(try f.storefront().orders(statuses: ["cancelled"]).map(\.number) == ["WEB-3"])
        #expect(try f.storefront().orders(statuses: ["completed"]).map(\.number) == ["WEB-4"])
    }

    /// The first pass's filter never calls a number new that it has met ("certainly not" is certain), and at its
    /// size (ten bits a number) calls few new numbers repeats.
    @Test func theOrderNumberFilterNeverMissesARepeatAndSeldomCriesWolf() {
        let numbers = (0..<20_000).map { "WEB-\($0)" }
        var filter = NumberFilter(bits: LatestOrderIndex.filterBits(forBytes: Int64(numbers.count) * 64))
        let maybes = numbers.filter { filter.insert($0) }.count
        #expect(maybes < numbers.count * 3 / 100, "\(maybes) of \(numbers.count) new numbers taken for repeats")
        #expect(numbers.allSatisfy { filter.insert($0) })
        // Asked without adding: every number added is "maybe", few others are, and asking adds nothing.
        #expect(numbers.allSatisfy { filter.contains($0) })
        let others = (0..<20_000).map { "WEB-X\($0)" }
        let wolves = others.filter { filter.contains($0) }.count
        #expect(wolves < others.count * 3 / 100, "\(wolves) of \(others.count) numbers never added taken for added")
        #expect(others.filter { filter.contains($0) }.count == wolves)
        #expect(LatestOrderIndex.filterBits(forBytes: 0) == 1 << 16 && LatestOrderIndex.filterBits(forBytes: 1 << 40) == 1 << 24)
    }

    /// Orders looked up by number (what the writes use) come the same way: rows apart in one file are one order,
    /// and a later file's version replaces the earlier one whole, rows apart or not, in the earlier one's place.
    @Test func ordersLookedUpByNumberAreWholeAndInTheirLatestVersion() throws {
        let f = try FlowFixture()
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)]), .init(number: "WEB-2", lines: [("TSH-M", 2)]),
                               .init(number: "WEB-1", lines: [("HOD-L", 3)]), .init(number: "WEB-3", lines: [("TSH-M", 1)])])
        try f.orders("b.csv", [.init(number: "WEB-2", status: "cancelled", lines: [("CAP-S", 1)]),
                               .init(number: "WEB-3", lines: [("HOD-L", 1)]), .init(number: "WEB-2", lines: [("SCF-M", 4)])])
        for background in [false, true] {
            let shop = try f.storefront()
            if background { shop.prepareOrderLookups() }
            func lines(_ number: String) throws -> String? {
                try shop.order(number: number).map { $0.status + ":" + $0.lines.map { "\($0.sku)x\($0.quantity)" }.joined(separator: "+") }
            }
            #expect(try lines("WEB-1") == "paid:TSH-Mx1+HOD-Lx3")
            #expect(try lines("WEB-2") == "cancelled:CAP-Sx1+SCF-Mx4")
            #expect(try lines("WEB-3") == "paid:HOD-Lx1")
            #expect(try lines("WEB-4") == nil)
            #expect(try shop.orders(statuses: ["paid", "cancelled"]).map(\.number) == ["WEB-1", "WEB-2", "WEB-3"])
        }
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func aTornLastLineLeftByACrashIsCutOffAndNothingIsRecordedTwice(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 2)])])
        var shop = try f.storefront()
        try shop.fulfil(Fulfilment(orderNumber: "WEB-1", package: "DSP-1", carrier: "dpd", service: "", trackingNumber: "T1",
                                   despatchDate: "", lines: [("TSH-M", 1)], completesOrder: false))
        try shop.flush()
        let path = f.root + "/shop/updates/fulfilments.csv"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("WEB-1/DSP-2/TSH-M,WEB-1,DSP-2,dp".utf8))  // the crash cut this row
        try handle.close()
        let torn = try String(contentsOfFile: path, encoding: .utf8)
        shop = try f.storefront()
        // Opening the storefront alone touches nothing (a run refused by the job lock opens one, while the
        // holder may be mid-append): the cut comes with first use.
        #expect(try String(contentsOfFile: path, encoding: .utf8) == torn)
        #expect(try shop.order(number: "WEB-1")?.lines.first?.fulfilled == 1)
        try shop.fulfil(Fulfilment(orderNumber: "WEB-1", package: "DSP-1", carrier: "dpd", service: "", trackingNumber: "T1",
                                   despatchDate: "", lines: [("TSH-M", 1)], completesOrder: false))  // a retry
        try shop.fulfil(Fulfilment(orderNumber: "WEB-1", package: "DSP-2", carrier: "dpd", service: "", trackingNumber: "T2",
                                   despatchDate: "", lines: [("TSH-M", 1)], completesOrder: true))
        try shop.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[2].hasPrefix("WEB-1/DSP-2/TSH-M,WEB-1,DSP-2,dpd,"))
        #expect(try f.storefront().order(number: "WEB-1")?.status == "completed")
    }

    /// One storefront through several batches, its clock moving: each flush appends only its own rows (the
    /// journal's buffer is kept between batches), and each row's time is the clock's when it was recorded (the
    /// text is made once a second, and again when the second changes).
    @Test func aJournalKeptBetweenBatchesAppendsEachRowOnceAtItsOwnTime() throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "HOD-L"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 3), ("HOD-L", 1)]),
                               .init(number: "WEB-2", lines: [("TSH-M", 1)])])
        let start = Date(timeIntervalSince1970: 1_796_000_000.25)
        var now = start
        let shop = try FileStorefront(folder: f.root + "/shop", clock: { now })
        func fulfil(_ order: String, _ package: String, _ lines: [(sku: String, quantity: Int)]) throws {
            try shop.fulfil(Fulfilment(orderNumber: order, package: package, carrier: "dpd", service: "", trackingNumber: "T",
                                       despatchDate: "", lines: lines, completesOrder: false))
        }
        try fulfil("WEB-1", "DSP-1", [("TSH-M", 1)])
        try shop.flush()
        now = start.addingTimeInterval(0.5)  // the same second
        try fulfil("WEB-1", "DSP-2", [("TSH-M", 1), ("HOD-L", 1)])
        now = start.addingTimeInterval(61)
        try fulfil("WEB-2", "DSP-3", [("TSH-M", 1)])
        try shop.flush()
        try shop.flush()  // nothing new: nothing appended
        let rows = try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.map { String($0[0]) } == ["WEB-1/DSP-1/TSH-M", "WEB-1/DSP-2/TSH-M", "WEB-1/DSP-2/HOD-L", "WEB-2/DSP-3/TSH-M"])
        #expect(rows.map { String($0[10]) } == [UTCTime.iso8601(start), UTCTime.iso8601(start), UTCTime.iso8601(start),
                                                UTCTime.iso8601(start.addingTimeInterval(61))])
        #expect(UTCTime.iso8601(start) != UTCTime.iso8601(start.addingTimeInterval(61)))
        #expect(try shop.order(number: "WEB-1")?.lines.map(\.fulfilled) == [2, 1])
    }
}

/// The plain-file storefront reads its catalogue in the background once a stock import is coming.
@Suite struct CatalogueReadAheadTests {
    @Test func theCatalogueReadInTheBackgroundAnswersAsTheOneReadInLine() throws {
        let f = try FlowFixture()
        try f.products(["TSH-M", "TSH-L"])
        let ahead = try f.storefront()
        ahead.prepareStockUpdates()
        ahead.prepareStockUpdates()  // once is enough: a second call starts nothing
        #expect(try ahead.setStock([("TSH-M", 1), ("NOPE", 2)]) == ["NOPE"])
        #expect(try ahead.setStock([("TSH-L", 3), ("NOPE", 2)]) == ["NOPE"])
        let inLine = try f.storefront()
        #expect(try inLine.setStock([("TSH-M", 1), ("NOPE", 2)]) == ["NOPE"])
        try ahead.flush()
        #expect(try f.storefront().stockLevels() == ["TSH-M": 1, "TSH-L": 3])
    }

    @Test func aCatalogueThatCannotBeReadFailsTheFirstUpdateAsInLine() throws {
        let f = try FlowFixture()
        try FileManager.default.createDirectory(atPath: f.root + "/shop/products.csv", withIntermediateDirectories: true)
        let ahead = try f.storefront()
        ahead.prepareStockUpdates()
        #expect(throws: (any Error).self) { try ahead.setStock([("TSH-M", 1)]) }
        #expect(throws: (any Error).self) { try f.storefront().setStock([("TSH-M", 1)]) }
    }
}

@Suite struct ExportItemsTests {
    /// The plain-file storefront hands its catalogue on a page at a time (export-items never holds it whole): the
    /// same products, in the file's order, as read whole, whatever order the file's columns are in.
    @Test func theCatalogueIsReadAPageAtATime() throws {
        let f = try FlowFixture()
        let rows = (1...12).map { "\($0 == 3 ? " " : "")Product \($0),SKU-\($0),10.0\($0 % 10),506000\($0)" }
        try ("name,sku,price,barcode\n" + rows.joined(separator: "\n") + "\n")
            .write(toFile: f.root + "/shop/products.csv", atomically: true, encoding: .utf8)
        let shop = try f.storefront()
        var pages: [[Product]] = []
        try shop.products(pageSize: 5) { pages.append($0) }
        #expect(pages.map(\.count) == [5, 5, 2])
        #expect(pages.flatMap { $0 } == (try shop.products()))
        #expect(pages[0][2].sku == "SKU-3" && pages[0][2].name == "Product 3" && pages[0][2].barcode == "5060003"
                && pages[0][2].price == "10.03" && pages[0][2].attributes.isEmpty && pages[0][2].weightGrams == "")
    }

    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func newAndChangedItemsAreSentOnceAndTheAuditComparesBothSides(epoch: Epoch, backend: StateBackend) throws {
        let f = try FlowFixture(epoch: epoch, backend: backend)
        try f.products(["TSH-M", "HOD-L"])
        #expect(try f.run(.exportItems).summary.applied == 2)
        let rows = try f.rows(ofFileStarting: "ITEMS_")
        #expect(rows.map { $0["ItemCode"] } == ["TSH-M", "HOD-L"])
        #expect(rows.first?["Weight"] == "200" && rows.first?["WeightMeasure"] == "g" && rows.first?["Attribute1"] == "M")
        f.now += 3600
        #expect(try f.run(.exportItems).summary.applied == 0)  // nothing changed
        try f.products(["TSH-M", "HOD-L", "SCK-S"])
        f.now += 3600
        #expect(try f.run(.exportItems).summary.applied == 1)  // only the new one

        try f.stockFile("STOCK_1.csv", [("TSH-M", 4), ("OLD-1", 2)])
        try f.run(.importStock)
        let audit = try SKUAudit.run(storefront: try f.storefront(), manifest: try f.manifest(), skus: [:])
        #expect(audit.storefrontOnly == ["HOD-L", "SCK-S"])
        #expect(audit.warehouseOnly == ["OLD-1"])
        #expect(audit.matched == 1)
    }
}

@Suite struct WarehouseSimulatorTests {
    @Test(arguments: Epoch.allCases, StateBackend.allCases)
    func itRefusesUnknownItemsAndDuplicatesAndCancelsOnlyBeforePicking(epoch: Epoch, backend: StateBackend) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-sim-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try "ItemCode,Name\r\nTSH-M,Tee\r\n".write(toFile: dir + "/in/ITEMS_1.csv", atomically: true, encoding: .utf8)
        try "SalesOrderNumber,ItemCode,QuantityOrdered\r\nWEB-1,TSH-M,1\r\nWEB-2,NOPE,1\r\nWEB-3,TSH-M,1\r\n"
            .write(toFile: dir + "/in/SO_1.csv", atomically: true, encoding: .utf8)
        var settings = WarehouseSimulator.Settings()
        settings.pickRate = 0  // nothing starts picking in the first step
        let simulator = try WarehouseSimulator(exchange: dir, settings: settings)
        let first = try simulator.step(now: epoch.start)
        #expect(first.itemsImported == 1 && first.ordersAccepted == 2 && first.ordersRefused == ["WEB-2"])
        #expect(first.filesWritten.contains { $0.hasPrefix("STOCK_") } && first.filesWritten.contains { $0.hasPrefix("STATUS_") })
        try "SalesOrderNumber,ItemCode,QuantityOrdered\r\nWEB-1,TSH-M,1\r\n"
            .write(toFile: dir + "/in/SO_2.csv", atomically: true, encoding: .utf8)
        try "SalesOrderNumber,Status\r\nWEB-3,Cancelled\r\n".write(toFile: dir + "/in/CANCEL_1.csv", atomically: true,
                                                                  encoding: .utf8)
        simulator.settings.pickRate = 1
        let second = try simulator.step(now: epoch.start.addingTimeInterval(3600))
        #expect(second.ordersRefused == ["WEB-1"])  // Peoplevox refuses a number it already has
        #expect(second.cancelled == 1)
        #expect(simulator.orderState("WEB-3") == "Cancelled")
        #expect(simulator.orderState("WEB-1") == "Picking")
        // The files it writes follow the Peoplevox templates, and were written at the warehouse's time.
        for name in try FileManager.default.contentsOfDirectory(atPath: dir + "/out") {
            let modified = try FileManager.default.attributesOfItem(atPath: dir + "/out/" + name)[.modificationDate] as? Date
            #expect([epoch.start, epoch.start.addingTimeInterval(3600)].contains(modified), "\(name): \(String(describing: modified))")
            let template = name.hasPrefix("STOCK") ? PeoplevoxTemplates.stock : PeoplevoxTemplates.orderStatus
            let summary = try FileValidation.run(reader: try CSVReader(path: dir + "/out/" + name), template: template)
            #expect(summary.invalid == 0 && summary.fileAccepted, "\(name)")
        }
    }
}

@Suite struct StopRequestTests {
    /// Stops the run after the first file it applies.
    final class StoppingFlow: InboundFlow {
        let name = "despatches"
        let template = PeoplevoxTemplates.despatches
        let filePattern = "DESP_*.csv"
        var applied: [String] = []
        var stop = false
        func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> DespatchLine {
            DespatchLine.decoder(template: template, header: header)
        }
        func key(of record: DespatchLine) -> String { record.key }
        func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
            applied += records.map(\.key)
            stop = true  // SIGTERM arrives while this file is being processed
            return records.map { _ in .applied }
        }
    }

    @Test func aStopRequestFinishesTheCurrentFileAndLeavesTheRest() throws {
        let f = try FlowFixture()
        try f.fromWarehouse("DESP_1.csv", despatchColumns + despatch("WEB-1", "DSP-1", "TSH-M", 1) + despatch("WEB-1", "DSP-1", "HOD-L", 1))
        try f.fromWarehouse("DESP_2.csv", despatchColumns + despatch("WEB-2", "DSP-2", "TSH-M", 1))
        let manifest = try f.manifest()
        let transport = try LocalFolderTransport(root: f.exchange)
        var pipeline = InboundPipeline(transport: transport, manifest: manifest,
                                       folders: (outbox: "out", archive: "archive", error: "error"),
                                       pickup: Pickup(transport: transport, readiness: .stableListing(interval: 0)),
                                       workDirectory: f.root)
        let flow = StoppingFlow()
        pipeline.shouldStop = { flow.stop }
        let summary = try pipeline.run(flow)
        #expect(summary.stopped)
        #expect(summary.files.map(\.name) == ["DESP_1.csv"])
        #expect(flow.applied.count == 2)  // the whole first file, nothing of the second
        #expect(FileManager.default.fileExists(atPath: f.exchange + "/out/DESP_2.csv"))
        #expect(try manifest.files(flow: "despatches").map(\.status) == [.applied])
    }
}

@Suite struct ProgressTests {
    final class Recorder: @unchecked Sendable { var events: [PipelineProgress] = [] }

    @Test func longFilesReportDownloadAndRowProgress() throws {
        let f = try FlowFixture()
        let skus = (0..<12_000).map { "SKU-\($0)" }
        try f.products(skus)
        try f.stockFile("STOCK_1.csv", skus.map { ($0, 5) })
        let runner = try f.runner()
        let recorder = Recorder()
        runner.progress = { recorder.events.append($0) }
        _ = try runner.run(.importStock)
        let rows = recorder.events.filter { $0.phase == .rows }
        #expect(rows.map(\.rows) == [5000, 10_000])
        #expect(rows.allSatisfy { $0.total != nil && $0.done > 0 && $0.done <= $0.total! })
        #expect(recorder.events.contains { $0.phase == .download && $0.file == "STOCK_1.csv" })
    }
}

@Suite struct VanishingFileTests {
    /// Lists a file, then deletes it before it can be downloaded.
    final class VanishingTransport: FileTransport, @unchecked Sendable {
        let inner: LocalFolderTransport
        let root: String
        init(_ root: String) throws {
            self.root = root
            inner = try LocalFolderTransport(root: root)
        }
        var displayName: String { inner.displayName }
        func list(_ d: String, matching p: String?) throws -> [RemoteFile] { try inner.list(d, matching: p) }
        func stat(_ p: String) throws -> RemoteFile? { try inner.stat(p) }
        func download(_ p: String, progress: TransferProgress?, into c: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
            if p.hasSuffix("DESP_1.csv") { unlink(root + "/" + p) }
            return try inner.download(p, progress: progress, into: c)
        }
        func upload(localPath: String, to remotePath: String, progress: TransferProgress?) throws -> Int64 {
            try inner.upload(localPath: localPath, to: remotePath, progress: progress)
        }
        func rename(_ f: String, to t: String, overwrite: Bool) throws { try inner.rename(f, to: t, overwrite: overwrite) }
        func remove(_ p: String) throws { try inner.remove(p) }
        func makeDirectory(_ p: String) throws { try inner.makeDirectory(p) }
        func close() {}
    }

    @Test func aFileDeletedBetweenListingAndDownloadIsLeftAloneAndTheOthersGoOn() throws {
        let f = try FlowFixture()
        try f.fromWarehouse("DESP_1.csv", despatchColumns + despatch("WEB-1", "DSP-1", "TSH-M", 1))
        try f.fromWarehouse("DESP_2.csv", despatchColumns + despatch("WEB-2", "DSP-2", "TSH-M", 1))
        let transport = try VanishingTransport(f.exchange)
        let manifest = try f.manifest()
        let pipeline = InboundPipeline(transport: transport, manifest: manifest,
                                       folders: (outbox: "out", archive: "archive", error: "error"),
                                       pickup: Pickup(transport: transport, readiness: .stableListing(interval: 0)),
                                       workDirectory: f.root)
        let flow = StopRequestTests.StoppingFlow()
        let summary = try pipeline.run(flow)
        #expect(summary.files.map(\.outcome) == ["vanished", "applied"])
        #expect(try manifest.files(flow: "despatches").map(\.name) == ["DESP_2.csv"])
    }
}

@Suite struct FileStorefrontCatalogueTests {
    @Test func linesAreCountedAcrossReadChunks() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID()).csv").path
        defer { unlink(path) }
        let row = String(repeating: "x", count: 99) + "\n"  // 100 bytes: 30,000 rows span three 1 MiB reads
        try (String(repeating: row, count: 30_000) + "no newline at the end").write(toFile: path, atomically: false,
                                                                                       encoding: .utf8)
        #expect(FileStorefront.lineCount(path) == 30_000)
        #expect(FileStorefront.lineCount(path + ".missing") == 0)
    }
}
