import FileTransport
import Foundation

/// reconcile: what should have happened and did not. Paid orders not sent to the warehouse, orders sent
/// longer ago than the SLA with no despatch, despatches not yet applied to the storefront, and stock
/// that differs between the storefront and what was last pushed. Each becomes an exception for its
/// owner team (repeats update the same exception).
public struct Reconciliation {
    let storefront: any Storefront
    let manifest: Manifest
    let configuration: Configuration
    let transport: any FileTransport
    let clock: () -> Date

    public init(configuration: Configuration, storefront: any Storefront, manifest: Manifest,
                transport: any FileTransport, clock: @escaping () -> Date) {
        self.configuration = configuration
        self.storefront = storefront
        self.manifest = manifest
        self.transport = transport
        self.clock = clock
    }

    /// What reconciliation found.
    public struct Report: Sendable, Hashable, Codable {
        /// Ready orders not sent (with or without a pre-flight exception).
        public var notSent: [String] = []
        /// Orders sent longer ago than the SLA without a despatch.
        public var pastSLA: [String] = []
        /// Orders the warehouse reports despatched that have no despatch applied.
        public var despatchNotApplied: [String] = []
        /// Despatch files waiting in the warehouse's outbox.
        public var despatchFilesWaiting: [String] = []
        /// SKUs whose storefront availability differs from the value last pushed.
        public var stockDifferences: [StockDifference] = []
        /// Orders the warehouse finished with units it never despatched, cancelled in the storefront (those
        /// that can be told: SCAYLE) so the customer is refunded for what never ships.
        public var shortCancelled: [String] = []
        /// Ready orders placed longer ago than `dispatch_window_hours` and not despatched.
        public var pastDispatchWindow: [String] = []
        /// SKUs whose stock the inventory master holds for the warehouse differently from the warehouse's last
        /// stock file, by more than what is in flight (`SKU@location`).
        public var inventoryDrift: [String] = []
        /// Ledger rows and order events pruned by `state.retention_days`.
        public var prunedRecords = 0
        public var prunedEvents = 0
        /// Orders refunded in the storefront without a return (storefronts that can tell).
        public var refundsWithoutReturn: [String] = []

        public struct StockDifference: Sendable, Hashable, Codable {
            public var sku: String
            public var pushed: Int
            public var storefront: Int?
        }

        public var findings: Int {
            notSent.count + pastSLA.count + despatchNotApplied.count + despatchFilesWaiting.count + stockDifferences.count
                + refundsWithoutReturn.count + pastDispatchWindow.count + shortCancelled.count + inventoryDrift.count
        }
    }

    /// What to look at.
    public enum Check: Sendable, CaseIterable {
        /// Ready orders against the manifest: not sent, past the SLA, despatched but not applied.
        case orders
        /// Despatch files waiting in the warehouse's outbox.
        case despatchFiles
        /// The storefront's stock against what was last pushed (reads the whole catalogue).
        case stock
        /// Refunds made in the storefront without a return, over the last `refundLookbackDays`.
        case refunds
    }

    /// The flows whose per-record ledger is pruned past the retention: what came from the warehouse and was
    /// applied once (despatches, returns, order states). Not: what was sent (never twice, for ever), nor
    /// stock (one row per item: the level in effect, which an older file must never overwrite).
    static let prunableFlows = [ImportDespatchesFlow.flowName, ImportReturnsFlow.flowName, ImportOrderStatusFlow.flowName]

    /// How far back refunds without a return are looked for.
    public var refundLookbackDays = 30
    /// The inventory master, when the client has one: its view of the warehouse's stock is compared.
    public var inventoryMaster: WairClient?

