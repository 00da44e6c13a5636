import Foundation

/// The days the suites whose results depend on time run on, each test once per day: far in the past, the
/// fixtures' own day, a day of the week before the real date, and far in the future (past 2038-01-19,
/// where a 32-bit `time_t` ends).
///
/// A test pins its clock to the day's 08:00 UTC and builds every date in its files from it, so its
/// results must be the same on every day. A wall-clock read anywhere on the paths it runs (a default of
/// `Date()`, a file's real modification time taken for the job's time) is years away from the past and
/// future days, and makes one of them fail whatever the real date is. All four are Mondays, so that a
/// difference between them comes from a leak, never from the weekday.
public enum Epoch: String, CaseIterable, Sendable, CustomStringConvertible {
    case past2019
    case fixtureDay
    case lastWeek
    case future2038

    /// 08:00 UTC on the day.
    public var start: Date {
        switch self {
        case .past2019: return Date(timeIntervalSince1970: 1_559_548_800)  // Mon 2019-06-03 08:00 UTC
        case .fixtureDay: return Date(timeIntervalSince1970: 1_796_025_600)  // Mon 2026-11-30 08:00 UTC
        case .future2038: return Date(timeIntervalSince1970: 2_151_043_200)  // Mon 2038-03-01 08:00 UTC
        case .lastWeek:
            // The Monday of the week before the real one: near the present, always past. (This reads
            // the real date only to choose a day; the test then runs on its own pinned clock.)
            let week = 7 * 86_400.0, monday0800 = 4 * 86_400.0 + 8 * 3600  // 1970-01-05 was a Monday
            let now = Date().timeIntervalSince1970
            return Date(timeIntervalSince1970: ((now - monday0800) / week).rounded(.down) * week + monday0800 - week)
        }
    }

    public var description: String { "\(rawValue) (\(UTC.format(start, "yyyy-MM-dd")))" }
}

/// Dates written as UTC text in the formats the fixtures' files use.
public enum UTC {
    /// `date` in `pattern` (`dd/MM/yyyy HH:mm`, `yyyyMMdd'T'HHmm`, ...), in UTC.
    public static func format(_ date: Date, _ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
        return formatter.string(from: date)
    }

    /// `date` as ISO 8601 (`2026-11-30T08:00:00Z`).
    public static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
