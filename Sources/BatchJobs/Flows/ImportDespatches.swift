import CSVKit
import Foundation

/// import-despatches: each package the warehouse despatched becomes a fulfilment in the storefront,
/// with its tracking number, carrier (in the storefront's names), date, and the lines it carried.
///
/// Partial shipments make one fulfilment per package; the order is complete only when every line has
/// been despatched in full. Idempotent per order + package + item. A despatch for an order the shop
/// does not know, for an item the order does not have, or for more than was ordered is an exception.
public struct ImportDespatchesFlow: InboundFlow {
    public static let flowName = "despatches"
    public let name = ImportDespatchesFlow.flowName
    public let template: CSVTemplate
    public let filePattern: String
    let storefront: any Storefront
    let carriers: [String: String]
    /// Warehouse item code → storefront SKU.
    let skus: [String: String]
    /// Where the despatched value is recorded for `voxbatch finance` (none: not recorded).
    let manifest: Manifest?

    public init(configuration: Configuration, storefront: any Storefront, manifest: Manifest? = nil) {
        self.manifest = manifest
        template = configuration.template("despatches")!.0
        filePattern = configuration.files.despatches
        self.storefront = storefront
        carriers = configuration.mappings.carriers
        skus = configuration.mappings.storefrontSKUs
    }

    public func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> DespatchLine {
        DespatchLine.decoder(template: template, header: header)
    }

    public func key(of record: DespatchLine) -> String { record.key }

    /// A despatch line weighs about a kilobyte in a batch: the line, its key and hash, and its share of the
    /// package's event, its finance line and their rows laid out for the manifest. At 10,000 a batch the import of
    /// a 300,000-line file peaked at 80 MiB; at 4,000, 62 MiB, in the same time (Benchmarks/README.md).
    public var recordsPerBatch: Int { 4_000 }

    public func willApplyFiles() { storefront.prepareOrderLookups() }

    /// The orders this file names, for a storefront that would rather not read every order.
    public func willApplyRows(ofFile path: String, configuration: CSVConfiguration, temporaryDirectory: String) throws {
        try storefront.expectOrderLookups(namedIn: path, configuration: configuration, template: template)
    }

    public func didApplyRows() { try? storefront.expectOrderLookups(for: nil) }

    public func groupKey(of record: DespatchLine) -> String { .keyPath(record.orderNumber, record.despatchNumber) }

    public func sameGroup(_ a: DespatchLine, _ b: DespatchLine) -> Bool {
        a.despatchNumber == b.despatchNumber && a.orderNumber == b.orderNumber
    }

    public func event(for record: DespatchLine, file: String) -> OrderEvent? {
        events(for: [record], file: file).first
    }

    /// One event per package: its lines applied from this file, its carrier, tracking and date (a package of
    /// three lines is one line of the order's history, and one row of the manifest, not three).
    public func events(for records: [DespatchLine], file: String) -> [OrderEvent] {
        var events: [OrderEvent] = []
        var start = 0
        // "package P1: 2 x SKU-A, 1 x SKU-B, DPD Next Day tracking T1, despatched 30/11/2026 17:00", put together in
        // one buffer kept for the whole batch (the package's first line read where it is, not copied).
        var detail = TextBuffer(capacity: 256)
        while start < records.count {
            var end = start + 1
            while end < records.count && sameGroup(records[end], records[start]) { end += 1 }
            detail.removeAll()
            detail.append("package ")
            detail.append(records[start].despatchNumber)
            detail.append(": ")
            for i in start..<end {
                if i > start { detail.append(", ") }
                detail.append(records[i].quantity)
                detail.append(" x ")
                detail.append(records[i].itemCode)
            }
            detail.append(", ")
            detail.append(records[start].carrier)
            detail.append(" ")
            detail.append(records[start].service)
            detail.append(" tracking ")
            detail.append(records[start].trackingNumber)
            detail.append(", despatched ")
            detail.append(records[start].despatchDate)
            events.append(OrderEvent(orderNumber: records[start].orderNumber, kind: "despatched", detail: detail.text,
                                     file: file))
            start = end
        }
        return events
    }

