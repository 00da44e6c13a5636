import Foundation

/// A client's health in the Prometheus text exposition format
/// (https://prometheus.io/docs/instrumenting/exposition_formats/), for the node exporter's textfile
/// collector (`metrics_file:` in the configuration, rewritten after every run) and `status --prometheus`
/// / `fleet status --prometheus`.
public enum PrometheusMetrics {
    /// The metric families, each with its HELP and TYPE, labelled by client (and job, kind, owner).
    public static func render(_ reports: [HealthReport]) -> String {
        var families: [(name: String, help: String, samples: [String])] = [
            ("voxbatch_healthy", "1 when nothing needs a person", []),
            ("voxbatch_warehouse_reachable", "1 when the warehouse's exchange folder could be listed", []),
            ("voxbatch_job_last_run_timestamp_seconds", "When each job last started (Unix time)", []),
            ("voxbatch_job_last_run_ok", "1 when the job's last run needed no person", []),
            ("voxbatch_job_consecutive_failures", "Failed runs in a row, up to the latest", []),
            ("voxbatch_job_last_run_rows", "Rows of the job's last run, by result", []),
            ("voxbatch_open_exceptions", "Open exceptions by kind", []),
            ("voxbatch_open_exceptions_by_owner", "Open exceptions by owner team", []),
            ("voxbatch_files_waiting", "Warehouse files not yet taken", []),
            ("voxbatch_oldest_file_waiting_seconds", "Age of the oldest warehouse file not yet taken", []),
            ("voxbatch_orders_past_sla", "Orders sent longer ago than the SLA with no despatch", []),
            ("voxbatch_stock_file_age_seconds", "Age of the last stock file taken", []),
        ]
        func add(_ name: String, _ labels: [(String, String)], _ value: Double) {
            let text = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
            let sample = "\(name){\(text)} \(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value))"
            if let i = families.firstIndex(where: { $0.name == name }) { families[i].samples.append(sample) }
        }
        for r in reports {
            let client = [("client", r.client)]
            add("voxbatch_healthy", client, r.healthy ? 1 : 0)
            add("voxbatch_warehouse_reachable", client, r.warehouseReachable ? 1 : 0)
            for job in r.jobs {
                let labels = client + [("job", job.job)]
                if let last = job.lastRun.flatMap(UTCTime.date(iso8601:)) {
                    add("voxbatch_job_last_run_timestamp_seconds", labels, last.timeIntervalSince1970)
                    add("voxbatch_job_last_run_ok", labels, job.outcome == "ok" ? 1 : 0)
                }
                add("voxbatch_job_consecutive_failures", labels, Double(job.consecutiveFailures))
                for (result, n) in [("applied", job.applied), ("skipped", job.skipped), ("failed", job.failed)] {
                    add("voxbatch_job_last_run_rows", labels + [("result", result)], Double(n))
                }
            }
            for (kind, n) in r.exceptionsByKind.sorted(by: { $0.key < $1.key }) {
                add("voxbatch_open_exceptions", client + [("kind", kind)], Double(n))
            }
            for (owner, n) in r.exceptionsByOwner.sorted(by: { $0.key < $1.key }) {
                add("voxbatch_open_exceptions_by_owner", client + [("owner", owner)], Double(n))
            }
            add("voxbatch_files_waiting", client, Double(r.filesWaiting.count))
            add("voxbatch_oldest_file_waiting_seconds", client, Double((r.filesWaiting.map(\.ageMinutes).max() ?? 0) * 60))
            add("voxbatch_orders_past_sla", client, Double(r.ordersPastSLA.count))
            if let hours = r.lastStockFileAgeHours { add("voxbatch_stock_file_age_seconds", client, (hours * 3600).rounded()) }
        }
        return families.map { family in
            "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) gauge\n"
                + family.samples.map { $0 + "\n" }.joined()
        }.joined()
    }

    /// Writes the metrics atomically (a temporary file renamed over the old one), as the textfile
    /// collector requires: it must never read a half-written file.
    public static func write(_ reports: [HealthReport], to path: String) throws {
        let temporary = path + ".\(getpid()).tmp"
        try render(reports).write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot write \(path): \(reason)"])
        }
    }

    /// A label value as the format wants it: backslash, double quote and line feed escaped.
    public static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
