import ArgumentParser
import BatchJobs
import Foundation
import Glibc
import Logging

struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Run jobs on a cron schedule, or print the schedule for cron or systemd.",
        discussion: """
            The schedule is a YAML file (see schedules/): a time zone and entries with a job, a 5-field cron \
            expression, and optional jitter (seconds) and full (import-stock). It is named by --schedule or \
            by `schedule:` in the configuration.
            """,
        subcommands: [ScheduleNextCommand.self, SchedulePrintCommand.self, ScheduleRunCommand.self]
    )
}

/// Options shared by the schedule commands.
struct ScheduleOptions: ParsableArguments {
    @OptionGroup var config: ConfigOption

    @Option(help: "The schedule file (default: `schedule:` in the configuration).")
    var schedule: String?

    func load() throws -> (Configuration, Schedule) {
        let configuration = try config.load()
        guard let path = schedule ?? configuration.schedulePath else {
            printError("voxbatch: no schedule: pass --schedule FILE or set `schedule:` in \(config.path)")
            throw Exit.usage
        }
        do {
            return (configuration, try Schedule.load(path: path))
        } catch let error as ConfigError {
            printError("voxbatch: \(error)")
            throw Exit.usage
        }
    }

    /// The absolute path of the configuration, for commands other schedulers run.
    var configPath: String { URL(fileURLWithPath: config.path).standardizedFileURL.path }
}

struct ScheduleNextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "next", abstract: "Show when each job runs next.")

    @OptionGroup var options: ScheduleOptions

    @Flag(help: "Print as JSON.")
    var json = false

    func run() throws {
        let (_, schedule) = try options.load()
        let now = CommandClock.now()
        let runs = schedule.nextRuns(after: now)
        let local = DateFormatter()
        local.timeZone = schedule.timeZone
        local.dateFormat = "EEE yyyy-MM-dd HH:mm zzz"
        if json {
            let items = runs.map { ["job": $0.entry.name, "cron": $0.entry.cron.description,
                                    "next": $0.at.map(UTCTime.iso8601) ?? ""] }
            let data = try JSONSerialization.data(withJSONObject: ["timezone": schedule.timeZone.identifier, "entries": items],
                                                  options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("time zone: \(schedule.timeZone.identifier)")
        for (entry, at) in runs.sorted(by: { ($0.at ?? .distantFuture) < ($1.at ?? .distantFuture) }) {
            let when = at.map { "\(local.string(from: $0))  (in \(Self.duration($0.timeIntervalSince(now))))" } ?? "never"
            print("\(entry.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(entry.cron.description.padding(toLength: 16, withPad: " ", startingAt: 0)) \(when)")
        }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 3600 { return "\(s / 60) min" }
        if s < 86_400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86_400) d \(s % 86_400 / 3600) h"
    }
}

struct SchedulePrintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print",
        abstract: "Print the schedule as crontab lines, systemd timer and service units, or Kubernetes CronJobs.",
        discussion: """
            Every line, unit or CronJob runs `voxbatch run JOB`, which takes the job's lock. kubernetes: a \
            ConfigMap with the configuration and a batch/v1 CronJob per entry (concurrencyPolicy Forbid, \
            deadlines, time zone), mounting the client's secrets from a Secret whose keys are listed (never \
            values) and the state from the PersistentVolumeClaim voxbatch-state; see docs/deploy-kubernetes.md. \
            Exit 1 (the YAML still printed) when the configuration cannot work in a cluster as it is (a state \
            folder or secret file outside the mounted paths).
            """
    )

    enum Format: String, ExpressibleByArgument { case crontab, systemd, kubernetes }

    @OptionGroup var options: ScheduleOptions

    @Option(help: "crontab or systemd.")
    var format: Format = .crontab

    @Option(help: "Where cron appends the output (crontab only).")
    var log = "/var/log/voxbatch.log"

    @Option(help: "The voxbatch executable the lines should run (default: this one).")
    var executable: String?

    @Option(help: "The container image (kubernetes).")
    var image = "voxbatch:0.1.0"

    @Option(help: "The namespace (kubernetes).")
    var namespace = "voxbatch"

    func run() throws {
        let (_, schedule) = try options.load()
        let exe = executable ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        switch format {
        case .crontab:
            print(schedule.crontab(executable: exe, configPath: options.configPath, logPath: log), terminator: "")
        case .kubernetes:
            let (configuration, _) = try options.load()
            guard let text = try? String(contentsOfFile: options.configPath, encoding: .utf8) else { throw Exit.usage }
            let manifests = KubernetesManifests(client: configuration.client, configurationText: text,
                                                configuration: configuration, schedule: schedule, image: image,
                                                namespace: namespace)
            print(manifests.yaml(), terminator: "")
            for problem in manifests.problems { printError("voxbatch: \(problem)") }
            if !manifests.problems.isEmpty { throw Exit.rejected }
        case .systemd:
            for (name, contents) in schedule.systemdUnits(executable: exe, configPath: options.configPath) {
                print("# --- /etc/systemd/system/\(name)")
                print(contents)
            }
            print("# enable with: systemctl daemon-reload && systemctl enable --now "
                  + schedule.entries.map { "voxbatch-\($0.name).timer" }.joined(separator: " "))
        }
    }
}

struct ScheduleRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the schedule in the foreground (for containers and systemd services).",
        discussion: """
            Starts each job on time as `voxbatch run JOB` in a child process. A job still running when its \
            next slot comes is not started again (the slot is skipped and logged); a failing job does not \
            stop the others. On SIGTERM or Ctrl-C it starts nothing more, asks running jobs to stop after \
            their current file, waits for them, and exits 0.
            """
    )

    @OptionGroup var options: ScheduleOptions

    func run() throws {
        let (_, schedule) = try options.load()
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let configPath = options.configPath
        let logger = Logger(label: "voxbatch.schedule")
        StopRequest.installSignalHandlers()
        let scheduler = Scheduler(schedule: schedule, logger: logger) { entry in
            try ChildRun(executable: exe, arguments: entry.arguments + ["--config", configPath])
        }
        scheduler.start(now: CommandClock.now())
        logger.notice("scheduler started", metadata: [
            "entries": "\(schedule.entries.count)", "timezone": "\(schedule.timeZone.identifier)",
        ])
        while !StopRequest.isRequested {
            let now = CommandClock.now()
            scheduler.step(now: now)
            let wait = min(1.0, max(0.05, (scheduler.nextDue ?? now.addingTimeInterval(1)).timeIntervalSince(now)))
            usleep(UInt32(wait * 1_000_000))
        }
        logger.notice("stop requested: waiting for running jobs to finish their current file")
        scheduler.stopRunning()
        while !scheduler.isIdle {
            scheduler.step(now: .distantPast)  // reap only: nothing is due in the past
            usleep(100_000)
        }
        logger.notice("scheduler stopped")
    }
}

/// A `voxbatch run` child process.
final class ChildRun: ScheduledRun {
    let pid: pid_t
    private var status: Int32?

    init(executable: String, arguments: [String]) throws {
        var pid: pid_t = 0
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = CommandClock.childEnvironment().map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        let result = posix_spawn(&pid, executable, nil, nil, argv, envp)
        guard result == 0 else { throw POSIXError(.init(rawValue: result) ?? .EIO) }
        self.pid = pid
    }

    func poll() -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        let exited = raw & 0x7F == 0
        status = exited ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
        return status
    }

    func requestStop() { kill(pid, SIGTERM) }
}
