import Foundation
import Logging

/// A job the scheduler started and has not yet seen finish.
public protocol ScheduledRun: AnyObject {
    /// The exit status once finished, `nil` while running.
    func poll() -> Int32?
    /// Asks the run to stop after its current file.
    func requestStop()
}

/// The foreground scheduler behind `voxbatch schedule run`: starts each entry on time, never starts an
/// entry while its previous run is still going (the slot is skipped and logged), keeps going when a run
/// fails, and on a stop request starts nothing more and waits for the runs in progress.
public final class Scheduler {
    public let schedule: Schedule
    private let launch: (Schedule.Entry) throws -> any ScheduledRun
    private let logger: Logger
    private var due: [Int: Date] = [:]
    private var running: [Int: any ScheduledRun] = [:]
    private var randomDelay: (Int) -> Int

    /// What happened in one step, for logs and tests.
    public enum Event: Equatable, Sendable {
        case started(String)
        case skippedStillRunning(String)
        case finished(String, status: Int32)
        case failedToStart(String, String)
    }

    public init(schedule: Schedule, logger: Logger = Logger(label: "voxbatch.schedule"),
                randomDelay: @escaping (Int) -> Int = { $0 > 0 ? Int.random(in: 0...$0) : 0 },
                launch: @escaping (Schedule.Entry) throws -> any ScheduledRun) {
        self.schedule = schedule
        self.logger = logger
        self.launch = launch
        self.randomDelay = randomDelay
    }

    /// Plans every entry's first run after `now`.
    public func start(now: Date) {
        for (i, entry) in schedule.entries.enumerated() { due[i] = plan(entry, after: now) }
    }

    private func plan(_ entry: Schedule.Entry, after date: Date) -> Date? {
        entry.cron.next(after: date, in: schedule.timeZone).map { $0.addingTimeInterval(Double(randomDelay(entry.jitter))) }
    }

    /// Reaps finished runs and starts the entries that are due at `now`.
    @discardableResult
    public func step(now: Date) -> [Event] {
        var events: [Event] = []
        for (i, run) in running {
            if let status = run.poll() {
                running[i] = nil
                let name = schedule.entries[i].name
                events.append(.finished(name, status: status))
                if status > 1 {
                    logger.error("run failed; the schedule carries on", metadata: ["job": "\(name)", "exit": "\(status)"])
                } else {
                    logger.info("run finished", metadata: ["job": "\(name)", "exit": "\(status)"])
                }
            }
        }
        for (i, entry) in schedule.entries.enumerated() {
            guard let at = due[i], at <= now else { continue }
            due[i] = plan(entry, after: now)
            if running[i] != nil {
                events.append(.skippedStillRunning(entry.name))
                logger.warning("previous run still going: this slot is skipped", metadata: ["job": "\(entry.name)"])
                continue
            }
            do {
                running[i] = try launch(entry)
                events.append(.started(entry.name))
                logger.info("run started", metadata: ["job": "\(entry.name)"])
            } catch {
                events.append(.failedToStart(entry.name, "\(error)"))
                logger.error("cannot start the run", metadata: ["job": "\(entry.name)", "error": "\(error)"])
            }
        }
        return events
    }

    /// The earliest planned run.
    public var nextDue: Date? { due.values.min() }

    /// Whether any run is in progress.
    public var isIdle: Bool { running.isEmpty }

    /// Passes a stop request to every run in progress.
    public func stopRunning() {
        for run in running.values { run.requestStop() }
    }
}
