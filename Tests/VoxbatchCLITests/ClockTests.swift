import Foundation
import TestSupport
import Testing

/// The commands run on the clock they were started with (`VOXBATCH_NOW` pins it): the demo, and what ops
/// see after it (`status`, `report`), come out the same on any day; `schedule` counts from it.
@Suite struct ClockTests {
    /// The demo's summary as JSON, less what is allowed to differ (its folder, how long it took).
    func demo(at epoch: Epoch?) throws -> (summary: [String: Any], config: String) {
        let folder = try CLI.temporaryDirectory().appendingPathComponent("demo")
        let r = try CLI.run(["demo", "--folder", folder.path, "--orders", "300", "--json"],
                            environment: epoch.map { ["VOXBATCH_NOW": UTC.iso($0.start)] } ?? [:])
        #expect(r.status == 0, "\(r.stderr)")
        var summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        summary["folder"] = nil
        summary["seconds"] = nil
        return (summary, folder.appendingPathComponent("voxbatch.yml").path)
    }

    /// `status --json` at `epoch`, less the dates themselves (when it checked, when each job ran, the
    /// stock file's name).
    func status(_ config: String, at epoch: Epoch) throws -> [String: Any] {
        let r = try CLI.run(["status", "--config", config, "--json"], environment: ["VOXBATCH_NOW": UTC.iso(epoch.start)])
        #expect(r.status == 1, "\(r.stderr)")  // the demo leaves exceptions open
        var report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(report["checkedAt"] as? String == UTC.iso(epoch.start))
        report["checkedAt"] = nil
        report["jobs"] = (report["jobs"] as? [[String: Any]])?.map { job in
            var job = job
            job["lastRun"] = nil
            return job
        }
        #expect((report["lastStockFile"] as? String)?.contains(UTC.format(epoch.start.addingTimeInterval(-23 * 3600), "yyyyMMdd'T'HH")) == true)
        report["lastStockFile"] = nil
        return report
    }

    /// Whether two JSON objects are equal (compared as sorted, pretty-printed JSON).
    static func same(_ a: [String: Any], _ b: [String: Any]) -> Bool { text(a) == text(b) }

    static func text(_ object: [String: Any]) -> String {
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        return String(decoding: data ?? Data(), as: UTF8.self)
    }

    @Test func theDemoAndWhatOpsSeeAfterItAreTheSameOnAnyDay() throws {
        // Unpinned: the real clock, at whatever time of day the suite runs.
        let reference = try demo(at: nil).summary
        #expect((reference["ordersSent"] as? Int ?? 0) > 100)
        var firstStatus: [String: Any]?
        for epoch in Epoch.allCases {
            let (summary, config) = try demo(at: epoch)
            #expect(Self.same(summary, reference), "the demo on \(epoch) differs:\n\(Self.text(summary))\nagainst\n\(Self.text(reference))")

            // Monday 08:00: the demo's day was Saturday (the latest whose 33 hours are past), its last
            // stock file Sunday 09:00, its first orders were sent Saturday 07:00 (49 h: past the SLA).
            let status = try status(config, at: epoch)
            #expect(status["lastStockFileAgeHours"] as? Double == 23)
            #expect((status["ordersPastSLA"] as? [String])?.count == 1)
            if let firstStatus {
                #expect(Self.same(status, firstStatus), "status on \(epoch) differs:\n\(Self.text(status))\nagainst\n\(Self.text(firstStatus))")
            } else {
                firstStatus = status
            }

            // The report's seven days end on the pinned day and hold every order the demo sent.
            let page = try CLI.temporaryDirectory().appendingPathComponent("report.html").path
            let report = try CLI.run(["report", "--config", config, "--html", page],
                                     environment: ["VOXBATCH_NOW": UTC.iso(epoch.start)])
            #expect(report.status == 0, "\(report.stderr)")
            let html = try String(contentsOfFile: page, encoding: .utf8)
            #expect(html.contains("checked \(UTC.iso(epoch.start))"))
            #expect(html.contains("orders out (\(summary["ordersSent"] as? Int ?? -1))"))
            #expect(html.contains(">\(UTC.format(epoch.start, "EEE d"))</text>"))
        }
    }

    @Test(arguments: Epoch.allCases)
    func scheduleNextCountsFromTheCommandsClock(epoch: Epoch) throws {
        let (_, config) = try CLI.starter()
        let r = try CLI.run(["schedule", "next", "--config", config, "--schedule", "schedules/standard.yml", "--json"],
                            environment: ["VOXBATCH_NOW": UTC.iso(epoch.start)])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let next = try #require(object["entries"] as? [[String: String]]).map { ($0["job"] ?? "", $0["next"] ?? "") }
        let orders = try #require(next.first { $0.0 == "export-orders" })
        #expect(orders.1 == UTC.iso(epoch.start.addingTimeInterval(300)))  // */5 from 08:00
        // 01:00 in London the next night: 01:00 UTC in winter, 00:00 UTC under summer time (the 2019 day).
        var london = Calendar(identifier: .gregorian)
        london.timeZone = TimeZone(identifier: "Europe/London")!
        let night = try #require(london.date(bySettingHour: 1, minute: 0, second: 0, of: epoch.start.addingTimeInterval(86_400)))
        #expect(next.first { $0.0 == "export-items" }?.1 == UTC.iso(night))
    }

    @Test func theForegroundSchedulerRunsJobsOnTheCommandsClock() throws {
        let (dir, config) = try CLI.starter()
        let schedule = dir.appendingPathComponent("schedule.yml").path
        try "timezone: UTC\nentries:\n  - job: export-orders\n    cron: \"5 8 * * *\"\n"
            .write(toFile: schedule, atomically: true, encoding: .utf8)
        let log = dir.appendingPathComponent("scheduler.log").path
        // The clock starts two seconds before the job's minute, on a day years away from the real one.
        let child = try ChildProcess([CLI.binary.path, "schedule", "run", "--config", config, "--schedule", schedule],
                                     outputPath: log,
                                     environment: ["VOXBATCH_NOW": UTC.iso(Epoch.past2019.start.addingTimeInterval(298))])
        var started = false
        for _ in 0..<200 where !started {
            usleep(50_000)
            started = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("run started")
        }
        kill(child.pid, SIGTERM)
        #expect(child.wait() == 0)
        #expect(started, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    @Test func aClockThatCannotBeReadIsAUsageError() throws {
        let (_, config) = try CLI.starter()
        let r = try CLI.run(["status", "--config", config], environment: ["VOXBATCH_NOW": "next tuesday"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("VOXBATCH_NOW=next tuesday is not an ISO 8601 time"))
    }
}
