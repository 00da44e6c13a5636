import ArgumentParser
import BatchJobs
import FileTransport
import Foundation
import Glibc

struct FleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Run and watch many clients from one install (a fleet file lists their configurations).",
        discussion: """
            The fleet file (--fleet, default $VOXBATCH_FLEET or ./fleet.yml) lists client configuration files \
            or folders of them, how many clients run at once (concurrency) and how long one may take \
            (job_timeout, seconds). Every client runs as its own `voxbatch` process: one client's failure, \
            hang or bad configuration never stops the others; a client past its time is stopped and reported.

            Exit codes: the worst of the clients' (the highest: 4 locked, 3 unavailable or timed out, \
            2 configuration, 1 needs attention, 0 all well); 2 for an unusable fleet file.
            """,
        subcommands: [FleetRunCommand.self, FleetStatusCommand.self, FleetReportCommand.self, FleetConfigCommand.self]
    )
}

/// The fleet file option.
struct FleetOption: ParsableArguments {
    @Option(help: "The fleet file (default: $VOXBATCH_FLEET or ./fleet.yml).")
    var fleet: String?

    func load() throws -> Fleet {
        let path = fleet ?? ProcessInfo.processInfo.environment["VOXBATCH_FLEET"] ?? "fleet.yml"
        do {
            return try Fleet.load(path: path)
        } catch let error as ConfigError {
            printError("voxbatch: \(error)")
            throw Exit.usage
        }
    }
}

/// One client's command, as the fleet ran it.
struct ClientOutcome {
    var client: String
    var config: String
    var exitCode: Int32
    var timedOut = false
    var seconds: Double
    /// The command's JSON output, when it gave one (passed through as it came).
    var result: Any?
    /// The last line of its standard error, when it failed.
    var error: String?

    var json: [String: Any] {
        var object: [String: Any] = ["client": client, "config": config, "exitCode": Int(exitCode), "timedOut": timedOut,
                                     "seconds": seconds]
        if let result { object["result"] = result }
        if let error { object["error"] = error }
        return object
    }

