import BatchJobs
import FileTransport
import Foundation
import Logging

/// The time every command runs on, handed down to the jobs, health checks, reports, schedules and the
/// demo. This is the one place the CLI reads the real time (log timestamps aside): nothing below it
/// calls `Date()`.
///
/// `VOXBATCH_NOW` (ISO 8601, e.g. `2026-11-30T08:00:00Z`) starts the clock at that instant instead of the
/// real time; it then runs forward at the real pace, so a long command or the scheduler still sees time
/// pass. It is for rehearsals ("what will status say tomorrow at 09:00?") and for tests, which pin their
/// clock; a job run on it stamps the manifest with that time, so never set it on a live exchange. Every
/// command run on a pinned clock says so in its log.
enum CommandClock {
    /// Where the clock starts: the real time, or `VOXBATCH_NOW`.
    private static let start: (date: Date, pinned: Bool) = {
        guard let text = ProcessInfo.processInfo.environment["VOXBATCH_NOW"] else { return (Date(), false) }
        guard let date = UTCTime.date(iso8601: text) else {
            printError("voxbatch: VOXBATCH_NOW=\(text) is not an ISO 8601 time such as 2026-11-30T08:00:00Z")
            Foundation.exit(Exit.usage.rawValue)
        }
        Logger(label: "voxbatch").warning("the clock is pinned by VOXBATCH_NOW", metadata: ["now": "\(text)"])
        return (date, true)
    }()
    private static let sinceStart = Stopwatch()

    /// Reads `VOXBATCH_NOW` before the command runs, so a value that cannot be read is a usage error
    /// whatever the command (not only one that happens to ask the time).
    static func prepare() {
        _ = start
        _ = sinceStart
    }

    /// The command's current time.
    static func now() -> Date {
        let start = start
        return start.pinned ? start.date.addingTimeInterval(sinceStart.seconds) : Date()
    }

    /// The environment for a command this one starts (the scheduler's jobs): on a pinned clock, the
    /// child's clock starts at this command's current time, not where this one started.
    static func childEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if start.pinned { environment["VOXBATCH_NOW"] = UTCTime.iso8601(now()) }
        return environment
    }
}