    /// Looks at both sides and raises an exception for every finding (not with `dryRun`).
    public func run(dryRun: Bool = false, checks: Set<Check> = Set(Check.allCases)) throws -> Report {
        var report = Report()
        var raise: [Finding] = []
        if checks.contains(.orders) { try checkOrders(&report, &raise, dryRun: dryRun) }
        if checks.contains(.despatchFiles) {
            report.despatchFilesWaiting = try transport.list(configuration.warehouse.outbox)
                .filter { RemotePath.matches($0.name, glob: configuration.files.despatches) }
                .map(\.name)
        }
        if checks.contains(.stock) { try checkStock(&report, &raise) }
        if checks.contains(.stock), let master = inventoryMaster { try checkInventory(master, &report, &raise) }
        if checks.contains(.refunds), let auditor = storefront as? any RefundAuditing {
            let since = clock().addingTimeInterval(-Double(refundLookbackDays) * 86_400)
            for refund in try auditor.refundsWithoutReturn(since: since) {
                report.refundsWithoutReturn.append(refund.orderNumber)
                raise.append(("refund-without-return", refund.orderNumber,
                              "order \(refund.orderNumber) was refunded in the storefront (\(refund.amount) on "
                                + "\(refund.refundedAt)) without a return: \(refund.refunds) refund(s), \(refund.returns) "
                                + "return(s). The warehouse will not report goods for it; check whether goods are coming back, "
                                + "and register the return in the storefront if they are", .customerService))
            }
        }
        if !dryRun {
            for r in raise { try manifest.raise(kind: r.kind, reference: r.reference, message: r.message, owner: r.owner) }
            let cutoff = Int64(clock().timeIntervalSince1970) - Int64(configuration.retentionDays) * 86_400
            let pruned = try manifest.prune(flows: Self.prunableFlows, before: cutoff)
            report.prunedRecords = pruned.records
            report.prunedEvents = pruned.events
        }
        return report
    }

    private typealias Finding = (kind: String, reference: String, message: String, owner: OwnerTeam)

    private func checkOrders(_ report: inout Report, _ raise: inout [Finding], dryRun: Bool) throws {
        let now = Int64(clock().timeIntervalSince1970)
        let open = try manifest.openExceptionReferences()
        // Page by page: the ready orders, when each was sent, whether it was withheld or despatched — looked
        // up for the page, never for the whole set or the whole history.
        try storefront.orders(statuses: configuration.storefront.readyStatuses, pageSize: 1000) { ready in
            let sent = try manifest.applied(flow: ExportOrdersFlow.flowName, keys: ready.map(\.id)).mapValues(\.appliedAt)
            let withheld = Set(try manifest.applied(flow: ExportCancellationsFlow.flowName, keys: ready.map(\.id)).keys)
            let despatched = try manifest.ordersWithDespatch(ready.map(\.number))
            try check(ready, sent: sent, withheld: withheld, despatched: despatched, open: open, now: now, dryRun: dryRun,
                      &report, &raise)
        }
    }

    private func check(_ ready: [StorefrontOrder], sent: [String: Int64], withheld: Set<String>, despatched: Set<String>,
                       open: Set<String>, now: Int64, dryRun: Bool, _ report: inout Report, _ raise: inout [Finding]) throws {
        let window = Int64(configuration.policies.dispatchWindowHours) * 3600
        let states = try manifest.orderStates(ready.filter { sent[$0.id] != nil }.map(\.number))
        for order in ready where !withheld.contains(order.id) {
            if window > 0, !despatched.contains(order.number), let placed = UTCTime.epochSeconds(iso8601: order.createdAt),
               now - placed > window {
                report.pastDispatchWindow.append(order.number)
                raise.append(("dispatch-window", order.number, "order \(order.number) was placed \((now - placed) / 3600) h ago "
                                + "and has not been despatched; the marketplace expects despatch within "
                                + "\(configuration.policies.dispatchWindowHours) h"
                                + (sent[order.id] == nil ? " (it has not even been sent to the warehouse)" : ""), .operations))
            }
            guard let sentAt = sent[order.id] else {
                report.notSent.append(order.number)
                if !open.contains(order.number) {
                    raise.append(("not-sent", order.number, "order \(order.number) is \(order.status) in the shop but "
                                    + "has not been sent to the warehouse: run export-orders", .operations))
                }
                continue
            }
            let state = states[order.number]
            let inWarehouse = state.map { ["cancelled", "despatched"].contains($0.lowercased()) == false } ?? true
            if now - sentAt > Int64(configuration.policies.slaHours) * 3600, !despatched.contains(order.number),
               inWarehouse {
                report.pastSLA.append(order.number)
                let hours = (now - sentAt) / 3600
                raise.append(("sla-breach", order.number, "order \(order.number) was sent to the warehouse \(hours) h "
                                + "ago (SLA \(configuration.policies.slaHours) h) and has no despatch yet"
                                + (state.map { "; the warehouse shows it as \($0)" } ?? ""), .operations))
            }
            if ["despatched", "completed"].contains(state?.lowercased() ?? ""), despatched.contains(order.number),
               let canceller = storefront as? any LineCancelling, let current = try storefront.order(number: order.number) {
                let short = current.lines.filter { $0.fulfilled < $0.quantity }.map { ($0.sku, $0.quantity - $0.fulfilled) }
                if !short.isEmpty && !dryRun {
                    try canceller.cancelLines(orderNumber: order.number, lines: short)
                    try manifest.recordFinance(ExportOrdersFlow.finance(current, kind: "cancelled", reference: "short", lines: short))
                    try manifest.addOrderEvents([OrderEvent(orderNumber: order.number, kind: "cancellation", detail: "units the "
                        + "warehouse did not despatch cancelled: " + short.map { "\($0.1) x \($0.0)" }.joined(separator: ", "))])
                }
                if !short.isEmpty {
                    report.shortCancelled.append(order.number)
                    raise.append(("short-shipped", order.number, "the warehouse finished order \(order.number) without "
                                    + short.map { "\($0.1) x \($0.0)" }.joined(separator: ", ") + (dryRun ? "" : "; cancelled in the "
                                    + "storefront so the customer is refunded for them"), .customerService))
                }
            }
            if state?.lowercased() == "despatched", !despatched.contains(order.number) {
                report.despatchNotApplied.append(order.number)
                raise.append(("despatch-not-applied", order.number, "the warehouse reports order \(order.number) as "
                                + "despatched, but no despatch has been applied to the storefront", .operations))
            }
        }
    }

