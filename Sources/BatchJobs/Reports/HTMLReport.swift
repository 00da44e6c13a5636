import Foundation

/// `voxbatch report --html`: one self-contained page (inline CSS and SVG, no script, no external
/// asset) for the operations team: health at a glance, the last days' runs as a small chart, open
/// exceptions by owner with what to do, stuck orders with their age, and recent files with a link to
/// each error report.
public struct HTMLReport {
    let runner: JobRunner
    let days: Int
    let now: Date
    /// The health the page shows (judged once, at `now`): `voxbatch report --status-json` prints the same.
    public let health: HealthReport

    /// A report of the last `days` days up to `now` (default: the runner's clock, never the wall clock).
    public init(runner: JobRunner, days: Int = 7, now: Date? = nil) {
        self.runner = runner
        self.days = days
        self.now = now ?? runner.clock()
        health = runner.health(now: self.now)
    }

    /// What ops should do about each kind of exception.
    static let advice: [String: String] = [
        "unknown-sku": "Send the SKU to the warehouse (export-items) or fix the SKU mapping; the order goes out on the next run.",
        "invalid-address": "Correct the address in the shop; the order goes out on the next run.",
        "invalid-quantity": "Correct the order lines in the shop.",
        "rejected-rows": "Fix the rows listed in the error report and re-drop the file under the same name.",
        "rejected-file": "Ask the warehouse to resend the file; it is not CSV that can be read.",
        "cancel-too-late": "Stop the order by hand in Peoplevox or intercept the parcel, and tell the customer.",
        "unknown-order": "Check the order number with the warehouse.",
        "despatch-mismatch": "Check the despatch with the warehouse; the order does not have these items or quantities.",
        "unknown-sku-stock": "Add the product to the shop or map the SKU.",
        "sla-breach": "Chase the warehouse: the order was sent and has not left.",
        "not-sent": "Run export-orders, or look for its pre-flight exception.",
        "despatch-not-applied": "Look for a rejected or waiting despatch file, or the storefront's refusal in the message; "
            + "fix it there and run voxbatch files reprocess on the despatch file.",
        "return-not-applied": "Fix what the storefront refused (see the message), then voxbatch files reprocess the returns file.",
        "refund-without-return": "Ask whether goods are coming back; if they are, register the return in the shop.",
        "stock-difference": "Run import-stock --full.",
        "return-mismatch": "Check the return with the warehouse.",
        "dispatch-window": "Chase the warehouse now: the marketplace rates the seller on despatch within its window.",
        "order-retries-exhausted": "The order has failed its checks many times: fix what its other exception says.",
        "missing-field": "Fill in the field the mappings require on the order in the shop; it goes out on the next run.",
        "invalid-items": "Complete the product in the shop (name, price...); the item goes out on the next run.",
    ]

