import FileTransport
import Foundation
import Logging

/// One thing worth waking someone for.
public struct Alert: Sendable, Hashable, Codable {
    /// `opened` or `recovered`.
    public var state: String
    public var client: String
    /// The incident: `job-failing:import-stock`, `exceptions:unknown-sku`, `file-waiting`, `sla-breach`.
    public var incident: String
    public var job: String?
    public var title: String
    /// How many (failures in a row, exceptions, files, orders).
    public var count: Int
    /// The first few examples.
    public var examples: [String]
    public var at: String
}

/// Turns the integration's health into alerts: one when an incident starts, a recovery when it clears,
/// nothing in between (state kept in the manifest), delivered to a webhook and/or a command.
public struct Alerter {
    let configuration: Configuration
    let manifest: Manifest
    let http: HTTPClient
    let logger: Logger

    public init(configuration: Configuration, manifest: Manifest, http: HTTPClient? = nil,
                logger: Logger = Logger(label: "voxbatch.alerts")) {
        self.configuration = configuration
        self.manifest = manifest
        var settings = HTTPSettings()
        settings.timeout = configuration.alerts.timeout
        settings.retry = RetryPolicy(maxAttempts: min(3, configuration.retry.maxAttempts),
                                     initialDelay: configuration.retry.initialDelay,
                                     maxDelay: min(10, configuration.retry.maxDelay))
        self.http = http ?? HTTPClient(settings: settings, logger: logger, clock: manifest.clock)
        self.logger = logger
    }

    /// The incidents `report` shows, by key.
    func incidents(in report: HealthReport) -> [String: Alert] {
        let now = report.checkedAt
        var found: [String: Alert] = [:]
        func add(_ key: String, job: String? = nil, _ title: String, _ count: Int, _ examples: [String]) {
            found[key] = Alert(state: "opened", client: report.client, incident: key, job: job, title: title, count: count,
                               examples: Array(examples.prefix(5)), at: now)
        }
        for job in report.jobs where job.consecutiveFailures >= configuration.alerts.afterConsecutiveFailures {
            add("job-failing:\(job.job)", job: job.job, "\(job.job) has failed \(job.consecutiveFailures) runs in a row",
                job.consecutiveFailures, [job.error ?? "see the log"])
        }
        let exceptions = (try? manifest.exceptions()) ?? []
        for kind in configuration.alerts.exceptionKinds {
            let open = exceptions.filter { $0.kind == kind }
            if !open.isEmpty {
                add("exceptions:\(kind)", "\(open.count) open \(kind) exception\(open.count == 1 ? "" : "s")", open.count,
                    open.map { "\($0.reference): \($0.message)" })
            }
        }
        let late = report.filesWaiting.filter { $0.ageMinutes > configuration.policies.fileWaitMinutes }
        if !late.isEmpty {
            add("file-waiting", "\(late.count) warehouse file(s) unread for more than \(configuration.policies.fileWaitMinutes) min",
                late.count, late.map { "\($0.name) (\($0.ageMinutes) min)" })
        }
        if !report.ordersPastSLA.isEmpty {
            add("sla-breach", "\(report.ordersPastSLA.count) order(s) past the \(configuration.policies.slaHours) h SLA",
                report.ordersPastSLA.count, report.ordersPastSLA)
        }
        let keys = report.pgpKeys ?? []
        let expiring = keys.filter { $0.state == "expires-soon" }
        if !expiring.isEmpty {
            add("pgp-key-expiring", "\(expiring.count) PGP key(s) expire within 30 days", expiring.count,
                expiring.map { "\($0.reference) (\($0.role)): \($0.detail)" })
        }
        let unusable = keys.filter { !["ok", "expires-soon"].contains($0.state) }
        if !unusable.isEmpty {
            add("pgp-key-unusable", "\(unusable.count) PGP key(s) cannot be used", unusable.count,
                unusable.map { "\($0.reference) (\($0.role)): \($0.state), \($0.detail)" })
        }
        if !report.warehouseReachable {
            add("warehouse-unreachable", "the warehouse server cannot be reached", 1,
                report.problems.filter { $0.contains("cannot be reached") })
        }
        return found
    }

