import CSVKit
import Foundation

/// import-returns: a returned line is refunded (or credited) in the storefront only once the warehouse
/// has put it in a final state (default: Accepted, Quarantined), and restocked only when the state is
/// sellable (default: Accepted). Lines in other states are counted as waiting and applied when a later
/// file brings them in a final state. Idempotent per return + item.
public struct ImportReturnsFlow: InboundFlow {
    public static let flowName = "returns"
    public let name = ImportReturnsFlow.flowName
    public let template: CSVTemplate
    public let filePattern: String
    let storefront: any Storefront
    let refundStates: Set<String>
    let restockStates: Set<String>
    let skus: [String: String]

    /// Where the refunded value is recorded for `voxbatch finance` (none: not recorded).
    let manifest: Manifest?

    public init(configuration: Configuration, storefront: any Storefront, manifest: Manifest? = nil) {
        self.manifest = manifest
        var template = configuration.template("returns")!.0
        // The state names are the client's: any value is read, the policy decides what it means.
        if let i = template.columns.firstIndex(where: { $0.name == "Status" || $0.aliases.contains("Status") }) {
            template.columns[i].type = .text
        }
        self.template = template
        filePattern = configuration.files.returns
        self.storefront = storefront
        refundStates = Set(configuration.policies.refundStates.map { $0.lowercased() })
        restockStates = Set(configuration.policies.restockStates.map { $0.lowercased() })
        skus = configuration.mappings.storefrontSKUs
    }

    public func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> ReturnLine {
        ReturnLine.decoder(template: template, header: header)
    }

    public func key(of record: ReturnLine) -> String { .keyPath(record.returnNumber, record.itemCode) }

    /// The orders this file names, for a storefront that would rather not read every order.
    public func willApplyRows(ofFile path: String, configuration: CSVConfiguration, temporaryDirectory: String) throws {
        try storefront.expectOrderLookups(namedIn: path, configuration: configuration, template: template)
    }

    public func didApplyRows() { try? storefront.expectOrderLookups(for: nil) }

    /// A return line is applied once per state: a waiting line is looked at again when its state changes.
    public func fingerprint(of record: ReturnLine) -> String? { "\(record.status.lowercased())|\(record.quantity)" }

    public func event(for record: ReturnLine, file: String) -> OrderEvent? {
        OrderEvent(orderNumber: record.orderNumber, kind: "refunded",
                   detail: "return \(record.returnNumber): \(record.quantity) x \(record.itemCode) \(record.status)"
                    + (restockStates.contains(record.status.lowercased()) ? ", restocked" : ", not restocked"),
                   file: file)
    }

    public func apply(_ records: [ReturnLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        var finance: [FinanceLine] = []
        let outcomes = try apply(records, previous: previous, dryRun: dryRun, finance: &finance)
        if !dryRun { try manifest?.recordFinance(finance) }  // the batch's refunded value in one write
        return outcomes
    }

    /// Applies the batch, handing back its refunded value for the batch's commit.
    public func apply(_ records: [ReturnLine], previous: [String?], dryRun: Bool, finance: inout [FinanceLine]) throws
        -> [ApplyOutcome]
    {
        var outcomes: [ApplyOutcome] = []
        for record in records {
            outcomes.append(try apply(record, finance: &finance, dryRun: dryRun))
        }
        if !dryRun { try storefront.flush() }
        return outcomes
    }

    private func apply(_ record: ReturnLine, finance: inout [FinanceLine], dryRun: Bool) throws -> ApplyOutcome {
        let state = record.status.lowercased()
        guard refundStates.contains(state) else {
            return .skipped("return \(record.returnNumber) is \(record.status): waiting for a final state")
        }
        guard let order = try storefront.order(number: record.orderNumber) else {
            return .exception(kind: "unknown-order", reference: record.orderNumber,
                              message: "return \(record.returnNumber) is for order \(record.orderNumber), which the "
                                + "storefront does not know", owner: .customerService)
        }
        let sku = skus[record.itemCode] ?? record.itemCode
        let refund = Refund(orderNumber: record.orderNumber, returnNumber: record.returnNumber, sku: sku,
                            quantity: record.quantity, restock: restockStates.contains(state),
                            reason: record.reason.isEmpty ? record.status : record.reason)
        if order.refundIDs.contains(refund.id) {  // in effect already
            if !dryRun { finance += refunded(order, refund) }
            return .applied
        }
        guard let line = order.lines.first(where: { $0.sku == sku }) else {
            return .exception(kind: "return-mismatch", reference: record.orderNumber,
                              message: "return \(record.returnNumber) of order \(record.orderNumber) contains "
                                + "\(record.itemCode), which the order does not have", owner: .customerService)
        }
        if line.refunded + record.quantity > line.quantity {
            return .exception(kind: "return-mismatch", reference: record.orderNumber,
                              message: "return \(record.returnNumber) of order \(record.orderNumber) returns "
                                + "\(record.quantity) x \(record.itemCode), more than the \(line.quantity - line.refunded) "
                                + "not yet refunded", owner: .customerService)
        }
        if !dryRun {
            do {
                try storefront.refund(refund)
                finance += refunded(order, refund)
            } catch let error as StorefrontError where error.refusesRecord {
                return .exception(kind: "return-not-applied", reference: record.orderNumber,
                                  message: "return \(record.returnNumber) of order \(record.orderNumber) was refused by "
                                    + "the storefront: \(error.message)", owner: .customerService)
            }
        }
        return .applied
    }

    /// The refunded value, for `voxbatch finance` (recorded once per return line).
    private func refunded(_ order: StorefrontOrder, _ refund: Refund) -> [FinanceLine] {
        manifest == nil ? [] : ExportOrdersFlow.finance(order, kind: "refunded", reference: refund.returnNumber,
                                                        lines: [(refund.sku, refund.quantity)])
    }
}