    /// The inventory master's on-hand for the warehouse against the warehouse's last stock file. WAIR may
    /// already count transfers it asked for that the warehouse has not despatched yet, so it may be lower by
    /// up to what is in flight; any other difference beyond the tolerance is drift for the inventory team.
    private func checkInventory(_ master: WairClient, _ report: inout Report, _ raise: inout [Finding]) throws {
        let settings = master.settings
        let theirs = try master.warehouseStock()
        let ours = Dictionary(uniqueKeysWithValues: try manifest.wairStock(unsentOnly: false).map { ($0.itemCode, $0) })
        let flight = try manifest.wairInFlight(prefix: settings.orderPrefix)
        for item in Set(theirs.keys).union(ours.keys).sorted() {
            let held = theirs[item] ?? 0
            let counted = ours[item]?.onHand ?? 0
            let moving = flight[item] ?? 0
            let difference = held - counted
            guard difference > settings.driftTolerance || difference < -(moving + settings.driftTolerance) else { continue }
            let reference = "\(item)@\(settings.warehouseLocation)"
            report.inventoryDrift.append(reference)
            let when = ours[item].map { " (snapshot \(UTCTime.iso8601(Date(timeIntervalSince1970: Double($0.snapshot)))))" } ?? ""
            raise.append(("inventory-drift", reference, "WAIR holds \(held) on hand of \(item) at \(settings.warehouseLocation); "
                            + "the warehouse's last stock file says \(counted)\(when), with \(moving) in flight on transfers. "
                            + "Check that export-inventory has run since that file, for stock mutations posted in WAIR by hand, "
                            + "and count the item at the warehouse", .inventory))
        }
    }

    private func checkStock(_ report: inout Report, _ raise: inout [Finding]) throws {
        let levels = try storefront.stockLevels()
        let reverse = configuration.mappings.storefrontSKUs
        for record in try manifest.appliedRecords(flow: ImportStockFlow.flowName) {
            let parts = record.hash.split(separator: "|")
            guard parts.count > 1, let pushed = Int(parts[1]) else { continue }
            let sku = reverse[record.key] ?? record.key
            let shown = levels[sku]
            if shown != pushed {
                report.stockDifferences.append(.init(sku: sku, pushed: pushed, storefront: shown))
                raise.append(("stock-difference", sku, "the storefront shows \(shown.map(String.init) ?? "no stock") for "
                                + "\(sku), but \(pushed) was last pushed from the warehouse: run import-stock --full",
                              .merchandising))
            }
        }
    }
}
