import Foundation
import Testing

/// The epoch-parameterized suites catch a wall-clock read on the paths they run; this catches one on a
/// path no test runs yet. The CLI's `CommandClock` is the one place that may read the real time;
/// durations use the monotonic `Stopwatch`.
@Suite struct WallClockTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")
    static let allowed: Set<String> = ["voxbatch/CommandClock.swift"]
    static let reads = ["Date()", "Date.init", "Date.now", "timeIntervalSinceNow", "Date(timeIntervalSinceNow",
                        "CFAbsoluteTimeGetCurrent", "gettimeofday", "time(nil)"]

    @Test func onlyTheCommandClockReadsTheWallClock() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.sources.path)
            .filter { $0.hasSuffix(".swift") && !Self.allowed.contains($0) }
        #expect(files.count > 50)  // the sources were found
        var found: [String] = []
        for file in files {
            let text = try String(contentsOfFile: Self.sources.appendingPathComponent(file).path, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.components(separatedBy: "//").first ?? ""
                for read in Self.reads where code.contains(read) { found.append("Sources/\(file):\(n + 1): \(read)") }
            }
        }
        #expect(found.isEmpty, "wall-clock reads outside CommandClock:\n\(found.joined(separator: "\n"))")
    }

    /// UTC times go through `UTCTime`: Foundation's formatters and calendars open ICU, about 6 MiB of every
    /// run's memory (Benchmarks/README.md, "a lower floor"). Local-time work — cron schedules in a client's
    /// zone, HTTP dates, the HTML report's local times — keeps Foundation, in the files allowed here.
    @Test func utcTimesAreNotMadeThroughICU() throws {
        let localTime: Set<String> = ["BatchJobs/Scheduling/Schedule.swift", "BatchJobs/Scheduling/CronExpression.swift",
                                      "FileTransport/HTTP/HTTPClient.swift", "voxbatch/Commands/ScheduleCommand.swift",
                                      "BatchJobs/Reports/HTMLReport.swift"]
        let uses = ["ISO8601DateFormatter", "Calendar(identifier", "DateFormatter()", "NSRegularExpression(",
                    ".regularExpression", "Yams.compose(yaml: text)"]
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.sources.path)
            .filter { $0.hasSuffix(".swift") && !localTime.contains($0) }
        #expect(files.count > 50)
        var found: [String] = []
        for file in files {
            let text = try String(contentsOfFile: Self.sources.appendingPathComponent(file).path, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.components(separatedBy: "//").first ?? ""
                for use in uses where code.contains(use) { found.append("Sources/\(file):\(n + 1): \(use)") }
            }
        }
        #expect(found.isEmpty, "ICU-backed Foundation outside local-time code:\n\(found.joined(separator: "\n"))")
    }
}