    /// Prints outcomes as a JSON array.
    static func printJSON(_ outcomes: [ClientOutcome]) throws {
        let data = try JSONSerialization.data(withJSONObject: outcomes.map(\.json), options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Runs a `voxbatch` command for every client, at most `concurrency` at once, each in its own process with
/// its output in files (not pipes: nothing can block on a full pipe), stopped after the fleet's job timeout.
enum FleetRunner {
    static func run(_ fleet: Fleet, arguments: (String) -> [String]) throws -> [ClientOutcome] {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        struct Running {
            let index: Int
            let process: Process
            let stopwatch: Stopwatch
            let out: URL
            let err: URL
            /// Since when it was asked to stop, and whether for its time limit (else: the fleet was asked to stop).
            var stopping: (since: Stopwatch, timedOut: Bool)?
        }
        var outcomes = [ClientOutcome?](repeating: nil, count: fleet.clients.count)
        var waiting = Array(fleet.clients.indices)
        var running: [Running] = []
        while !waiting.isEmpty || !running.isEmpty {
            while running.count < fleet.concurrency, !waiting.isEmpty, !StopRequest.isRequested {
                let i = waiting.removeFirst()
                let out = work.appendingPathComponent("\(i).out"), err = work.appendingPathComponent("\(i).err")
                _ = FileManager.default.createFile(atPath: out.path, contents: nil)
                _ = FileManager.default.createFile(atPath: err.path, contents: nil)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: exe)
                process.arguments = arguments(fleet.clients[i])
                process.environment = CommandClock.childEnvironment()
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = try FileHandle(forWritingTo: out)
                process.standardError = try FileHandle(forWritingTo: err)
                try process.run()
                running.append(Running(index: i, process: process, stopwatch: Stopwatch(), out: out, err: err))
            }
            if StopRequest.isRequested, !waiting.isEmpty || running.contains(where: { $0.stopping == nil }) {
                // Asked to stop: start no more clients, and pass the request on (each finishes its current file).
                waiting.removeAll()
                for n in running.indices where running[n].stopping == nil {
                    running[n].process.terminate()
                    running[n].stopping = (Stopwatch(), false)
                }
            }
            usleep(20_000)
            for (n, r) in running.enumerated().reversed() {
                if r.process.isRunning {
                    if r.stopping == nil, r.stopwatch.seconds > fleet.jobTimeout {
                        r.process.terminate()  // SIGTERM: a job finishes its current file and stops
                        running[n].stopping = (Stopwatch(), true)
                    } else if let stopping = r.stopping, stopping.since.seconds > 10 {
                        kill(r.process.processIdentifier, SIGKILL)
                    }
                    continue
                }
                running.remove(at: n)
                let stdout = (try? Data(contentsOf: r.out)) ?? Data()
                let stderr = String(decoding: (try? Data(contentsOf: r.err)) ?? Data(), as: UTF8.self)
                let config = fleet.clients[r.index]
                let timedOut = r.stopping?.timedOut == true
                var outcome = ClientOutcome(
                    client: FleetRunner.clientName(config),
                    // Stopped by its limit or by a signal: the client could not finish (exit 3), whatever the signal.
                    config: config, exitCode: timedOut || r.process.terminationReason == .uncaughtSignal
                        ? Exit.unavailable.rawValue : r.process.terminationStatus,
                    timedOut: timedOut, seconds: (r.stopwatch.seconds * 100).rounded() / 100,
                    result: try? JSONSerialization.jsonObject(with: stdout))
                if outcome.exitCode != 0 || timedOut {
                    outcome.error = timedOut ? "stopped after \(Int(fleet.jobTimeout)) s (job_timeout)"
                        : r.process.terminationReason == .uncaughtSignal
                            ? "stopped by signal \(r.process.terminationStatus)" : FleetRunner.message(stderr)
                }
                outcomes[r.index] = outcome
            }
        }
        return outcomes.compactMap { $0 }
    }

    /// What a failed command said: its `voxbatch:` message with the lines that follow it (a configuration's
    /// problems), else its last line; log lines before it are left out.
    static func message(_ stderr: String) -> String? {
        let lines = stderr.split(separator: "\n").map(String.init)
        guard let start = lines.lastIndex(where: { $0.hasPrefix("voxbatch:") }) else { return lines.last }
        let text = lines[start...].map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return text.count > 600 ? String(text.prefix(600)) + "…" : text
    }

    /// A client's name: its configuration's `client`, read even from a file that cannot be used as a whole,
    /// else its folder's (or file's) name.
    static func clientName(_ config: String) -> String {
        if let name = try? Configuration.load(path: config).client { return name }
        let text = (try? String(contentsOfFile: config, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("client:") {
            let value = line.dropFirst("client:".count).split(separator: "#").first?.trimmingCharacters(in: .whitespaces) ?? ""
            if !value.isEmpty { return value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) }
        }
        let url = URL(fileURLWithPath: config)
        return url.lastPathComponent == "voxbatch.yml" ? url.deletingLastPathComponent().lastPathComponent
            : url.deletingPathExtension().lastPathComponent
    }

    /// The worst exit code: the highest.
    static func worst(_ outcomes: [ClientOutcome]) -> ExitCode? {
        let code = outcomes.map(\.exitCode).max() ?? 0
        return code == 0 ? nil : ExitCode(code)
    }
}

struct FleetRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job (or all) for every client of the fleet, in parallel, each in its own process.")

    @OptionGroup var fleet: FleetOption

    @Argument(help: "A job name (see `voxbatch run --help`) or `all`.")
    var job: String

    @Flag(help: "Print one JSON object per client.")
    var json = false

    func run() throws {
        guard job == "all" || JobName(rawValue: job) != nil else {
            printError("voxbatch: unknown job \"\(job)\"; use one of: all, " + JobName.allCases.map(\.rawValue).joined(separator: ", "))
            throw Exit.usage
        }
        let loaded = try fleet.load()
        StopRequest.installSignalHandlers()
        let outcomes = try FleetRunner.run(loaded) { ["run", job, "--config", $0, "--json"] }
        if json {
            try ClientOutcome.printJSON(outcomes)
        } else {
            for o in outcomes {
                print("\(o.client.padding(toLength: 24, withPad: " ", startingAt: 0)) exit \(o.exitCode)  "
                      + String(format: "%6.1f s", o.seconds) + (o.error.map { "  \($0)" } ?? ""))
            }
        }
        if let worst = FleetRunner.worst(outcomes) { throw worst }
    }
}

struct FleetStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "One line per client: healthy, needs attention, unreachable or misconfigured; worst-of exit code.")

    @OptionGroup var fleet: FleetOption

    @Flag(help: "Print one JSON object per client (its `status --json`).")
    var json = false

    @Flag(help: "Print every client's metrics in Prometheus text format, with each client's state.")
    var prometheus = false