    /// Compares the incidents in `report` with those already alerted, sends what is new and what
    /// cleared, and remembers the result. Returns the alerts sent.
    @discardableResult
    public func evaluate(_ report: HealthReport) throws -> [Alert] {
        let current = incidents(in: report)
        let open = try manifest.openIncidents()
        var sent: [Alert] = []
        for (key, alert) in current.sorted(by: { $0.key < $1.key }) where open[key] == nil {
            if try deliver(alert) {
                try manifest.openIncident(key, title: alert.title)
                sent.append(alert)
            }
        }
        for (key, title) in open.sorted(by: { $0.key < $1.key }) where current[key] == nil {
            let recovered = Alert(state: "recovered", client: report.client, incident: key,
                                  job: key.hasPrefix("job-failing:") ? String(key.dropFirst(12)) : nil,
                                  title: "resolved: \(title)", count: 0, examples: [], at: report.checkedAt)
            if try deliver(recovered) {
                try manifest.closeIncident(key)
                sent.append(recovered)
            }
        }
        return sent
    }

    /// Sends an alert everywhere configured; `false` when nothing is configured or every channel failed
    /// (the incident is then tried again next time).
    private func deliver(_ alert: Alert) throws -> Bool {
        var delivered = false
        let json = try JSONEncoder().encode(alert)
        if let source = configuration.alerts.webhookURL {
            do {
                let url = try source.read()
                var request = HTTPRequest.json("POST", url, body: try payload(alert))
                request.urlIsSecret = true  // a webhook URL carries its token
                request.isIdempotent = true  // a repeated alert is better than a lost one
                let response = try http.send(request)
                if response.isSuccess {
                    delivered = true
                } else {
                    logger.error("the alert webhook refused the alert", metadata: ["status": "\(response.status)",
                                                                                  "incident": "\(alert.incident)"])
                }
            } catch {
                logger.error("cannot send the alert to the webhook", metadata: ["error": "\(error)",
                                                                                "incident": "\(alert.incident)"])
            }
        }
        if let command = configuration.alerts.command {
            if runCommand(command, alert: alert, json: json) { delivered = true }
        }
        if delivered { logger.notice("alert sent", metadata: ["incident": "\(alert.incident)", "state": "\(alert.state)"]) }
        return delivered
    }

    /// The webhook body in the configured format.
    func payload(_ alert: Alert) throws -> Data {
        let icon = alert.state == "recovered" ? "✅" : "🚨"
        let text = "\(icon) voxbatch \(alert.client): \(alert.title)"
            + (alert.examples.isEmpty ? "" : "\n" + alert.examples.map { "• \($0)" }.joined(separator: "\n"))
        switch configuration.alerts.format {
        case .json: return try JSONEncoder().encode(alert)
        case .slack: return try JSONSerialization.data(withJSONObject: ["text": text])
        case .teams:
            return try JSONSerialization.data(withJSONObject: [
                "@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": alert.title,
                "themeColor": alert.state == "recovered" ? "2EB67D" : "E01E5A", "text": text.replacingOccurrences(of: "\n", with: "<br>"),
            ])
        }
    }

    private func runCommand(_ command: String, alert: Alert, json: Data) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var env = ProcessInfo.processInfo.environment
        env["VOXBATCH_ALERT_STATE"] = alert.state
        env["VOXBATCH_ALERT_INCIDENT"] = alert.incident
        env["VOXBATCH_ALERT_TITLE"] = alert.title
        env["VOXBATCH_ALERT_CLIENT"] = alert.client
        process.environment = env
        let input = Pipe()
        process.standardInput = input
        do {
            try process.run()
            input.fileHandleForWriting.write(json)
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
        } catch {
            logger.error("cannot run the alert command", metadata: ["error": "\(error)"])
            return false
        }
        if process.terminationStatus != 0 {
            logger.error("the alert command failed", metadata: ["exit": "\(process.terminationStatus)"])
            return false
        }
        return true
    }
}

extension Manifest {
    /// Incidents alerted and not yet recovered: key → title.
    func openIncidents() throws -> [String: String] {
        try read { db in
            Dictionary(uniqueKeysWithValues: try db.fetchAll(sql: "SELECT key, title FROM incidents").map {
                ($0["key"] as String, $0["title"] as String)
            })
        }
    }

    func openIncident(_ key: String, title: String) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO incidents (key, title, opened) VALUES (?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET title = excluded.title, opened = excluded.opened
                """,
                           arguments: [key, title, now()])
        }
    }

    func closeIncident(_ key: String) throws {
        try write { db in try db.execute(sql: "DELETE FROM incidents WHERE key = ?", arguments: [key]) }
    }
}
