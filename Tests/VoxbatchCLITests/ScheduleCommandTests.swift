import Foundation
import TestSupport
import Testing

@Suite struct ScheduleCommandTests {
    @Test func nextListsEveryEntryOfTheStandardSchedule() throws {
        let dir = try CLI.temporaryDirectory()
        let config = dir.appendingPathComponent("voxbatch.yml").path
        #expect(try CLI.run(["init", "--config", config]).status == 0)
        let r = try CLI.run(["schedule", "next", "--config", config, "--schedule", "schedules/standard.yml", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["timezone"] as? String == "Europe/London")
        #expect((object["entries"] as? [[String: String]])?.count == 10)
        let missing = try CLI.run(["schedule", "next", "--config", config])
        #expect(missing.status == 2 && missing.stderr.contains("no schedule"))
    }

    @Test func printForKubernetesWritesTheObjectsAndSaysWhatWouldNotWorkInACluster() throws {
        let (_, config) = try CLI.starter()
        let r = try CLI.run(["schedule", "print", "--format", "kubernetes", "--config", config, "--schedule",
                             "schedules/standard.yml", "--image", "registry.example.com/voxbatch:0.1.0"])
        #expect(r.status == 1)  // the starter keeps its state beside the configuration
        #expect(r.stderr.contains("must be under /var/lib/voxbatch/"))
        #expect(r.stdout.components(separatedBy: "kind: CronJob").count - 1 == 10)
        #expect(r.stdout.contains("kind: ConfigMap") && r.stdout.contains("image: \"registry.example.com/voxbatch:0.1.0\""))
    }

    @Test func theForegroundSchedulerStopsCleanlyOnSIGTERM() throws {
        let dir = try CLI.temporaryDirectory()
        let config = dir.appendingPathComponent("voxbatch.yml").path
        #expect(try CLI.run(["init", "--config", config]).status == 0)
        let schedule = dir.appendingPathComponent("schedule.yml").path
        try "entries:\n  - job: export-orders\n    cron: \"* * * * *\"\n".write(toFile: schedule, atomically: true,
                                                                          encoding: .utf8)
        let log = dir.appendingPathComponent("scheduler.log").path
        let child = try ChildProcess([CLI.binary.path, "schedule", "run", "--config", config, "--schedule", schedule],
                                     outputPath: log)
        var started = false
        for _ in 0..<100 where !started {
            usleep(50_000)
            started = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("scheduler started")
        }
        #expect(started)
        kill(child.pid, SIGTERM)
        #expect(child.wait() == 0)
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("scheduler stopped"))
    }
}