    func run() throws {
        let outcomes = try FleetRunner.run(try fleet.load()) { ["status", "--config", $0, "--json"] }
        if prometheus {
            print(Self.metrics(outcomes), terminator: "")
        } else if json {
            try ClientOutcome.printJSON(outcomes)
        } else {
            for o in outcomes { print(FleetStatusCommand.line(o)) }
        }
        if let worst = FleetRunner.worst(outcomes) { throw worst }
    }

    /// Every client's health metrics, and for each client its state as the fleet saw it (a client whose
    /// status could not be had at all still shows up, with its exit code).
    static func metrics(_ outcomes: [ClientOutcome]) -> String {
        let reports = outcomes.compactMap { o -> HealthReport? in
            guard let result = o.result, let data = try? JSONSerialization.data(withJSONObject: result) else { return nil }
            return try? JSONDecoder().decode(HealthReport.self, from: data)
        }
        var text = PrometheusMetrics.render(reports)
        text += "# HELP voxbatch_fleet_client_exit_code The exit code of the client's status (0 healthy)\n"
            + "# TYPE voxbatch_fleet_client_exit_code gauge\n"
        for o in outcomes {
            text += "voxbatch_fleet_client_exit_code{client=\"\(PrometheusMetrics.escape(o.client))\","
                + "state=\"\(state(o).lowercased().replacingOccurrences(of: " ", with: "-"))\"} \(o.exitCode)\n"
        }
        return text
    }

    static func state(_ o: ClientOutcome) -> String {
        if o.timedOut { return "TIMED OUT" }
        switch o.exitCode {
        case 0: return "HEALTHY"
        case 1: return "NEEDS ATTENTION"
        case 2: return "CONFIGURATION ERROR"
        case 3: return "UNREACHABLE"
        default: return "EXIT \(o.exitCode)"
        }
    }

    static func line(_ o: ClientOutcome) -> String {
        let report = o.result as? [String: Any]
        let problems = (report?["problems"] as? [String]) ?? []
        return o.client.padding(toLength: 24, withPad: " ", startingAt: 0) + " "
            + state(o).padding(toLength: 20, withPad: " ", startingAt: 0)
            + " exceptions \(report?["openExceptions"] as? Int ?? 0)"
            + (problems.first.map { "  ! \($0)" + (problems.count > 1 ? " (+\(problems.count - 1) more)" : "") }
               ?? o.error.map { "  ! \($0)" } ?? "")
    }
}

struct FleetReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One HTML page for the whole fleet, linking to each client's own report.")

    @OptionGroup var fleet: FleetOption

    @Option(help: "Where to write the page; each client's report goes in a folder beside it.")
    var html: String

    func run() throws {
        let loaded = try fleet.load()
        let page = URL(fileURLWithPath: html).standardizedFileURL
        let folder = page.deletingPathExtension().path + "-clients"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // One child per client writes its page and prints the health it showed (one judgement, not two).
        let statuses = try FleetRunner.run(loaded) { config in
            ["report", "--config", config, "--html", folder + "/" + FleetReportCommand.fileName(config), "--status-json"]
        }
        // The health is printed only once the page is written: a client that printed it has its page.
        let reportWritten = Dictionary(uniqueKeysWithValues: statuses.map { ($0.config, $0.result != nil) })
        try FleetReport(statuses: statuses, reportFolder: URL(fileURLWithPath: folder).lastPathComponent,
                        reportWritten: reportWritten, checkedAt: UTCTime.iso8601(CommandClock.now()))
            .render().write(to: page, atomically: true, encoding: .utf8)
        print("wrote \(page.path) (\(statuses.count) clients; their reports in \(folder))")
    }

    /// A client's report file name, from its configuration's path (unique within the fleet).
    static func fileName(_ config: String) -> String {
        let parts = URL(fileURLWithPath: config).pathComponents.suffix(2)
        return parts.joined(separator: "-").replacingOccurrences(of: ".yml", with: "")
            .replacingOccurrences(of: ".yaml", with: "").filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } + ".html"
    }
}

/// The fleet page: the clients that need attention first, open exceptions by owner and kind across the
/// fleet, and a link to each client's own report.
struct FleetReport {
    let statuses: [ClientOutcome]
    let reportFolder: String
    let reportWritten: [String: Bool]
    let checkedAt: String

