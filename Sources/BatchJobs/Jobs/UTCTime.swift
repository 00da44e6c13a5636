import CSVKit
import Foundation

/// Times as voxbatch writes and reads them: ISO 8601 in UTC, to the second (`2026-11-30T08:15:00Z`).
///
/// Made from the civil calendar (CSVKit's ``DateFormat``), not with Foundation's `ISO8601DateFormatter` or
/// `Calendar`: on Linux those open ICU, whose code and tables cost every run about 6 MiB of memory from the
/// first use (a 1,000-row stock import peaked at 44 MiB, of which ICU was 6.5), and every job stamps times.
public enum UTCTime {
    private static let iso = DateFormat("iso8601")

    /// `date` as `2026-11-30T08:15:00Z` (fractions of a second are dropped, as `ISO8601DateFormatter` does).
    public static func iso8601(_ date: Date) -> String { parts(date).iso8601 }

    /// `date` as file names carry it: `20261130T081500Z`.
    public static func compact(_ date: Date) -> String { parts(date).compactISO8601 }

    /// The UTC day of `date`: `2026-11-30`.
    public static func day(_ date: Date) -> String { String(iso8601(date).prefix(10)) }

    /// The UTC calendar fields of `date` (to the second).
    public static func parts(_ date: Date) -> DateFormat.Value {
        DateFormat.Value(epochSeconds: Int(date.timeIntervalSince1970.rounded(.down)))
    }

    /// Reads `2026-11-30T08:15:00Z`, with an offset (`+01:00`) or fractions of a second (dropped); a time
    /// without a zone is taken as UTC. Nil when `text` is not such a time.
    public static func date(iso8601 text: String) -> Date? {
        epochSeconds(iso8601: text).map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// Like ``date(iso8601:)``, as seconds since 1970.
    public static func epochSeconds(iso8601 text: String) -> Int64? {
        iso.parse(text).map { Int64($0.epochSeconds) }
    }
}
