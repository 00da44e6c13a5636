import CSVKit
import Foundation

/// export-cancellations: what happens to an order the shop cancelled depends on how far it got.
///
/// - Not sent yet: withheld (recorded, so export-orders never sends it).
/// - Sent, and the warehouse's latest state is one where a cancellation still stops it (default `New`):
///   a cancellation request goes out in a Peoplevox cancellations file.
/// - Sent and already picking or later (or despatched): an exception for a person to stop it by hand,
///   with the order's state in the message.
public struct ExportCancellationsFlow: OutboundFlow {
    public static let flowName = "cancellations"
    public let name = ExportCancellationsFlow.flowName
    public let template: CSVTemplate
    public let fileNamePattern: String
    public let problemKinds = ["cancel-too-late"]
    public let recordsOrderEvents = true
    let storefront: any Storefront
    let manifest: Manifest
    let configuration: Configuration
    let clock: () -> Date

    public init(configuration: Configuration, storefront: any Storefront, manifest: Manifest,
                clock: @escaping () -> Date) {
        self.configuration = configuration
        self.storefront = storefront
        self.manifest = manifest
        self.clock = clock
        template = configuration.template("cancellations")!.0
        fileNamePattern = configuration.files.cancellations
    }

    public func collect() throws -> [OutboundRecord] { try allPages() }

    /// Cancelled orders a page at a time, each page looked up in the manifest on its own.
    public func collect(pages body: ([OutboundRecord]) throws -> Void) throws {
        try storefront.orders(statuses: configuration.storefront.cancelledStatuses, pageSize: 1000) { cancelled in
            try body(try records(for: cancelled))
        }
    }

    private func records(for cancelled: [StorefrontOrder]) throws -> [OutboundRecord] {
        guard !cancelled.isEmpty else { return [] }
        let handled = try manifest.appliedHashes(flow: name, keys: cancelled.map(\.id))
        let sent = try manifest.appliedHashes(flow: ExportOrdersFlow.flowName, keys: cancelled.map(\.id))
        let despatched = try manifest.ordersWithDespatch(cancelled.map(\.number))
        let states = try manifest.orderStates(cancelled.map(\.number))
        var records: [OutboundRecord] = []
        for order in cancelled where handled[order.id] == nil {
            guard sent[order.id] != nil else {
                // Never reached the warehouse: withhold it for good.
                try manifest.commitWithheld(flow: name, key: order.id)
                try manifest.addOrderEvents([OrderEvent(orderNumber: order.number, kind: "cancellation",
                                                        detail: "cancelled before it was sent: withheld")])
                try storefront.recordCancellation(orderNumber: order.number, outcome: .withheld,
                                                  detail: "cancelled before it was sent to the warehouse")
                continue
            }
            let state = states[order.number]
            let stoppable = state.map { s in configuration.policies.cancellableStates.contains { $0.caseInsensitiveCompare(s) == .orderedSame } }
                ?? !despatched.contains(order.number)
            let request = CancellationRequest(orderNumber: order.number, reason: "cancelled in the storefront",
                                              requestedDate: ExportOrdersFlow.peoplevoxDate(Self.iso(clock())))
            let template = self.template
            var record = OutboundRecord(key: order.id, reference: order.number, rows: [request.row(in: template)])
            if !stoppable {
                let where_ = state.map { "is \($0) in the warehouse" } ?? "has already been despatched"
                record.problem = OutboundProblem(
                    kind: "cancel-too-late",
                    message: "order \(order.number) was cancelled in the shop but \(where_): too late for a cancellation "
                        + "request; stop it by hand in Peoplevox (or intercept the parcel) and tell the customer",
                    owner: .customerService)
                try storefront.recordCancellation(orderNumber: order.number, outcome: .tooLate,
                                                  detail: state ?? "Despatched")
            }
            records.append(record)
        }
        try storefront.flush()
        return records
    }

    public func sent(keys: [String], references: [String]?, in file: String) throws {
        // The order numbers came with the records; only a file confirmed after a crash needs them looked up.
        let numbers = try references ?? {
            let cancelled = try storefront.orders(statuses: configuration.storefront.cancelledStatuses)
            let byID = Dictionary(cancelled.map { ($0.id, $0.number) }, uniquingKeysWith: { a, _ in a })
            return keys.map { byID[$0] ?? $0 }
        }()
        for number in numbers {
            try storefront.recordCancellation(orderNumber: number, outcome: .requested, detail: "requested in \(file)")
        }
        try manifest.recordCancelledOrders(numbers, reference: file)  // what will not ship, for finance
        try storefront.flush()
    }

    static func iso(_ date: Date) -> String { UTCTime.iso8601(date) }
}
