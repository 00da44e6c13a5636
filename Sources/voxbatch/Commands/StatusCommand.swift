import ArgumentParser
import BatchJobs
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Is the integration healthy? The last run of every job, files waiting, open exceptions, orders past the SLA, the last stock file.",
        discussion: """
            Exit codes (for monitoring): 0 healthy; 1 something needs a person (a failing job, open exceptions, \
            orders past the SLA, a stale stock file, a file left unread); 2 configuration; 3 the warehouse \
            cannot be reached.
            """
    )

    @OptionGroup var config: ConfigOption

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(help: "Print the report in Prometheus text format.")
    var prometheus = false

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        let report = runner.health()
        if prometheus {
            print(PrometheusMetrics.render([report]), terminator: "")
        } else if json {
            try JobExecution.printJSON(report)
        } else {
            print("\(report.client): \(report.healthy ? "HEALTHY" : "NEEDS ATTENTION")  (checked \(report.checkedAt))")
            for problem in report.problems { print("  ! \(problem)") }
            for warning in report.warnings { print("  ~ \(warning)") }
            print("")
            print("job                    last run               outcome                     applied skipped failed")
            for job in report.jobs {
                print(job.job.padding(toLength: 22, withPad: " ", startingAt: 0) + " "
                      + (job.lastRun ?? "never").padding(toLength: 22, withPad: " ", startingAt: 0) + " "
                      + (job.outcome ?? "-").padding(toLength: 27, withPad: " ", startingAt: 0)
                      + String(format: " %7d %7d %6d", job.applied, job.skipped, job.failed))
            }
            print("")
            print("files waiting in the warehouse outbox: "
                  + (report.warehouseReachable ? "\(report.filesWaiting.count)" : "unknown (warehouse unreachable)"))
            for file in report.filesWaiting.prefix(10) { print("  \(file.name) (\(file.ageMinutes) min)") }
            print("open exceptions: \(report.openExceptions)"
                  + (report.exceptionsByOwner.isEmpty ? "" : " — by owner: "
                     + report.exceptionsByOwner.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
            for (kind, n) in report.exceptionsByKind.sorted(by: { $0.value > $1.value }) { print("  \(kind): \(n)") }
            print("orders past the SLA: \(report.ordersPastSLA.count)"
                  + (report.ordersPastSLA.isEmpty ? "" : " (" + report.ordersPastSLA.prefix(5).joined(separator: ", ") + ")"))
            print("last stock file: " + (report.lastStockFile.map { "\($0), \(report.lastStockFileAgeHours ?? 0) h ago" } ?? "none yet"))
        }
        if !report.warehouseReachable { throw Exit.unavailable }
        if !report.healthy { throw Exit.rejected }
    }
}
