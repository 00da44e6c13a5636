import ArgumentParser
import BatchJobs
import FileTransport
import Foundation
import Logging

extension JobName: ExpressibleByArgument {}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job, or all of them in the order a day needs.",
        discussion: """
            Jobs:
            \(JobName.allCases.map { "  \($0.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0))\($0.summary)" }.joined(separator: "\n"))
              all                   every job above, in this order

            Each job takes its own lock: a second copy started while one runs exits with code 4 and does nothing.

            Exit codes: 0 ok; 1 completed, but rows were rejected or exceptions raised (see `voxbatch \
            exceptions`); 2 usage or configuration; 3 warehouse or storefront unavailable after retries; \
            4 another run holds the lock.
            """
    )

    @Argument(help: "The job to run (see below), or `all`.")
    var job: String

    @OptionGroup var config: ConfigOption

    @Flag(help: "Do everything but the effects, and print what would change.")
    var dryRun = false

    @Flag(help: "import-stock: push every SKU, changed or not (a scheduled full reconciliation).")
    var full = false

    @Flag(help: "Print the run summary as JSON.")
    var json = false

    func validate() throws {
        guard job == "all" || JobName(rawValue: job) != nil else {
            throw ValidationError("unknown job \"\(job)\"; use one of: "
                                  + (JobName.allCases.map(\.rawValue) + ["all"]).joined(separator: ", "))
        }
    }

    func run() throws {
        let configuration = try config.load()
        let jobs = job == "all" ? JobName.all(for: configuration) : [JobName(rawValue: job)!]
        let runner = try JobExecution.openRunner(configuration)
        StopRequest.installSignalHandlers()  // SIGTERM: finish the current file, then stop
        let display = json ? nil : ProgressDisplay.forTerminal()
        if let display { runner.progress = display.update }
        defer { display?.finish() }
        var results: [JobResult] = []
        var failure: ExitCode?
        for job in jobs where !StopRequest.isRequested {
            do {
                let result = try runner.run(job, options: JobOptions(dryRun: dryRun, full: full))
                display?.finish()
                results.append(result)
                if !json { JobExecution.printHuman(result) }
            } catch {
                let (code, message) = JobExecution.classify(error)
                results.append(JobResult(job: job.rawValue, outcome: "failed", summary: RunSummary(job: job.rawValue),
                                         error: message))
                printError("voxbatch: \(job.rawValue): \(message)")
                failure = failure ?? code
                if code == Exit.usage { break }  // the configuration is wrong for every job
            }
        }
        JobExecution.afterRun(runner)
        if json { try JobExecution.printJSON(jobs.count == 1 ? AnyEncodable(results[0]) : AnyEncodable(results)) }
        if let failure { throw failure }
        if results.contains(where: \.needsAttention) { throw Exit.rejected }
    }
}

/// What every job-running command shares: opening the state, printing results, mapping errors to exit codes.
enum JobExecution {
    static func openRunner(_ configuration: Configuration, storefront: (any Storefront)? = nil,
                           logger: Logger = Logger(label: "voxbatch")) throws -> JobRunner {
        do {
            return try JobRunner(configuration: configuration, storefront: storefront, logger: logger,
                                 clock: CommandClock.now)
        } catch {
            let (code, message) = classify(error)
            printError("voxbatch: \(message)")
            throw code
        }
    }

    /// After a run: judges the integration's health once, then sends the alerts that are due (when alerts
    /// are configured) and rewrites the metrics file (when `metrics_file` is set).
    static func afterRun(_ runner: JobRunner) {
        let alerts = runner.configuration.alerts
        let alerting = alerts.webhookURL != nil || alerts.command != nil
        guard alerting || runner.configuration.metricsFile != nil else { return }
        let health = runner.health()
        if let path = runner.configuration.metricsFile {
            do {
                try PrometheusMetrics.write([health], to: path)
            } catch {
                Logger(label: "voxbatch.metrics").error("cannot write the metrics file", metadata: ["error": "\(error)"])
            }
        }
        guard alerting else { return }
        do {
            try Alerter(configuration: runner.configuration, manifest: runner.manifest).evaluate(health)
        } catch {
            Logger(label: "voxbatch.alerts").error("cannot evaluate alerts", metadata: ["error": "\(error)"])
        }
    }

    /// The documented exit code for an error, and its message.
    static func classify(_ error: any Error) -> (ExitCode, String) {
        switch error {
        case let error as JobLockError:
            switch error {
            case .held, .heldElsewhere: return (Exit.locked, error.description)
            case .unavailable: break
            }
            return (Exit.unavailable, error.description)
        case let error as StateDatabaseError where error.code != .diskFull && error.code != .locked:
            return (Exit.unavailable, error.description)  // the state database is out of reach or refused us
        case let error as TransportError:
            return (Exit.unavailable, error.description)  // transient or not: the warehouse is out of reach
        case let error as StorefrontError:
            return (error.isTransient ? Exit.unavailable : Exit.usage, error.description)
        case let error as ConfigError:
            return (Exit.usage, error.description)
        case let error as PGPError:
            // A key missing, expired or refusing its passphrase: the set-up must change before any run works.
            return (Exit.usage, error.description)
        case let error where Manifest.isDiskFull(error):
            return (Exit.unavailable, "the disk holding the state folder is full (or a file-size limit was reached): "
                    + "\(error); free space, then run again — nothing was half-applied")
        case let error where Manifest.isLocked(error):
            return (Exit.unavailable, "the manifest is locked by another process (\(error)); try again when it has finished")
        default:
            return (Exit.unavailable, "\(error)")
        }
    }

    static func printHuman(_ result: JobResult) {
        let s = result.summary
        var line = "\(result.job): \(result.outcome)"
        if let report = result.reconciliation {
            line += " — not sent \(report.notSent.count), past SLA \(report.pastSLA.count), despatch not applied "
                + "\(report.despatchNotApplied.count), despatch files waiting \(report.despatchFilesWaiting.count), "
                + "stock differences \(report.stockDifferences.count)"
        } else {
            let files = s.files.filter { !$0.name.isEmpty }.count
            line += " — \(files) file\(files == 1 ? "" : "s"), \(s.applied) applied, \(s.skipped) skipped, "
                + "\(s.failed) rejected, \(s.exceptions) exception\(s.exceptions == 1 ? "" : "s")"
        }
        if s.dryRun { line += " (dry run: nothing changed)" }
        print(line)
        for file in s.files where !file.name.isEmpty {
            var detail = "  \(file.name): \(file.outcome)"
            if let report = file.errorReport { detail += " (errors: \(report))" }
            print(detail)
        }
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// Erases an encodable's type, for printing one result or a list with one call.
struct AnyEncodable: Encodable {
    let encode: (Encoder) throws -> Void
    init(_ value: some Encodable) { encode = value.encode }
    func encode(to encoder: Encoder) throws { try encode(encoder) }
}