    /// The page.
    public func render() throws -> String {
        let manifest = runner.manifest
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>voxbatch — \(esc(health.client))</title>
            <style>
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
            header{padding:18px 28px;color:#fff;background:\(health.healthy ? "#1f7a4d" : "#b3261e")}
            header h1{margin:0;font-size:22px} header p{margin:4px 0 0}
            main{padding:8px 28px 40px;max-width:1200px}
            section{background:#fff;border-radius:8px;padding:14px 18px;margin:16px 0;box-shadow:0 1px 2px #0002}
            h2{font-size:16px;margin:0 0 10px} table{border-collapse:collapse;width:100%}
            th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
            th{font-weight:600;color:#555;font-size:12px;text-transform:uppercase}
            .ok{color:#1f7a4d;font-weight:600} .bad{color:#b3261e;font-weight:600} .muted{color:#777}
            .pill{display:inline-block;padding:1px 8px;border-radius:10px;background:#eef;font-size:12px}
            .legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
            </style></head><body>
            <header><h1>voxbatch — \(esc(health.client))</h1>
            <p id="health">\(health.healthy ? "Healthy" : "Needs attention") · checked \(esc(health.checkedAt))</p></header>
            <main>

            """
        // Health
        html += "<section id=\"problems\"><h2>At a glance</h2>"
        if health.problems.isEmpty {
            html += "<p class=\"ok\">Nothing needs a person.</p>"
        } else {
            html += "<ul>" + health.problems.map { "<li class=\"bad\">\(esc($0))</li>" }.joined() + "</ul>"
        }
        html += "<table><tr><th>Job</th><th>Last run</th><th>Outcome</th><th>Applied</th><th>Skipped</th><th>Failed</th></tr>"
        for job in health.jobs {
            let cls = job.outcome == "ok" ? "ok" : (job.outcome == nil ? "muted" : "bad")
            html += "<tr><td>\(esc(job.job))</td><td>\(esc(job.lastRun ?? "never"))</td>"
                + "<td class=\"\(cls)\">\(esc(job.outcome ?? "—"))</td><td>\(job.applied)</td><td>\(job.skipped)</td>"
                + "<td>\(job.failed)</td></tr>"
        }
        html += "</table><p class=\"muted\">Last stock file: \(esc(health.lastStockFile ?? "none yet"))"
            + (health.lastStockFileAgeHours.map { ", \($0) h ago" } ?? "") + ". Files waiting in the warehouse outbox: "
            + (health.warehouseReachable ? "\(health.filesWaiting.count)" : "unknown (unreachable)") + ".</p></section>\n"

        // Chart
        html += try chart(manifest: manifest)

        // Exceptions by owner
        let exceptions = try manifest.exceptions()
        html += "<section id=\"exceptions\"><h2>Open exceptions (\(exceptions.count))</h2>"
        if exceptions.isEmpty { html += "<p class=\"ok\">None.</p>" }
        for owner in OwnerTeam.allCases {
            let mine = exceptions.filter { $0.owner == owner }
            guard !mine.isEmpty else { continue }
            html += "<h3>\(esc(owner.rawValue)) <span class=\"pill\">\(mine.count)</span></h3><table>"
                + "<tr><th>#</th><th>Kind</th><th>Reference</th><th>Reason</th><th>What to do</th><th>Seen</th></tr>"
            for e in mine.prefix(200) {
                html += "<tr><td>\(e.id)</td><td>\(esc(e.kind))</td><td>\(esc(e.reference))</td><td>\(esc(e.message))</td>"
                    + "<td>\(esc(Self.advice[e.kind] ?? "See the message."))</td><td>\(e.occurrences)×</td></tr>"
            }
            html += "</table>"
        }
        html += "</section>\n"

        // Stuck orders
        html += "<section id=\"stuck\"><h2>Orders past the SLA (\(health.ordersPastSLA.count))</h2>"
        if health.ordersPastSLA.isEmpty { html += "<p class=\"ok\">None.</p>" } else {
            html += "<table><tr><th>Order</th><th>Sent</th><th>Age</th><th>Warehouse state</th></tr>"
            let shown = Array(health.ordersPastSLA.prefix(200))
            let states = (try? manifest.orderStates(shown)) ?? [:]
            // When each went out: looked up for the orders shown, not the year's ledger of sent orders.
            let ids = Dictionary(shown.map { number in (number, (try? runner.storefront.order(number: number))??.id ?? number) },
                                 uniquingKeysWith: { a, _ in a })
            let sent = try manifest.applied(flow: ExportOrdersFlow.flowName, keys: Array(ids.values)).mapValues(\.appliedAt)
            for number in shown {
                let id = ids[number] ?? number
                let at = sent[id].map { Date(timeIntervalSince1970: Double($0)) }
                let age = at.map { "\(Int(now.timeIntervalSince($0) / 3600)) h" } ?? "?"
                html += "<tr><td>\(esc(number))</td><td>\(esc(at.map(UTCTime.iso8601) ?? "?"))</td><td class=\"bad\">\(age)</td>"
                    + "<td>\(esc(states[number] ?? "—"))</td></tr>"
            }
            html += "</table>"
        }
        html += "</section>\n"

        // Finance: today's money by currency, and the orders whose despatched value differs.
        let finance = try FinanceReport.build(manifest: manifest, day: Manifest.day(Int64(now.timeIntervalSince1970)))
        html += "<section id=\"finance\"><h2>Finance, \(esc(finance.day))</h2>"
        if finance.currencies.isEmpty {
            html += "<p>Nothing sent, despatched, cancelled or refunded today.</p>"
        } else {
            html += "<table><tr><th>Currency</th><th>Orders sent</th><th>Sent</th><th>Despatched</th><th>Cancelled</th>"
                + "<th>Refunded</th></tr>"
            for t in finance.currencies {
                html += "<tr><td>\(esc(t.currency.isEmpty ? "—" : t.currency))</td><td>\(t.ordersSent)</td>"
                    + [t.sentCents, t.despatchedCents, t.cancelledCents, t.refundedCents]
                        .map { "<td>\(FinanceReport.amount($0))</td>" }.joined() + "</tr>"
            }
            html += "</table>"
        }
        if !finance.differences.isEmpty {
            html += "<p class=\"bad\">Orders whose despatched value differs from what was charged:</p><table><tr><th>Order</th>"
                + "<th>Charged</th><th>Cancelled</th><th>Despatched</th><th>Difference</th></tr>"
            for d in finance.differences {
                html += "<tr><td>\(esc(d.orderNumber))</td><td>\(FinanceReport.amount(d.chargedCents))</td>"
                    + "<td>\(FinanceReport.amount(d.cancelledCents))</td><td>\(FinanceReport.amount(d.despatchedCents))</td>"
                    + "<td class=\"bad\">\(FinanceReport.amount(d.differenceCents))</td></tr>"
            }
            html += "</table>"
        }
        html += "</section>\n"

        // Files
        html += "<section id=\"files\"><h2>Recent files</h2><table><tr><th>When</th><th>Flow</th><th>File</th>"
            + "<th>Outcome</th><th>Applied</th><th>Skipped</th><th>Rejected</th><th>Error report</th></tr>"
        for f in try manifest.files(limit: 50) {
            let cls = [.applied, .sent].contains(f.status) ? "ok" : ([.rejected, .partiallyApplied].contains(f.status) ? "bad" : "")
            let report = runner.keptErrorReport(for: f.name)
            let link = f.failed > 0 && FileManager.default.fileExists(atPath: report)
                ? "<a href=\"\(esc(URL(fileURLWithPath: report).absoluteString))\">\(esc(f.errorReport ?? "error report"))</a>"
                : (f.errorReport.map(esc) ?? "")
            html += "<tr><td>\(esc(UTCTime.iso8601(Date(timeIntervalSince1970: Double(f.firstSeen)))))</td>"
                + "<td>\(esc(f.flow))</td><td>\(esc(f.name))</td><td class=\"\(cls)\">\(esc(f.status.rawValue))</td>"
                + "<td>\(f.applied)</td><td>\(f.skipped)</td><td>\(f.failed)</td><td>\(link)</td></tr>"
        }
        html += "</table></section>\n</main></body></html>\n"
        return html
    }

    /// Orders out, despatches in and failures per day, as inline SVG bars.
    private func chart(manifest: Manifest) throws -> String {
        let day = 86_400
        let today = Int(now.timeIntervalSince1970) / day
        let runs = try manifest.runs(since: Int64((today - days + 1) * day))
        var out = [Int](repeating: 0, count: days), inbound = out, failures = out
        for run in runs {
            let i = Int(run.started) / day - (today - days + 1)
            guard i >= 0 && i < days else { continue }
            if run.job == JobName.exportOrders.rawValue { out[i] += run.applied }
            if run.job == JobName.importDespatches.rawValue { inbound[i] += run.applied }
            failures[i] += (run.outcome == "failed" ? 1 : 0) + run.failed
        }
        let top = max(1, (out + inbound + failures).max() ?? 1)
        let width = 720, height = 160, group = width / days
        var svg = "<svg id=\"chart\" role=\"img\" aria-label=\"runs per day\" width=\"\(width)\" height=\"\(height + 24)\" "
            + "viewBox=\"0 0 \(width) \(height + 24)\" xmlns=\"http://www.w3.org/2000/svg\">"
        let f = DateFormatter()
        f.dateFormat = "EEE d"
        f.timeZone = TimeZone(identifier: "UTC")
        for i in 0..<days {
            let x = i * group + 8
            for (j, (value, colour)) in [(out[i], "#3b6fd8"), (inbound[i], "#2f9e6b"), (failures[i], "#d2452f")].enumerated() {
                let h = value * height / top
                svg += "<rect x=\"\(x + j * (group - 16) / 3)\" y=\"\(height - h)\" width=\"\((group - 16) / 3 - 2)\" "
                    + "height=\"\(h)\" fill=\"\(colour)\"><title>\(value)</title></rect>"
            }
            let label = f.string(from: Date(timeIntervalSince1970: Double((today - days + 1 + i) * day)))
            svg += "<text x=\"\(x)\" y=\"\(height + 16)\" font-size=\"11\" fill=\"#555\">\(label)</text>"
        }
        svg += "</svg>"
        return "<section><h2>The last \(days) days</h2>\(svg)<p class=\"legend\"><span style=\"background:#3b6fd8\"></span>"
            + "orders out (\(out.reduce(0, +)))<span style=\"background:#2f9e6b\"></span>despatch lines in "
            + "(\(inbound.reduce(0, +)))<span style=\"background:#d2452f\"></span>failures (\(failures.reduce(0, +)))</p></section>\n"
    }

    private func esc(_ text: String) -> String { Self.escape(text) }

    /// Text as HTML content or an attribute value: `&`, `<`, `>`, `"` and `'` escaped.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
