@testable import BatchJobs
import Foundation
import TestSupport
import Testing

@Suite struct ScheduleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(arguments: ["standard.yml", "marker-files-weekdays.yml"], Epoch.allCases)
    func theExampleSchedulesLoad(_ name: String, epoch: Epoch) throws {
        let schedule = try Schedule.load(path: Self.root.appendingPathComponent("schedules/" + name).path)
        #expect(schedule.timeZone.identifier == "Europe/London")
        #expect(schedule.entries.count >= 8)
        // Every entry runs within the week after the time it is asked from, whatever that time is.
        for (entry, at) in schedule.nextRuns(after: epoch.start) {
            let next = try #require(at, "\(entry.name) never runs")
            #expect(next > epoch.start && next.timeIntervalSince(epoch.start) <= 7 * 86_400, "\(entry.name): \(next)")
        }
    }

    @Test func problemsAreReportedWithTheirPath() {
        let yaml = """
            timezone: Mars/Olympus
            entries:
              - job: export-ordrs
                cron: "*/5 * * * *"
              - job: import-stock
                cron: "61 * * * *"
              - job: export-orders
                cron: "@daily"
                full: true
            """
        #expect {
            try Schedule.parse(yaml: yaml)
        } throws: { error in
            let problems = (error as? ConfigError)?.problems.map(\.path) ?? []
            return problems == ["timezone", "entries[0].job", "entries[1].cron", "entries[2].full"]
        }
    }

    @Test func crontabAndSystemdOutputRunEachJobWithItsLock() throws {
        let schedule = try Schedule.parse(yaml: """
            timezone: Europe/London
            entries:
              - job: export-orders
                cron: "*/5 * * * *"
              - job: import-stock
                cron: "30 2 * * MON-FRI"
                full: true
                jitter: 60
            """)
        let crontab = schedule.crontab(executable: "/usr/local/bin/voxbatch", configPath: "/etc/voxbatch/acme.yml",
                                       logPath: "/var/log/voxbatch.log")
        let lines = crontab.split(separator: "\n")
        #expect(lines.contains("CRON_TZ=Europe/London"))
        #expect(lines.contains("*/5 * * * *  /usr/local/bin/voxbatch run export-orders --config /etc/voxbatch/acme.yml >> /var/log/voxbatch.log 2>&1"))
        #expect(lines.contains { $0.hasPrefix("30 2 * * MON-FRI  sleep $(( $(od") && $0.contains("\\% 60")
                                 && $0.hasSuffix("run import-stock --full --config /etc/voxbatch/acme.yml >> /var/log/voxbatch.log 2>&1") })
        let units = schedule.systemdUnits(executable: "/usr/local/bin/voxbatch", configPath: "/etc/voxbatch/acme.yml")
        #expect(units.map(\.name) == ["voxbatch-export-orders.service", "voxbatch-export-orders.timer",
                                      "voxbatch-import-stock-full.service", "voxbatch-import-stock-full.timer"])
        #expect(units[1].contents.contains("OnCalendar=*-*-* *:00/5:00 Europe/London"))
        #expect(units[3].contents.contains("OnCalendar=Mon..Fri *-*-* 02:30:00 Europe/London"))
        #expect(units[3].contents.contains("RandomizedDelaySec=60"))
        #expect(units[2].contents.contains("ExecStart=/usr/local/bin/voxbatch run import-stock --full --config /etc/voxbatch/acme.yml"))
    }
}

/// A run the test finishes by hand.
final class FakeRun: ScheduledRun {
    var status: Int32?
    var stopRequested = false
    func poll() -> Int32? { status }
    func requestStop() { stopRequested = true }
}

@Suite struct SchedulerTests {
    @Test(arguments: Epoch.allCases)
    func dueJobsStartOnTimeNeverOverlapThemselvesAndFailuresDoNotStopTheRest(epoch: Epoch) throws {
        let schedule = try Schedule.parse(yaml: """
            entries:
              - job: export-orders
                cron: "*/5 * * * *"
              - job: import-stock
                cron: "*/15 * * * *"
            """)
        var runs: [String: [FakeRun]] = [:]
        let scheduler = Scheduler(schedule: schedule, randomDelay: { _ in 0 }) { entry in
            let run = FakeRun()
            runs[entry.name, default: []].append(run)
            return run
        }
        let t0 = epoch.start  // 08:00 UTC
        scheduler.start(now: t0)
        #expect(scheduler.step(now: t0.addingTimeInterval(60)).isEmpty)  // nothing due at 08:01
        #expect(scheduler.step(now: t0.addingTimeInterval(300)) == [.started("export-orders")])
        // 08:10: the 08:05 orders run is still going: not started twice.
        #expect(scheduler.step(now: t0.addingTimeInterval(600)) == [.skippedStillRunning("export-orders")])
        runs["export-orders"]![0].status = 3  // it failed
        let at15 = scheduler.step(now: t0.addingTimeInterval(900))
        #expect(at15 == [.finished("export-orders", status: 3), .started("export-orders"), .started("import-stock")])
        scheduler.stopRunning()
        #expect(runs.values.flatMap { $0 }.filter(\.stopRequested).count == 2)
        #expect(!scheduler.isIdle)
    }
}
