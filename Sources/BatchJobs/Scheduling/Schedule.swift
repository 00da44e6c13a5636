import CSVKit
import Foundation

/// When each job runs: a YAML file of entries (job, cron expression, optional jitter and options) in
/// one time zone.
///
/// ```yaml
/// timezone: Europe/London
/// entries:
///   - job: export-orders
///     cron: "*/5 * * * *"
///   - job: import-stock
///     cron: "30 2 * * *"
///     full: true          # the nightly full reconciliation
///     jitter: 60          # start up to 60 s late, so many clients do not hit the server at once
/// ```
public struct Schedule: Sendable, Hashable {
    public var timeZone: TimeZone
    public var entries: [Entry]

    /// One scheduled job.
    public struct Entry: Sendable, Hashable {
        public var job: JobName
        public var cron: CronExpression
        /// Seconds of random delay added to each run.
        public var jitter: Int
        /// import-stock: a full push.
        public var full: Bool

        /// A name for the entry (`import-stock`, `import-stock-full`).
        public var name: String { job.rawValue + (full ? "-full" : "") }

        /// The `voxbatch run` arguments for this entry.
        public var arguments: [String] { ["run", job.rawValue] + (full ? ["--full"] : []) }
    }

    /// Reads a schedule file.
    ///
    /// - Throws: ``ConfigError`` listing every problem with its YAML path.
    public static func load(path: String) throws -> Schedule {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(path: path, problems: [YAMLProblem(path: "", line: 0, message: "cannot read the file")])
        }
        return try parse(yaml: text, name: path)
    }

    /// Parses schedule text.
    public static func parse(yaml text: String, name: String = "schedule.yml") throws -> Schedule {
        let doc: StrictYAML
        do {
            doc = try StrictYAML(text: text)
        } catch let problem as YAMLProblem {
            throw ConfigError(path: name, problems: [problem])
        }
        var schedule = Schedule(timeZone: TimeZone(identifier: "UTC")!, entries: [])
        if let root = doc.root.mapping(allowed: ["timezone", "entries"]) {
            if let zone = root["timezone"] {
                if let id = zone.string, let tz = TimeZone(identifier: id) { schedule.timeZone = tz } else {
                    doc.report(zone, "unknown time zone; use an IANA name such as Europe/London")
                }
            }
            for item in root.required("entries")?.list ?? [] {
                guard let map = item.mapping(allowed: ["job", "cron", "jitter", "full"]) else { continue }
                guard let jobValue = map.required("job"), let cronValue = map.required("cron") else { continue }
                guard let job = jobValue.string.flatMap(JobName.init(rawValue:)) else {
                    doc.report(jobValue, "unknown job; use one of " + JobName.allCases.map(\.rawValue).joined(separator: ", "))
                    continue
                }
                let cron: CronExpression
                do {
                    cron = try CronExpression(cronValue.string ?? "")
                } catch let error as CronError {
                    doc.report(cronValue, error.message)
                    continue
                } catch { continue }
                let jitter = map["jitter"]?.int ?? 0
                if jitter < 0 { doc.report(map["jitter"], "jitter cannot be negative") }
                let full = map["full"]?.bool ?? false
                if full && job != .importStock { doc.report(map["full"], "full applies to import-stock only") }
                schedule.entries.append(Entry(job: job, cron: cron, jitter: max(0, jitter), full: full))
            }
        }
        guard doc.problems.isEmpty else { throw ConfigError(path: name, problems: doc.problems) }
        return schedule
    }

    /// When each entry runs next, after `date`.
    public func nextRuns(after date: Date) -> [(entry: Entry, at: Date?)] {
        entries.map { ($0, $0.cron.next(after: date, in: timeZone)) }
    }

    // MARK: - Other schedulers

    /// Crontab lines for the same schedule (`CRON_TZ` sets the zone for cronie and Vixie-derived crons).
    public func crontab(executable: String, configPath: String, logPath: String) -> String {
        var lines = ["# voxbatch schedule; each job takes its own lock, so an overrun never overlaps itself.",
                     "CRON_TZ=\(timeZone.identifier)"]
        for entry in entries {
            let delay = entry.jitter > 0 ? "sleep $(( $(od -An -N2 -tu2 /dev/urandom) % \(entry.jitter) )); " : ""
            let command = "\(delay)\(shellQuote(executable)) \(entry.arguments.joined(separator: " ")) --config "
                + "\(shellQuote(configPath)) >> \(shellQuote(logPath)) 2>&1"
            lines.append("\(entry.cron.fields.joined(separator: " "))  \(command.replacingOccurrences(of: "%", with: "\\%"))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// systemd units: a oneshot service and a timer per entry, as `(file name, contents)`.
    public func systemdUnits(executable: String, configPath: String) -> [(name: String, contents: String)] {
        var units: [(String, String)] = []
        for entry in entries {
            let unit = "voxbatch-\(entry.name)"
            units.append(("\(unit).service", """
                [Unit]
                Description=voxbatch \(entry.name) (\(entry.job.summary))
                After=network-online.target
                Wants=network-online.target

                [Service]
                Type=oneshot
                ExecStart=\(executable) \(entry.arguments.joined(separator: " ")) --config \(configPath)
                # Exit 1 means "completed with exceptions": not a failure of the unit.
                SuccessExitStatus=1
                # voxbatch stops after the current file on SIGTERM.
                KillSignal=SIGTERM
                TimeoutStopSec=300

                """))
            units.append(("\(unit).timer", """
                [Unit]
                Description=Run voxbatch \(entry.name) on schedule (cron: \(entry.cron.fields.joined(separator: " ")))

                [Timer]
                OnCalendar=\(Self.onCalendar(entry.cron, timeZone: timeZone))
                RandomizedDelaySec=\(entry.jitter)
                Persistent=true

                [Install]
                WantedBy=timers.target

                """))
        }
        return units
    }

    /// A cron expression as a systemd `OnCalendar=` value.
    static func onCalendar(_ cron: CronExpression, timeZone: TimeZone) -> String {
        func convert(_ field: String, names: [String] = [], width: Int = 2) -> String {
            if field == "*" { return "*" }
            return field.split(separator: ",").map { item -> String in
                var text = String(item)
                var step = ""
                if let slash = text.firstIndex(of: "/") {
                    step = "/" + text[text.index(after: slash)...]
                    text = String(text[..<slash])
                }
                if text == "*" { return (names.isEmpty ? "00" : "*") + step }
                let ends = text.split(separator: "-").map { part -> String in
                    if let n = Int(part) { return names.isEmpty ? String(format: "%0\(width)d", n) : names[n % 7] }
                    return part.prefix(1).uppercased() + part.dropFirst().lowercased()
                }
                return ends.joined(separator: names.isEmpty ? ".." : "..") + step
            }.joined(separator: ",")
        }
        let f = cron.fields
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let weekday = f[4] == "*" ? "" : convert(f[4], names: days) + " "
        let month = f[3].contains(where: \.isLetter) ? convert(f[3].uppercased().split(separator: ",").map {
            $0.split(separator: "-").map { CronExpression.monthNames.firstIndex(of: String($0)).map { String($0 + 1) } ?? String($0) }
                .joined(separator: "-")
        }.joined(separator: ",")) : convert(f[3])
        return "\(weekday)*-\(month)-\(convert(f[2])) \(convert(f[1])):\(convert(f[0])):00 \(timeZone.identifier)"
    }

    private func shellQuote(_ text: String) -> String {
        text.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) } ? text
            : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
