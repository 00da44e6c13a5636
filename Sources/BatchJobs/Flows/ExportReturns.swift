import CSVKit
import Foundation

/// export-returns: returns announced in the shop (an RMA created by the customer or customer service)
/// go to the warehouse as expected-return files, so it knows what is coming and books each parcel in
/// against its return number. The refund waits for the warehouse: import-returns refunds a line only
/// when the warehouse's returns file reports a final state.
///
/// Each return is sent once (the ledger key is the return number). Before it is sent, it is checked the
/// way the warehouse would: the order went to this warehouse, every SKU is one it knows (mapped to its
/// item code), quantities are positive; a return that fails is an exception with the reason and is tried
/// again on the next run. It works for any storefront where returns start (``ReturnsSource``): the
/// plain-file storefront's `returns/` folder today.
public struct ExportReturnsFlow: OutboundFlow {
    public static let flowName = "expected-returns"
    public let name = ExportReturnsFlow.flowName
    public let template: CSVTemplate
    public let fileNamePattern: String
    public let problemKinds = ["return-order-not-sent", "unknown-sku", "invalid-quantity"]
    public let jobName = JobName.exportReturns.rawValue
    let source: any ReturnsSource
    let manifest: Manifest
    let configuration: Configuration

    public init(configuration: Configuration, source: any ReturnsSource, manifest: Manifest) {
        self.configuration = configuration
        self.source = source
        self.manifest = manifest
        template = configuration.template("expected_returns")!.0
        fileNamePattern = configuration.files.expectedReturns
    }

    public func collect() throws -> [OutboundRecord] { try allPages() }

    public func collect(pages body: ([OutboundRecord]) throws -> Void) throws {
        let skus = configuration.mappings.skus
        try source.announcedReturns(pageSize: 500) { returns in
            let sent = try manifest.ordersSent(returns.map(\.orderNumber))
            // The page's item codes the warehouse knows, looked up for this page (never the whole catalogue).
            let warehouseItems = try manifest.itemCodesTheWarehouseKnows(among: returns.flatMap { $0.lines.map { skus[$0.sku] ?? $0.sku } })
            let template = self.template
            try body(returns.map { ret in
                let rows = rows(for: ret, in: template)
                return OutboundRecord(key: ret.returnNumber, reference: ret.returnNumber, rows: rows,
                                      problem: preflight(ret, sent: sent, warehouseItems: warehouseItems))
            })
        }
    }

    public func sent(keys: [String], references: [String]?, in file: String) throws {
        try manifest.addOrderEvents((references ?? keys).map {
            OrderEvent(orderNumber: $0, kind: "return-announced", detail: "expected return sent to the warehouse in \(file)",
                       file: file)
        })
    }

    /// One row per line, SKUs mapped to the warehouse's item codes.
    func rows(for ret: AnnouncedReturn, in template: CSVTemplate) -> [[String]] {
        let skus = configuration.mappings.skus
        return ret.lines.map { line in
            template.row(["ReturnNumber": ret.returnNumber, "SalesOrderNumber": ret.orderNumber,
                          "ItemCode": skus[line.sku] ?? line.sku, "QuantityExpected": String(line.quantity),
                          "Reason": ret.reason, "RequestedDate": ExportOrdersFlow.peoplevoxDate(ret.createdAt)])
        }
    }

    func preflight(_ ret: AnnouncedReturn, sent: Set<String>, warehouseItems: Set<String>) -> OutboundProblem? {
        guard sent.contains(ret.orderNumber) else {
            return OutboundProblem(kind: "return-order-not-sent", message: "return \(ret.returnNumber) was not announced: "
                                   + "order \(ret.orderNumber) never went to this warehouse; check the order number, "
                                   + "or handle the return outside the warehouse", owner: .customerService)
        }
        if ret.lines.isEmpty || ret.lines.contains(where: { $0.quantity <= 0 }) {
            return OutboundProblem(kind: "invalid-quantity", message: "return \(ret.returnNumber) was not announced: "
                                   + "every line needs a positive quantity", owner: .customerService)
        }
        let skus = configuration.mappings.skus
        let unknown = ret.lines.map { skus[$0.sku] ?? $0.sku }.filter { !warehouseItems.contains($0) }
        if !unknown.isEmpty {
            return OutboundProblem(kind: "unknown-sku", message: "return \(ret.returnNumber) was not announced: SKU "
                                   + unknown.map { "\"\($0)\"" }.joined(separator: ", ")
                                   + " is not in the warehouse's item list", owner: .merchandising)
        }
        return nil
    }
}
