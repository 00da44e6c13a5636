@testable import BatchJobs
import Foundation
import Testing

@Suite struct CronTests {
    let utc = TimeZone(identifier: "UTC")!
    let london = TimeZone(identifier: "Europe/London")!

    /// Parses "yyyy-MM-dd HH:mm" as a wall-clock time in `zone` (an unambiguous one).
    func at(_ text: String, _ zone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let p = text.split(whereSeparator: { "- :".contains($0) }).map { Int($0)! }
        return calendar.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: p[3], minute: p[4]))!
    }

    func utcText(_ date: Date?) -> String {
        guard let date else { return "never" }
        let f = DateFormatter()
        f.timeZone = utc
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: date) + "Z"
    }

    func next(_ cron: String, after: String, _ zone: TimeZone) throws -> String {
        utcText(try CronExpression(cron).next(after: at(after, zone), in: zone))
    }

    @Test(arguments: [
        ("*/5 * * * *", "2026-11-30 10:02", "2026-11-30 10:05Z"),
        ("*/5 * * * *", "2026-11-30 10:05", "2026-11-30 10:10Z"),  // strictly after
        ("0 * * * *", "2026-11-30 23:30", "2026-12-01 00:00Z"),
        ("30 2 * * *", "2026-11-30 03:00", "2026-12-01 02:30Z"),
        ("0 9 * * MON-FRI", "2026-12-04 10:00", "2026-12-07 09:00Z"),  // Friday → Monday
        ("0 0 1 JAN *", "2026-11-30 00:00", "2027-01-01 00:00Z"),
        ("0 0 29 2 *", "2026-11-30 00:00", "2028-02-29 00:00Z"),  // the next leap day
        ("15,45 8-9 * * *", "2026-11-30 08:20", "2026-11-30 08:45Z"),
        ("0-30/10 12 * * *", "2026-11-30 12:21", "2026-11-30 12:30Z"),
        ("0 12 13 * 5", "2026-11-30 00:00", "2026-12-04 12:00Z"),  // day 13 OR a Friday (Vixie rule)
        ("0 0 * * 7", "2026-11-30 00:00", "2026-12-06 00:00Z"),  // 7 is Sunday
        ("@hourly", "2026-11-30 10:59", "2026-11-30 11:00Z"),
        ("@weekly", "2026-11-30 10:00", "2026-12-06 00:00Z"),
        ("@monthly", "2026-11-30 10:00", "2026-12-01 00:00Z"),
    ])
    func knownCasesInUTC(_ cron: String, _ after: String, _ expected: String) throws {
        #expect(try next(cron, after: after, utc) == expected)
    }

    @Test func wallClockTimesFollowTheTimeZone() throws {
        // 09:00 in London is 09:00Z in winter and 08:00Z in summer.
        #expect(try next("0 9 * * *", after: "2026-11-30 10:00", london) == "2026-12-01 09:00Z")
        #expect(try next("0 9 * * *", after: "2026-06-01 10:00", london) == "2026-06-02 08:00Z")
    }

    @Test func aRunDueInTheSkippedSpringHourHappensOnceAfterTheChange() throws {
        // 29 March 2026: London clocks go from 01:00 GMT to 02:00 BST; 01:30 never happens.
        let cron = try CronExpression("30 1 * * *")
        let first = cron.next(after: at("2026-03-29 00:10", utc), in: london)
        #expect(utcText(first) == "2026-03-29 01:00Z")  // 02:00 BST, right after the jump
        #expect(utcText(cron.next(after: first!, in: london)) == "2026-03-30 00:30Z")  // 01:30 BST next day
        // Jobs every 15 minutes simply continue after the jump.
        #expect(try next("*/15 * * * *", after: "2026-03-29 00:50", utc).hasPrefix("2026-03-29 01:00Z"))
    }

    @Test func aRunDueInTheRepeatedAutumnHourHappensOnlyOnce() throws {
        // 25 October 2026: London clocks go back from 02:00 BST to 01:00 GMT; 01:30 happens twice.
        let cron = try CronExpression("30 1 * * *")
        let first = cron.next(after: at("2026-10-24 23:00", utc), in: london)
        #expect(utcText(first) == "2026-10-25 00:30Z")  // 01:30 BST, the first time round
        #expect(utcText(cron.next(after: first!, in: london)) == "2026-10-26 01:30Z")  // not 01:30 GMT that day
        // An hourly job runs in both passes of the hour: they are different hours of real time.
        let hourly = try CronExpression("0 * * * *")
        let a = hourly.next(after: at("2026-10-24 23:30", utc), in: london)!
        let b = hourly.next(after: a, in: london)!
        #expect(utcText(a) == "2026-10-25 00:00Z" && utcText(b) == "2026-10-25 01:00Z")
    }

    @Test(arguments: ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *",
                      "5-1 * * * *", "* * * FOO *", "@fortnightly", "1,,2 * * * *"])
    func badExpressionsAreRefusedWithAReason(_ text: String) {
        #expect(throws: CronError.self) { try CronExpression(text) }
    }
}
