@testable import BatchJobs
import CSVKit
import Foundation
import TestSupport

/// A client set up on the embedded default in a temporary folder: a local exchange, a plain-file
/// storefront, state; with helpers to write the shop's and the warehouse's files and to read results
/// back from the files themselves.
///
/// Everything runs on the fixture's clock (`now`), which starts at 08:00 UTC on the day of its epoch;
/// every date in the files it writes (orders, stock snapshots, despatches) and every file's modification
/// time comes from that clock, so a test's results are the same on whichever day it runs.
final class FlowFixture {
    let root: String
    let configuration: Configuration
    /// The day the test runs on.
    let epoch: Epoch
    /// The clock jobs, the manifest and the storefront run on.
    var now: Date

    /// - Parameters:
    ///   - epoch: the day the clock starts on (08:00 UTC).
    ///   - warehouseURL: the exchange (default: a local folder under the fixture).
    ///   - extra: more YAML (policies, mappings...), appended to the configuration.
    ///   - backend: where the manifest lives (SQLite in `state/`, or a schema of its own on the test run's
    ///     PostgreSQL server).
    init(epoch: Epoch = .fixtureDay, backend: StateBackend = .sqlite, warehouseURL: String = "file://exchange",
         warehouseExtra: String = "", extra: String = "",
         storefront: String = "storefront:\n  type: file\n  folder: shop\n  ready_statuses: [paid]") throws {
        self.epoch = epoch
        now = epoch.start
        root = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-flow-\(UUID().uuidString)").path
        for sub in ["exchange/in", "exchange/out", "exchange/archive", "exchange/error", "shop/orders"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        let yaml = """
            client: test-shop
            warehouse:
              url: \(warehouseURL)
              pickup:
                readiness: stable
                interval: 0
            \(warehouseExtra)
            \(storefront)
            retry:
              attempts: 3
              initial_delay: 0.01
              max_delay: 0.01
            \(try Self.state(backend))
            \(extra)
            """
        try yaml.write(toFile: root + "/voxbatch.yml", atomically: true, encoding: .utf8)
        configuration = try Configuration.load(path: root + "/voxbatch.yml")
    }

    var exchange: String { root + "/exchange" }

    /// The configuration's `state:` for a backend.
    static func state(_ backend: StateBackend) throws -> String {
        guard case .postgres(let settings) = try backend.freshLocation(in: "state") else { return "state: state" }
        let server = try PostgresServerFixture.shared()
        return "state: {path: state, database: \"\(server.url)\", schema: \(settings.schema), password_file: \(server.passwordFile)}"
    }

    /// The clock as a closure, for the parts built by hand.
    var clock: () -> Date { { [unowned self] in self.now } }

    /// The epoch's day plus `hours` (8 is the clock's start), in a format of the fixtures' files.
    func day(_ hours: Double, _ pattern: String = "dd/MM/yyyy HH:mm") -> String {
        UTC.format(epoch.start.addingTimeInterval((hours - 8) * 3600), pattern)
    }

    /// The epoch's day plus `hours` as a file-name stamp (`20261130T1000`).
    func stamp(_ hours: Double) -> String { day(hours, "yyyyMMdd'T'HHmm") }

    func products(_ skus: [String]) throws {
        let rows = skus.map { "\($0),50600000\($0.count),Product \($0),M,Navy,200,10.00" }
        try ("sku,barcode,name,size,colour,weight_grams,price\n" + rows.joined(separator: "\n") + "\n")
            .write(toFile: root + "/shop/products.csv", atomically: true, encoding: .utf8)
    }

    struct Order {
        var number: String
        var status = "paid"
        var postcode = "LS6 2DT"
        var country = "GB"
        var lines: [(String, Int)]
        var gift = ""
        var name = "Amelia Hart"
        var company = ""
        var address1 = "14 Mill Lane"
        var instructions = ""
    }

    /// An orders file of the plain-file storefront, written as a shop's export would write it (values
    /// verbatim, quoted where CSV needs it).
    func orders(_ file: String, _ orders: [Order]) throws {
        let sink = MemorySink()
        let writer = CSVWriter(sink: sink, lineEnding: .lf, guardsFormulas: false)
        try writer.write(record: FileStorefront.orderColumns + ["gift_message", "delivery_instructions"])
        for o in orders {
            for (sku, qty) in o.lines {
                try writer.write(record: [o.number, o.number, o.status, day(7.25, "yyyy-MM-dd'T'HH:mm:ss'Z'"), "a@example.com",
                                          "", o.name, o.company, o.address1, "", "Leeds", "", o.postcode, o.country, "express",
                                          "3.95", "20.00", "", sku, String(qty), "10.00", o.gift, o.instructions])
            }
        }
        try writer.flush()
        try Data(sink.bytes).write(to: URL(fileURLWithPath: root + "/shop/orders/" + file))
    }

    /// Writes a file into the warehouse's outbox (`out/`), modified now by the fixture's clock (the
    /// warehouse wrote it at the time the test is at).
    func fromWarehouse(_ name: String, _ text: String) throws {
        let path = exchange + "/out/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: now], ofItemAtPath: path)
    }

    /// A stock file with one row per `(sku, available)`, snapshot in its Timestamp column (default: the
    /// clock's start, 08:00).
    func stockFile(_ name: String, _ levels: [(String, Int)], at timestamp: String? = nil) throws {
        let timestamp = timestamp ?? day(8)
        try fromWarehouse(name, "Item code,Available,On hand,Allocated,Timestamp\r\n"
                          + levels.map { "\($0.0),\($0.1),\($0.1),0,\(timestamp)\r\n" }.joined())
    }

    /// A despatch row dated 15:10 on the fixture's day.
    func despatch(_ order: String, _ package: String, _ sku: String, _ qty: Int, carrier: String = "DPD") -> String {
        BatchJobsTests.despatch(order, package, sku, qty, carrier: carrier, date: day(15 + 1 / 6.0))
    }

    func runner() throws -> JobRunner {
        try JobRunner(configuration: configuration, clock: clock)
    }

    @discardableResult
    func run(_ job: JobName, _ options: JobOptions = .init()) throws -> JobResult {
        try runner().run(job, options: options)
    }

    /// The storefront as it reads back from its own files.
    func storefront() throws -> FileStorefront { try FileStorefront(folder: root + "/shop", clock: clock) }

    /// Every sales-order file dropped for the warehouse: order number → the files it appears in.
    func salesOrdersSent() throws -> [String: [String]] {
        var found: [String: [String]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: exchange + "/in").sorted()
        where name.hasPrefix("SO_") {
            let reader = try CSVReader(path: exchange + "/in/" + name)
            var inFile: Set<String> = []
            while try reader.next() { inFile.insert(reader.field(named: "SalesOrderNumber") ?? "") }
            for order in inFile { found[order, default: []].append(name) }
        }
        return found
    }

    /// Rows of the first file in `in/` whose name starts with `prefix`, as `[column: value]`.
    func rows(ofFileStarting prefix: String) throws -> [[String: String]] {
        guard let name = try FileManager.default.contentsOfDirectory(atPath: exchange + "/in").sorted()
            .first(where: { $0.hasPrefix(prefix) }) else { return [] }
        let reader = try CSVReader(path: exchange + "/in/" + name)
        var rows: [[String: String]] = []
        while try reader.next() {
            var row: [String: String] = [:]
            for (i, column) in reader.header!.names.enumerated() { row[column] = reader.field(i) }
            rows.append(row)
        }
        return rows
    }

    func openExceptions(_ kind: String? = nil) throws -> [ExceptionEntry] {
        try manifest().exceptions(kind: kind)
    }

    func manifest() throws -> Manifest {
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        return try Manifest(location: configuration.stateLocation, clock: clock)
    }
}

let despatchColumns = "Salesorder number,Despatch number,Carrier,Service,Despatch date,Tracking number,Item code,No of items\r\n"

/// A despatch row (for tests that do not run on a ``FlowFixture``'s clock, the fixtures' day).
func despatch(_ order: String, _ package: String, _ sku: String, _ qty: Int, carrier: String = "DPD",
              date: String = "30/11/2026 15:10") -> String {
    "\(order),\(package),\(carrier),Next Day,\(date),TRK\(package),\(sku),\(qty)\r\n"
}
