import FileTransport
import Foundation

/// The one-screen answer to "is the integration healthy?": the last run of every job, files waiting,
/// open exceptions by kind and owner, orders past the SLA, and the age of the last stock file.
public struct HealthReport: Sendable, Hashable, Codable {
    public var client: String
    public var checkedAt: String
    public var healthy: Bool
    /// Why it is not healthy, one line each.
    public var problems: [String] = []
    public var jobs: [JobStatus] = []
    public var warehouseReachable = true
    public var filesWaiting: [WaitingFile] = []
    public var openExceptions = 0
    public var exceptionsByKind: [String: Int] = [:]
    public var exceptionsByOwner: [String: Int] = [:]
    public var ordersPastSLA: [String] = []
    public var lastStockFile: String?
    public var lastStockFileAgeHours: Double?
    /// Worth knowing but not (yet) a problem: a PGP key that expires within 30 days.
    public var warnings: [String] = []
    /// The PGP keys the configuration uses, when it uses PGP.
    public var pgpKeys: [PGPKeyStatus]?

    /// The latest run of one job.
    public struct JobStatus: Sendable, Hashable, Codable {
        public var job: String
        public var lastRun: String?
        public var outcome: String?
        public var applied = 0
        public var skipped = 0
        public var failed = 0
        public var error: String?
        /// Failed runs in a row, up to the latest.
        public var consecutiveFailures = 0
    }

    /// A warehouse file not yet taken.
    public struct WaitingFile: Sendable, Hashable, Codable {
        public var name: String
        public var ageMinutes: Int
    }
}

extension JobRunner {
    /// Looks at the manifest, the warehouse folder and the storefront, and judges the integration's health
    /// now, by the runner's clock.
    public func health() -> HealthReport { health(now: clock()) }

    /// The integration's health as judged at `now` (a report for a given moment).
    public func health(now: Date) -> HealthReport {
        var report = HealthReport(client: configuration.client, checkedAt: UTCTime.iso8601(now), healthy: true)
        let policies = configuration.policies
        for job in JobName.all(for: configuration) {
            let runs = (try? manifest.recentRuns(job: job.rawValue, limit: 20)) ?? []
            var status = HealthReport.JobStatus(job: job.rawValue)
            if let last = runs.first {
                status.lastRun = UTCTime.iso8601(Date(timeIntervalSince1970: Double(last.started)))
                status.outcome = last.outcome ?? "running"
                status.applied = last.applied
                status.skipped = last.skipped
                status.failed = last.failed
                status.error = last.error
                status.consecutiveFailures = runs.prefix { $0.outcome == "failed" }.count
                if status.consecutiveFailures > 0 {
                    report.problems.append("\(job.rawValue) failed \(status.consecutiveFailures) time(s) in a row: "
                                           + (last.error ?? "see the log"))
                }
            }
            report.jobs.append(status)
        }
        // One connection to the warehouse for the whole check.
        var transport: (any FileTransport)?
        do {
            var patterns = [configuration.files.despatches, configuration.files.stock, configuration.files.returns,
                            configuration.files.orderStatus]
            if let pgp = configuration.warehouse.pgp, pgp.decryptInbound {
                patterns += patterns.map { $0 + pgp.fileExtension }
            }
            let opened = try warehouse()
            transport = opened
            for file in try opened.list(configuration.warehouse.outbox) where !file.isDirectory
                && patterns.contains(where: { RemotePath.matches(file.name, glob: $0) }) {
                let age = Int(now.timeIntervalSince1970) - Int(file.modified)
                report.filesWaiting.append(.init(name: file.name, ageMinutes: max(0, age / 60)))
                if age > policies.fileWaitMinutes * 60 {
                    report.problems.append("\(file.name) has waited unread for \(age / 60) min "
                                           + "(limit \(policies.fileWaitMinutes) min)")
                }
            }
        } catch {
            report.warehouseReachable = false
            report.problems.append("the warehouse cannot be reached: \(error)")
        }
        let exceptions = (try? manifest.exceptions()) ?? []
        report.openExceptions = exceptions.count
        for e in exceptions {
            report.exceptionsByKind[e.kind, default: 0] += 1
            report.exceptionsByOwner[e.owner.rawValue, default: 0] += 1
        }
        if !exceptions.isEmpty { report.problems.append("\(exceptions.count) open exception(s)") }
        // Only the orders part of reconciliation: the outbox is listed above, and the stock check reads
        // the storefront's whole catalogue, too much for a monitoring probe.
        if let transport,
           let found = try? Reconciliation(configuration: configuration, storefront: storefront, manifest: manifest,
                                          transport: transport, clock: { now }).run(dryRun: true, checks: [.orders]) {
            report.ordersPastSLA = found.pastSLA
            if !found.pastSLA.isEmpty {
                report.problems.append("\(found.pastSLA.count) order(s) past the \(policies.slaHours) h SLA")
            }
        }
        if let stock = try? manifest.files(flow: ImportStockFlow.flowName, limit: 1).first {
            report.lastStockFile = stock.name
            let hours = (now.timeIntervalSince1970 - Double(stock.firstSeen)) / 3600
            report.lastStockFileAgeHours = (hours * 10).rounded() / 10
            if hours > Double(policies.stockMaxAgeHours) {
                report.problems.append("the last stock file (\(stock.name)) is \(Int(hours)) h old "
                                       + "(limit \(policies.stockMaxAgeHours) h)")
            }
        }
        if configuration.warehouse.pgp != nil {
            do {
                if let pgp = try openPGP() {
                    let keys = pgp.check(now: now)
                    report.pgpKeys = keys
                    for key in keys where key.state == "expires-soon" {
                        report.warnings.append("PGP key \(key.reference) (\(key.role)): \(key.detail)")
                    }
                    for key in keys where !["ok", "expires-soon"].contains(key.state) {
                        report.problems.append("PGP key \(key.reference) (\(key.role)) is \(key.state): \(key.detail)")
                    }
                }
            } catch {
                report.problems.append("the PGP keys cannot be used: \(error)")
            }
        }
        report.healthy = report.problems.isEmpty
        return report
    }
}
