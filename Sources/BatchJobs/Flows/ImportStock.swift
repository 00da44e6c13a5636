import CSVKit
import Foundation

/// import-stock: storefront availability from the warehouse's available quantity minus a buffer
/// (global, or per SKU; never below zero).
///
/// Only what changed since the value last pushed is sent (`full` pushes every SKU, for a scheduled
/// reconciliation). An older stock file never overwrites a newer one: every level carries its snapshot
/// time (its `Timestamp` column, else the time in the file name, else the file's modification time), and
/// a level older than the one in effect is recorded as skipped. SKUs the storefront does not know are
/// exceptions for merchandising.
public struct ImportStockFlow: InboundFlow {
    public static let flowName = "stock"
    public let name = ImportStockFlow.flowName
    public let template: CSVTemplate
    public let filePattern: String
    let storefront: any Storefront
    let manifest: Manifest
    let policies: Configuration.Policies
    /// Warehouse item code → storefront SKU.
    let skus: [String: String]
    /// Push every SKU, changed or not.
    public var full = false

    /// Whether the levels are also noted for the inventory master (export-inventory sends them).
    public var notesForInventoryMaster = false

    public init(configuration: Configuration, storefront: any Storefront, manifest: Manifest, full: Bool = false) {
        template = configuration.template("stock")!.0
        filePattern = configuration.files.stock
        self.storefront = storefront
        self.manifest = manifest
        policies = configuration.policies
        skus = configuration.mappings.storefrontSKUs
        self.full = full
    }

    public func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> StockLevel {
        StockLevel.decoder(template: template, header: header,
                           fileSnapshot: Self.snapshot(fromName: file.name) ?? Int(file.modified))
    }

    public func key(of record: StockLevel) -> String { record.itemCode }

    public func willApplyFiles() { storefront.prepareStockUpdates() }

    /// For a storefront that checks SKUs against a catalogue it does not hold: the SKUs this file can push, as
    /// the levels will name them (trimmed, mapped), by partition. One more pass over the file, in flat memory.
    public func willApplyRows(ofFile path: String, configuration: CSVConfiguration, temporaryDirectory: String) throws {
        guard storefront.wantsStockSKUsFirst else { return }
        let partitions = try KeyPartitions(temporaryDirectory: temporaryDirectory)
        // No such column, or not CSV: the pipeline rejects the file, and the storefront answers from its catalogue.
        guard try ColumnScan.forEachHash(of: "Item code", inFile: path, configuration: configuration, template: template,
                                         mapping: skus, { try partitions.add($0) }) else { return }
        try storefront.expectStockUpdates(for: partitions)
    }

    public func didApplyRows() { try? storefront.expectStockUpdates(for: nil) }

    /// The applied version: the snapshot and the value pushed (so a buffer change is pushed too).
    public func fingerprint(of record: StockLevel) -> String? {
        // For an inventory master, on hand and allocated are part of the version too: a despatch lowers both
        // and leaves availability as it was, and the master must still hear of it.
        guard notesForInventoryMaster || full else { return String.decimals(record.snapshot, pushed(record)) }
        let master = notesForInventoryMaster ? "|oh\(record.onHand ?? -1)|al\(record.allocated ?? -1)" : ""
        return "\(record.snapshot)|\(pushed(record))" + master + (full ? "|full" : "")
    }

    func pushed(_ record: StockLevel) -> Int {
        // Without buffers per SKU (most set-ups), no look-up hashes each SKU.
        let buffer = policies.stockBufferPerSKU.isEmpty ? policies.stockBuffer
            : policies.stockBufferPerSKU[record.itemCode] ?? policies.stockBuffer
        return max(0, record.available - buffer)
    }

    public func apply(_ records: [StockLevel], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        var outcomes = [ApplyOutcome](repeating: .applied, count: records.count)
        var push: [(sku: String, quantity: Int)] = []
        var pushedIndex: [Int] = []
        for (i, record) in records.enumerated() {
            let value = pushed(record)
            if let previous = previous[i] {
                let parts = previous.split(separator: "|")
                let snapshot = parts.first.flatMap { Int($0) } ?? .min
                if snapshot > record.snapshot {
                    outcomes[i] = .skipped("older than the level in effect")
                    continue
                }
                if !full, parts.count > 1, Int(parts[1]) == value {
                    outcomes[i] = .unchanged
                    continue
                }
            }
            push.append((skus[record.itemCode] ?? record.itemCode, value))
            pushedIndex.append(i)
        }
        if !dryRun && notesForInventoryMaster { try manifest.noteWairStock(records) }
        if !dryRun {
            let unknown = push.isEmpty ? []
                : try storefront.setStock(push, snapshotAt: pushedIndex.map { Date(timeIntervalSince1970: Double(records[$0].snapshot)) })
            try storefront.flush()
            for (n, i) in pushedIndex.enumerated() where unknown.contains(push[n].sku) {
                outcomes[i] = .exception(
                    kind: "unknown-sku-stock", reference: records[i].itemCode,
                    message: "the warehouse holds stock of \(records[i].itemCode) (\(records[i].available) available), "
                        + "but the storefront has no such SKU: add the product or map the SKU", owner: .merchandising)
            }
            // The warehouse holds every code in the file. A recorded level says so already (the manifest counts
            // stock records as known items); a code the shop does not sell is recorded nowhere else: note it.
            let unrecorded = pushedIndex.filter { if case .exception = outcomes[$0] { previous[$0] == nil } else { false } }
            try manifest.noteWarehouseItems(unrecorded.map { records[$0].itemCode }, source: "stock")
        }
        return outcomes
    }

    /// The snapshot time in a file name such as `STOCK_20261124T0800.csv` or `STOCK_20261124T081500Z.csv`.
    static func snapshot(fromName name: String) -> Int? {
        let digits = Array(name.utf8)
        var i = 0
        while i + 13 <= digits.count {
            // yyyyMMddTHHmm[ss]
            let window = digits[i..<(i + 13)]
            let isDigit = { (c: UInt8) in c >= 48 && c <= 57 }
            if window.enumerated().allSatisfy({ $0.offset == 8 ? $0.element == UInt8(ascii: "T") : isDigit($0.element) }) {
                var text = String(decoding: window.filter { $0 != UInt8(ascii: "T") }, as: UTF8.self)
                if i + 15 <= digits.count, isDigit(digits[i + 13]), isDigit(digits[i + 14]) {
                    text += String(decoding: digits[(i + 13)..<(i + 15)], as: UTF8.self)
                } else {
                    text += "00"
                }
                return DateFormat("yyyyMMddHHmmss").parse(text)?.epochSeconds
            }
            i += 1
        }
        return nil
    }
}
