import CSVKit
import Foundation

/// A standard five-field cron expression: minute, hour, day of month, month, day of week.
///
/// Fields take `*`, numbers, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `0-30/10`) and names
/// (`JAN`–`DEC`, `SUN`–`SAT`; Sunday is 0 or 7); the macros `@yearly`, `@annually`, `@monthly`, `@weekly`,
/// `@daily`, `@midnight` and `@hourly` stand for their usual expressions. As in Vixie cron, when both
/// day of month and day of week are restricted, a day matching either runs.
///
/// Times are wall-clock times in a time zone, and daylight-saving changes are handled the way people
/// expect (as Vixie cron does): a run due in the hour that is skipped in spring happens once, right after
/// the change; a run at a fixed hour in the hour that repeats in autumn happens once, the first time
/// round, while jobs with a wildcard hour (every 15 minutes, hourly) keep running every real hour.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text it was parsed from.
    public let description: String
    let minutes: UInt64   // bit i: minute i
    let hours: UInt32
    let days: UInt32      // bit 1...31
    let months: UInt16    // bit 1...12
    let weekdays: UInt8   // bit 0...6, Sunday 0
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    /// The fields as written (after macro expansion), for converting to other schedulers.
    public let fields: [String]

    static let macros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                         "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                         "@hourly": "0 * * * *"]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses `text`.
    ///
    /// - Throws: ``CronError`` naming the field and what is wrong with it.
    public init(_ text: String) throws {
        description = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        if expanded.hasPrefix("@") { throw CronError(expression: text, message: "unknown macro \(trimmed)") }
        let parts = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw CronError(expression: text, message: "expected 5 fields (minute hour day month weekday), found \(parts.count)")
        }
        fields = parts
        minutes = UInt64(try Self.parse(parts[0], name: "minute", range: 0...59, names: [], expression: text))
        hours = UInt32(try Self.parse(parts[1], name: "hour", range: 0...23, names: [], expression: text))
        days = UInt32(try Self.parse(parts[2], name: "day of month", range: 1...31, names: [], expression: text))
        months = UInt16(try Self.parse(parts[3], name: "month", range: 1...12, names: Self.monthNames, nameBase: 1,
                                       expression: text))
        var dow = try Self.parse(parts[4], name: "day of week", range: 0...7, names: Self.dayNames, expression: text)
        if dow & (1 << 7) != 0 { dow = (dow | 1) & ~(1 << 7) }  // 7 is Sunday too
        weekdays = UInt8(dow)
        dayOfMonthRestricted = parts[2] != "*" && !parts[2].hasPrefix("*/")
        dayOfWeekRestricted = parts[4] != "*" && !parts[4].hasPrefix("*/")
    }

    private static func parse(_ field: String, name: String, range: ClosedRange<Int>, names: [String],
                              nameBase: Int = 0, expression: String) throws -> UInt64 {
        func value(_ text: String) throws -> Int {
            if let n = Int(text) {
                guard range.contains(n) else {
                    throw CronError(expression: expression, message: "\(name) \(n) is outside \(range.lowerBound)-\(range.upperBound)")
                }
                return n
            }
            if let i = names.firstIndex(of: text.uppercased()) { return i + nameBase }
            throw CronError(expression: expression, message: "\(name) \"\(text)\" is not a number"
                            + (names.isEmpty ? "" : " or a name (\(names.first!)...)"))
        }
        var bits: UInt64 = 0
        for item in field.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty else { throw CronError(expression: expression, message: "empty item in \(name)") }
            var base = item
            var step = 1
            if let slash = item.firstIndex(of: "/") {
                base = String(item[..<slash])
                guard let s = Int(item[item.index(after: slash)...]), s > 0 else {
                    throw CronError(expression: expression, message: "\(name) step in \"\(item)\" must be a positive number")
                }
                step = s
            }
            var low: Int, high: Int
            if base == "*" {
                low = range.lowerBound
                high = range.upperBound == 7 ? 6 : range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(String(base[..<dash]))
                high = try value(String(base[base.index(after: dash)...]))
                guard low <= high else {
                    throw CronError(expression: expression, message: "\(name) range \"\(base)\" runs backwards")
                }
            } else {
                low = try value(base)
                high = item.contains("/") ? (range.upperBound == 7 ? 6 : range.upperBound) : low
            }
            for v in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(v) }
        }
        return bits
    }

    /// Whether the wall-clock minute matches.
    public func matches(minute: Int, hour: Int, day: Int, month: Int, weekday: Int) -> Bool {
        guard minutes & (1 << UInt64(minute)) != 0, hours & (1 << UInt32(hour)) != 0,
              months & (1 << UInt16(month)) != 0 else { return false }
        return dayMatches(day: day, weekday: weekday)
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        let dom = days & (1 << UInt32(day)) != 0
        let dow = weekdays & (1 << UInt8(weekday)) != 0
        if dayOfMonthRestricted && dayOfWeekRestricted { return dom || dow }
        return dom && dow
    }

    /// The first run strictly after `date`, in `timeZone` (within the next five years).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var t = (Int(date.timeIntervalSince1970) / 60 + 1) * 60  // the next whole minute
        let end = t + 5 * 366 * 86_400
        while t < end {
            let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t)))
            let wall = WallTime(t + offset)
            guard months & (1 << UInt16(wall.month)) != 0, dayMatches(day: wall.day, weekday: wall.weekday) else {
                t = Self.advance(t, wallSeconds: 86_400 - (wall.hour * 3600 + wall.minute * 60), offset: offset,
                                 timeZone: timeZone)  // the next local midnight
                continue
            }
            guard hours & (1 << UInt32(wall.hour)) != 0 else {
                // A spring-forward gap may hide a due time: check the minutes the clock jumped over.
                if let gapRun = runInGap(endingAt: t, timeZone: timeZone) { return gapRun }
                t = Self.advance(t, wallSeconds: 3600 - wall.minute * 60, offset: offset, timeZone: timeZone)
                continue
            }
            if minutes & (1 << UInt64(wall.minute)) != 0 {
                // Like Vixie cron: a job with a wildcard hour runs every real hour, both passes of a repeated one.
                if fields[1].hasPrefix("*") || !isRepeatedWallTime(t, offset: offset, timeZone: timeZone) {
                    return Date(timeIntervalSince1970: Double(t))
                }
            } else if let gapRun = runInGap(endingAt: t, timeZone: timeZone) {
                return gapRun
            }
            t += 60
        }
        return nil
    }

    /// The instant `wallSeconds` of wall-clock time after `t`, corrected when a daylight-saving change lies
    /// in between (so a jump to "the next midnight" lands on midnight, not an hour off).
    static func advance(_ t: Int, wallSeconds: Int, offset: Int, timeZone: TimeZone) -> Int {
        let target = t + wallSeconds
        let delta = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(target))) - offset
        let corrected = target - delta
        return corrected > t ? corrected : target
    }

    /// Whether the wall-clock time at `t` already happened earlier (the second pass of an autumn hour).
    private func isRepeatedWallTime(_ t: Int, offset: Int, timeZone: TimeZone) -> Bool {
        let earlierOffset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t - 3 * 3600)))
        let shift = earlierOffset - offset
        guard shift > 0 else { return false }
        let u = t - shift
        return timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(u))) == earlierOffset
    }

    /// If the clock jumped forward just before `t`, the first instant after the jump runs the jobs due in
    /// the skipped minutes (once).
    private func runInGap(endingAt t: Int, timeZone: TimeZone) -> Date? {
        let before = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t - 60)))
        let now = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t)))
        guard now > before else { return nil }
        // Wall times from (t - 60 + before) + 1 min up to (t + now) - 1 min never happened.
        var skipped = t - 60 + before + 60
        while skipped < t + now {
            let wall = WallTime(skipped)
            if matches(minute: wall.minute, hour: wall.hour, day: wall.day, month: wall.month, weekday: wall.weekday) {
                return Date(timeIntervalSince1970: Double(t))
            }
            skipped += 60
        }
        return nil
    }
}

/// A wall-clock time from seconds since 1970 in local terms (the offset already added).
struct WallTime {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int, weekday: Int

    init(_ localSeconds: Int) {
        let civil = DateFormat.Value(epochSeconds: localSeconds)
        (year, month, day, hour, minute) = (civil.year, civil.month, civil.day, civil.hour, civil.minute)
        let days = localSeconds >= 0 ? localSeconds / 86_400 : (localSeconds - 86_399) / 86_400
        weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
    }
}

/// A cron expression that cannot be used.
public struct CronError: Error, CustomStringConvertible, Sendable, Hashable {
    public var expression: String
    public var message: String
    public var description: String { "cron \"\(expression)\": \(message)" }
}
