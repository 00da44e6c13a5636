@testable import BatchJobs
import CSVKit
import Foundation

/// A client set up on the embedded default in a temporary folder: a local exchange, a plain-file
/// storefront, state; with helpers to write the shop's and the warehouse's files and to read results
/// back from the files themselves.
final class FlowFixture {
    let root: String
    let configuration: Configuration
    var now = Date(timeIntervalSince1970: 1_796_025_600)  // 2026-11-30 08:00 UTC

    /// - Parameters:
    ///   - warehouseURL: the exchange (default: a local folder under the fixture).
    ///   - extra: more YAML (policies, mappings...), appended to the configuration.
    init(warehouseURL: String = "file://exchange", warehouseExtra: String = "", extra: String = "",
         storefront: String = "storefront:\n  type: file\n  folder: shop\n  ready_statuses: [paid]") throws {
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
            state: state
            \(extra)
            """
        try yaml.write(toFile: root + "/voxbatch.yml", atomically: true, encoding: .utf8)
        configuration = try Configuration.load(path: root + "/voxbatch.yml")
    }

    var exchange: String { root + "/exchange" }

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
    }

    func orders(_ file: String, _ orders: [Order]) throws {
        var text = (FileStorefront.orderColumns + ["gift_message"]).joined(separator: ",") + "\n"
        for o in orders {
            for (sku, qty) in o.lines {
                text += "\(o.number),\(o.number),\(o.status),2026-11-30T07:15:00Z,a@example.com,,Amelia Hart,,"
                    + "14 Mill Lane,,Leeds,,\(o.postcode),\(o.country),express,3.95,20.00,,\(sku),\(qty),10.00,\(o.gift)\n"
            }
        }
        try text.write(toFile: root + "/shop/orders/" + file, atomically: true, encoding: .utf8)
    }

    /// Writes a file into the warehouse's outbox (`out/`).
    func fromWarehouse(_ name: String, _ text: String) throws {
        try text.write(toFile: exchange + "/out/" + name, atomically: true, encoding: .utf8)
    }

    /// A stock file with one row per `(sku, available)`, snapshot in its Timestamp column.
    func stockFile(_ name: String, _ levels: [(String, Int)], at timestamp: String = "30/11/2026 08:00") throws {
        try fromWarehouse(name, "Item code,Available,On hand,Allocated,Timestamp\r\n"
                          + levels.map { "\($0.0),\($0.1),\($0.1),0,\(timestamp)\r\n" }.joined())
    }

    func runner() throws -> JobRunner {
        try JobRunner(configuration: configuration, clock: { [unowned self] in self.now })
    }

    @discardableResult
    func run(_ job: JobName, _ options: JobOptions = .init()) throws -> JobResult {
        try runner().run(job, options: options)
    }

    /// The storefront as it reads back from its own files.
    func storefront() throws -> FileStorefront { try FileStorefront(folder: root + "/shop") }

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
        try Manifest(path: configuration.stateDirectory + "/manifest.sqlite").exceptions(kind: kind)
    }

    func manifest() throws -> Manifest {
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        return try Manifest(path: configuration.stateDirectory + "/manifest.sqlite")
    }
}

let despatchColumns = "Salesorder number,Despatch number,Carrier,Service,Despatch date,Tracking number,Item code,No of items\r\n"

func despatch(_ order: String, _ package: String, _ sku: String, _ qty: Int, carrier: String = "DPD") -> String {
    "\(order),\(package),\(carrier),Next Day,30/11/2026 15:10,TRK\(package),\(sku),\(qty)\r\n"
}
