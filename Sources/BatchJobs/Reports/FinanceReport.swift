import CSVKit
import Foundation

/// `voxbatch finance`: for a day, by currency, the value of what went to the warehouse (what was
/// charged), what was despatched, cancelled and refunded — each valued at the order line's price — and
/// the orders whose despatched value differs from what was charged less what was cancelled. Built from
/// the finance lines the jobs record as they act (``FinanceLine``), for any storefront.
public struct FinanceReport: Sendable, Hashable, Codable {
    public var day: String
    public var currencies: [Totals]
    /// Orders whose despatched value differs from charged − cancelled: despatched more than that, or the
    /// warehouse reports them despatched (final) with less.
    public var differences: [Difference]

    public struct Totals: Sendable, Hashable, Codable {
        /// ISO 4217, or `""` when the storefront does not say.
        public var currency: String
        public var ordersSent: Int
        public var sentCents: Int
        public var despatchedCents: Int
        public var cancelledCents: Int
        public var refundedCents: Int
    }

    public struct Difference: Sendable, Hashable, Codable {
        public var orderNumber: String
        public var currency: String
        public var chargedCents: Int
        public var cancelledCents: Int
        public var despatchedCents: Int
        /// despatched − (charged − cancelled): negative when less left than was charged.
        public var differenceCents: Int
        public var warehouseState: String?
    }

    /// The report for `day` (`2026-11-30`, UTC days of the jobs' clock).
    public static func build(manifest: Manifest, day: String) throws -> FinanceReport {
        let lines = try manifest.financeLines(touchingDay: day)
        var totals: [String: Totals] = [:]
        var sentOrders: [String: Set<String>] = [:]
        for (line, lineDay) in lines where lineDay == day {
            var t = totals[line.currency] ?? Totals(currency: line.currency, ordersSent: 0, sentCents: 0, despatchedCents: 0,
                                                    cancelledCents: 0, refundedCents: 0)
            let value = line.quantity * line.unitCents
            switch line.kind {
            case "sent":
                t.sentCents += value
                sentOrders[line.currency, default: []].insert(line.orderNumber)
            case "despatched": t.despatchedCents += value
            case "cancelled": t.cancelledCents += value
            case "refunded": t.refundedCents += value
            default: break
            }
            totals[line.currency] = t
        }
        for (currency, orders) in sentOrders { totals[currency]?.ordersSent = orders.count }

        var byOrder: [String: [FinanceLine]] = [:]
        for (line, _) in lines { byOrder[line.orderNumber, default: []].append(line) }
        var differences: [Difference] = []
        let states = try manifest.orderStates(Array(byOrder.keys))
        for (order, orderLines) in byOrder.sorted(by: { $0.key < $1.key }) {
            let sum = { (kind: String) in orderLines.filter { $0.kind == kind }.reduce(0) { $0 + $1.quantity * $1.unitCents } }
            let charged = sum("sent")
            guard charged > 0 || sum("despatched") > 0 else { continue }
            let cancelled = sum("cancelled")
            let despatched = sum("despatched")
            let expected = charged - cancelled
            let state = states[order]
            let final = state.map { ["despatched", "completed"].contains($0.lowercased()) } ?? false
            if despatched > expected || (final && despatched != expected) {
                differences.append(Difference(orderNumber: order, currency: orderLines.first?.currency ?? "",
                                              chargedCents: charged, cancelledCents: cancelled, despatchedCents: despatched,
                                              differenceCents: despatched - expected, warehouseState: state))
            }
        }
        return FinanceReport(day: day, currencies: totals.values.sorted { $0.currency < $1.currency }, differences: differences)
    }

    /// `1234` cents as `12.34`.
    public static func amount(_ cents: Int) -> String {
        let sign = cents < 0 ? "-" : ""
        return sign + String(abs(cents) / 100) + "." + String(format: "%02d", abs(cents) % 100)
    }

    /// The report as CSV, one row per currency then one per difference, for a spreadsheet (formula-guarded).
    public func csv() throws -> [UInt8] {
        let sink = MemorySink()
        let writer = CSVWriter(sink: sink, guardsFormulas: true)
        try writer.write(record: ["day", "currency", "orders_sent", "sent", "despatched", "cancelled", "refunded"])
        for t in currencies {
            try writer.write(record: [day, t.currency, String(t.ordersSent), Self.amount(t.sentCents), Self.amount(t.despatchedCents),
                                      Self.amount(t.cancelledCents), Self.amount(t.refundedCents)])
        }
        try writer.write(record: [])
        try writer.write(record: ["order", "currency", "charged", "cancelled", "despatched", "difference", "warehouse_state"])
        for d in differences {
            try writer.write(record: [d.orderNumber, d.currency, Self.amount(d.chargedCents), Self.amount(d.cancelledCents),
                                      Self.amount(d.despatchedCents), Self.amount(d.differenceCents), d.warehouseState ?? ""])
        }
        try writer.flush()
        return sink.bytes
    }
}