    func render() -> String {
        let ordered = statuses.sorted { a, b in
            let rank = { (o: ClientOutcome) -> Int in [2: 0, 3: 1, 1: 2, 0: 3][o.exitCode] ?? 0 }
            return rank(a) != rank(b) ? rank(a) < rank(b) : a.client < b.client
        }
        var byOwner: [String: Int] = [:], byKind: [String: Int] = [:]
        for o in statuses {
            let report = o.result as? [String: Any]
            for (k, v) in report?["exceptionsByOwner"] as? [String: Int] ?? [:] { byOwner[k, default: 0] += v }
            for (k, v) in report?["exceptionsByKind"] as? [String: Int] ?? [:] { byKind[k, default: 0] += v }
        }
        let attention = statuses.filter { $0.exitCode != 0 }.count
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>voxbatch fleet</title>
            <style>body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
            header{padding:18px 28px;color:#fff;background:\(attention == 0 ? "#1f7a4d" : "#b3261e")}
            main{padding:8px 28px 40px;max-width:1200px}section{background:#fff;border-radius:8px;padding:14px 18px;margin:16px 0}
            table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e6ea}
            .bad{color:#b3261e;font-weight:600}.ok{color:#1f7a4d;font-weight:600}</style></head><body>
            <header><h1>voxbatch fleet — \(statuses.count) clients</h1>
            <p id="summary">\(attention) need attention · checked \(esc(checkedAt))</p></header><main>
            <section id="clients"><h2>Clients, those that need attention first</h2><table>
            <tr><th>Client</th><th>State</th><th>Open exceptions</th><th>First problem</th><th>Report</th></tr>

            """
        for o in ordered {
            let report = o.result as? [String: Any]
            let state = FleetStatusCommand.state(o)
            let first = (report?["problems"] as? [String])?.first ?? o.error ?? ""
            let link = reportWritten[o.config] == true
                ? "<a href=\"\(esc(reportFolder))/\(esc(FleetReportCommand.fileName(o.config)))\">report</a>" : "—"
            html += "<tr><td>\(esc(o.client))</td><td class=\"\(o.exitCode == 0 ? "ok" : "bad")\">\(esc(state))</td>"
                + "<td>\(report?["openExceptions"] as? Int ?? 0)</td><td>\(esc(first))</td><td>\(link)</td></tr>\n"
        }
        html += "</table></section>\n<section id=\"exceptions\"><h2>Open exceptions across the fleet</h2><table>"
            + "<tr><th>Owner</th><th>Open</th></tr>"
        for (owner, n) in byOwner.sorted(by: { $0.value > $1.value }) { html += "<tr><td>\(esc(owner))</td><td>\(n)</td></tr>" }
        html += "</table><table><tr><th>Kind</th><th>Open</th></tr>"
        for (kind, n) in byKind.sorted(by: { $0.value > $1.value }) { html += "<tr><td>\(esc(kind))</td><td>\(n)</td></tr>" }
        html += "</table></section>\n</main></body></html>\n"
        return html
    }

    private func esc(_ text: String) -> String { HTMLReport.escape(text) }
}

struct FleetConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check the fleet file and every client's configuration.",
        subcommands: [FleetConfigCheckCommand.self])
}

struct FleetConfigCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the fleet file, every client's configuration, and that no two clients share a name or state folder.",
        discussion: "Exit codes: 0 every configuration is usable, 2 otherwise.")

    @OptionGroup var fleet: FleetOption

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Result: Encodable {
        var clients: [Client] = []
        var conflicts: [String] = []
        struct Client: Encodable {
            var config: String
            var client: String?
            var problems: [String]
        }
    }

    func run() throws {
        let loaded = try fleet.load()
        var result = Result()
        var usable: [(path: String, configuration: Configuration)] = []
        for path in loaded.clients {
            do {
                let configuration = try Configuration.load(path: path)
                usable.append((path, configuration))
                result.clients.append(.init(config: path, client: configuration.client, problems: []))
            } catch let error as ConfigError {
                result.clients.append(.init(config: path, client: nil, problems: error.problems.map(\.description)))
            }
        }
        result.conflicts = Fleet.conflicts(usable)
        if json {
            try JobExecution.printJSON(result)
        } else {
            for c in result.clients {
                print("\(c.config): " + (c.problems.isEmpty ? "ok (\(c.client ?? ""))" : "\(c.problems.count) problem(s)"))
                for p in c.problems { print("  \(p)") }
            }
            for conflict in result.conflicts { print("conflict: \(conflict)") }
        }
        if result.clients.contains(where: { !$0.problems.isEmpty }) || !result.conflicts.isEmpty { throw Exit.usage }
    }
}
