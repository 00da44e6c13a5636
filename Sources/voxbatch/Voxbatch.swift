import ArgumentParser
import Foundation
import Logging

@main
struct Voxbatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voxbatch",
        abstract: "Exchanges CSV files between a storefront and a Peoplevox warehouse.",
        discussion: """
            Exit codes:
              0  success
              1  completed, but some rows or records were rejected (see the error report)
              2  usage or configuration error (bad option, unknown template, unreadable file)
              3  transport or storefront unavailable after retries
              4  another run holds the lock
            """,
        version: "0.1.0",
        subcommands: [DemoCommand.self, InitCommand.self, ConfigCommand.self, RunCommand.self, StatusCommand.self,
                      ExceptionsCommand.self, FilesCommand.self, OrderCommand.self, ReportCommand.self, AuditCommand.self,
                      ScheduleCommand.self, ValidateCommand.self, CSVCommand.self, TransportCommand.self, StorefrontCommand.self, FleetCommand.self, FinanceCommand.self, PGPCommand.self,
                      SimulateWarehouseCommand.self]
    )
}

extension Voxbatch {
    /// Runs the command, mapping every usage error to exit code 2 as documented (ArgumentParser's own
    /// default is 64).
    static func main() {
        // A file-size limit (ulimit -f) or a full disk must end in a clear write error, not a signal.
        signal(SIGXFSZ, SIG_IGN)
        // A peer that hangs up (the warehouse server, a webhook, `| head`) is an error to report, not a kill.
        signal(SIGPIPE, SIG_IGN)
        bootstrapLogging()
        CommandClock.prepare()
        armFaultInjection()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(Exit.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// The exit codes voxbatch documents.
enum Exit {
    static let ok = ExitCode(0)
    static let rejected = ExitCode(1)
    static let usage = ExitCode(2)
    static let unavailable = ExitCode(3)
    static let locked = ExitCode(4)
}

/// Logs go to standard error as plain lines (swift-log); the level comes from `VOXBATCH_LOG_LEVEL`
/// (trace, debug, info, notice, warning, error; default info).
func bootstrapLogging() {
    let level = ProcessInfo.processInfo.environment["VOXBATCH_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// Fault injection for the crash tests and `scripts/crash-soak`: with `VOXBATCH_FAULT_KILL_AFTER_US=N` the
/// process kills itself with SIGKILL after N microseconds, wherever it is — the harshest crash there is.
func armFaultInjection() {
    guard let us = ProcessInfo.processInfo.environment["VOXBATCH_FAULT_KILL_AFTER_US"].flatMap(UInt32.init) else {
        return
    }
    Thread.detachNewThread {
        usleep(us)
        kill(getpid(), SIGKILL)
    }
}
