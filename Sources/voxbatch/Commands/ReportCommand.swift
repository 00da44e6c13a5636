import ArgumentParser
import BatchJobs
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML page for the operations team.",
        discussion: """
            Health at a glance, the last days' runs as a chart (orders out, despatches in, failures), open \
            exceptions by owner with what to do, orders past the SLA with their age, and recent files with a \
            link to each error report. No external assets: the page can be mailed or published as it is.
            """
    )

    @OptionGroup var config: ConfigOption

    @Option(help: "Where to write the page.")
    var html: String

    @Option(help: "How many days the chart covers.")
    var days = 7

    @Flag(help: "Print the health the page shows as JSON (as `status --json` does, with its exit code) instead of a line.")
    var statusJson = false

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        let report = HTMLReport(runner: runner, days: max(1, days))
        try report.render().write(toFile: html, atomically: true, encoding: .utf8)
        guard statusJson else {
            print("wrote \(html)")
            return
        }
        // One health judgement for the page and the caller (`fleet report` reads it instead of a second
        // `status` run per client).
        try JobExecution.printJSON(report.health)
        if !report.health.warehouseReachable { throw Exit.unavailable }
        if !report.health.healthy { throw Exit.rejected }
    }
}
