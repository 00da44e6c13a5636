import CSVKit
import Foundation

/// import-order-status: the warehouse's sales-order states (New, Picking, Packing, Despatched...),
/// remembered per order so a cancellation knows whether it can still stop the order, and so `order`
/// and reconciliation can tell where an order is.
public struct ImportOrderStatusFlow: InboundFlow {
    public static let flowName = "order-status"
    public let name = ImportOrderStatusFlow.flowName
    public let template: CSVTemplate
    public let filePattern: String
    let manifest: Manifest

    public init(configuration: Configuration, manifest: Manifest) {
        template = configuration.template("order_status")!.0
        filePattern = configuration.files.orderStatus
        self.manifest = manifest
    }

    public func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> OrderStatusLine {
        OrderStatusLine.decoder(template: template, header: header)
    }

    public func key(of record: OrderStatusLine) -> String { record.orderNumber }

    public func fingerprint(of record: OrderStatusLine) -> String? { record.status + "|" + record.date }

    public func event(for record: OrderStatusLine, file: String) -> OrderEvent? {
        OrderEvent(orderNumber: record.orderNumber, kind: "warehouse-state",
                   detail: "\(record.status) at \(record.date)", file: file)
    }

    public func apply(_ records: [OrderStatusLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        let formats = PeoplevoxTemplates.dateFormats.map(DateFormat.init)
        func epoch(_ text: Substring) -> Int? { formats.lazy.compactMap { $0.parse(String(text)) }.first?.epochSeconds }
        var outcomes: [ApplyOutcome] = []
        var newer: [OrderStatusLine] = []
        for (record, previous) in zip(records, previous) {
            // A late file with an older state never overwrites a newer one.
            if let previous, let old = previous.split(separator: "|", omittingEmptySubsequences: false).last.flatMap(epoch),
               let new = epoch(Substring(record.date)), new < old {
                outcomes.append(.skipped("older than the state in effect"))
                continue
            }
            newer.append(record)
            outcomes.append(.applied)
        }
        if !dryRun { try manifest.setOrderStates(newer.map { ($0.orderNumber, $0.status, $0.date) }) }
        return outcomes
    }
}