    public func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        var finance: [FinanceLine] = []
        let outcomes = try apply(records, previous: previous, dryRun: dryRun, finance: &finance)
        if !dryRun { try manifest?.recordFinance(finance) }
        return outcomes
    }

    /// Applies the batch; what left, at what was charged for it, is handed back for the batch's commit: once per
    /// package and SKU however often this runs (a rerun after a crash finds the lines in effect and hands them
    /// back again).
    public func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool, finance: inout [FinanceLine]) throws
        -> [ApplyOutcome]
    {
        var outcomes = [ApplyOutcome](repeating: .applied, count: records.count)
        finance.reserveCapacity(finance.count + records.count)  // a line each at most (grown by doubling: twice the room)
        var start = 0
        while start < records.count {
            var end = start + 1
            while end < records.count && sameGroup(records[end], records[start]) { end += 1 }
            try applyPackage(records, start..<end, into: &outcomes, finance: &finance, dryRun: dryRun)
            start = end
        }
        if !dryRun { try storefront.flush() }
        return outcomes
    }

    /// Applies the lines of one package.
    private func applyPackage(_ records: [DespatchLine], _ range: Range<Int>, into outcomes: inout [ApplyOutcome],
                              finance: inout [FinanceLine], dryRun: Bool) throws {
        let first = range.lowerBound  // the package's first line, read where it is
        let orderNumber = records[first].orderNumber, despatchNumber = records[first].despatchNumber
        var lines: [(sku: String, quantity: Int)] = []
        var carried: [Int] = []  // the records this package writes
        var completes = false
        // What the lines in effect already (a rerun after a crash) and the new ones are worth, at the order's prices.
        var inEffectFinance: [FinanceLine] = [], newFinance: [FinanceLine] = []
        // The order is looked at where the storefront keeps it, not copied; it is written to after.
        let found: Void? = try storefront.withOrder(number: orderNumber) { order in
            var inEffect: [(sku: String, quantity: Int)] = []  // lines the storefront already has
            // What this package adds to the order's lines, by line (the order itself is left as it is).
            var adding: [(line: Int, quantity: Int)] = []
            func fulfilled(_ li: Int) -> Int {
                order.lines[li].fulfilled + adding.reduce(0) { $0 + ($1.line == li ? $1.quantity : 0) }
            }
            for i in range {
                let itemCode = records[i].itemCode, quantity = records[i].quantity
                let sku = skus.isEmpty ? itemCode : skus[itemCode] ?? itemCode
                guard let li = order.lines.firstIndex(where: { $0.sku == sku }) else {
                    outcomes[i] = .exception(
                        kind: "despatch-mismatch", reference: orderNumber,
                        message: "despatch \(records[i].despatchNumber) of order \(orderNumber) contains \(itemCode), "
                            + "which the order does not have", owner: .operations)
                    continue
                }
                // In effect already (a rerun after a crash)? An order with no fulfilment yet, the usual case, has none.
                if !order.fulfilmentIDs.isEmpty, order.fulfilmentIDs.contains(.keyPath(records[i].despatchNumber, sku)) {
                    inEffect.append((sku, quantity))
                    continue
                }
                let ordered = order.lines[li].quantity, done = fulfilled(li)
                if done + quantity > ordered {
                    outcomes[i] = .exception(
                        kind: "despatch-mismatch", reference: orderNumber,
                        message: "despatch \(records[i].despatchNumber) of order \(orderNumber) ships \(quantity) "
                            + "x \(itemCode), but only \(ordered - done) of \(ordered) remained to despatch",
                        owner: .operations)
                    continue
                }
                adding.append((li, quantity))
                lines.append((sku, quantity))
                carried.append(i)
            }
            completes = order.lines.indices.allSatisfy { fulfilled($0) >= order.lines[$0].quantity }
            guard manifest != nil, !dryRun else { return }
            if !inEffect.isEmpty {
                inEffectFinance = ExportOrdersFlow.finance(order, kind: "despatched", reference: despatchNumber,
                                                           lines: inEffect)
            }
            if !lines.isEmpty {
                newFinance = ExportOrdersFlow.finance(order, kind: "despatched", reference: despatchNumber, lines: lines)
            }
        }
        guard found != nil else {
            for i in range {
                outcomes[i] = .exception(
                    kind: "unknown-order", reference: orderNumber,
                    message: "despatch \(despatchNumber) is for order \(orderNumber), which the storefront "
                        + "does not know: check the order number with the warehouse", owner: .customerService)
            }
            return
        }
        guard !dryRun else { return }
        finance += inEffectFinance
        if !lines.isEmpty {
            do {
                try storefront.fulfil(Fulfilment(
                    orderNumber: orderNumber, package: despatchNumber,
                    carrier: carriers[records[first].carrier] ?? records[first].carrier, service: records[first].service,
                    trackingNumber: records[first].trackingNumber, despatchDate: records[first].despatchDate, lines: lines,
                    completesOrder: completes))
                finance += newFinance
            } catch let error as StorefrontError where error.refusesRecord {
                // Refused for this package alone: the others go on; this one waits for a person and a re-drop.
                for i in carried {
                    outcomes[i] = .exception(
                        kind: "despatch-not-applied", reference: orderNumber,
                        message: "despatch \(despatchNumber) of order \(orderNumber) was refused by the "
                            + "storefront: \(error.message)", owner: .operations)
                }
            }
        }
    }
}
