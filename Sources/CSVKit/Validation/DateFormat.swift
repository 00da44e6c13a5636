/// A date or date-time layout such as `dd/MM/yyyy HH:mm`, matched directly on bytes.
///
/// Tokens: `yyyy` year, `MM`/`M` month, `dd`/`d` day, `HH`/`H` hour (24h), `mm` minute, `ss` second,
/// `SSS` fraction of a second (any number of digits), `XXX` a zone (`Z` or `±hh:mm`/`±hhmm`); anything
/// else is literal. The keyword `iso8601` accepts `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm[:ss[.SSS]][zone]`.
/// Values wrapped in single quotes (Peoplevox reports write `'03/07/2017 06:03'`) are accepted.
public struct DateFormat: Sendable, Hashable {
    private enum Token: Sendable, Hashable {
        case year, month(flexible: Bool), day(flexible: Bool), hour(flexible: Bool), minute, second, fraction, zone
        case literal(UInt8)
    }

    /// The pattern as written.
    public let pattern: String
    private let alternatives: [[Token]]

    /// A point in time read from a field.
    public struct Value: Sendable, Hashable {
        public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
        /// The zone offset in seconds east of UTC, if the value carried one.
        public var offsetSeconds: Int?

        /// Seconds since 1970-01-01T00:00:00Z, taking values without a zone as UTC.
        public var epochSeconds: Int {
            // Days from the civil calendar (Howard Hinnant's algorithm).
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yoe = y - era * 400
            let mp = (month + 9) % 12
            let doy = (153 * mp + 2) / 5 + day - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            let days = era * 146_097 + doe - 719_468
            return days * 86_400 + hour * 3_600 + minute * 60 + second - (offsetSeconds ?? 0)
        }
    }

    /// Compiles a pattern.
    public init(_ pattern: String) {
        self.pattern = pattern
        if pattern.lowercased() == "iso8601" {
            alternatives = [
                "yyyy-MM-dd", "yyyy-MM-ddTHH:mm", "yyyy-MM-ddTHH:mmXXX", "yyyy-MM-ddTHH:mm:ss",
                "yyyy-MM-ddTHH:mm:ssXXX", "yyyy-MM-ddTHH:mm:ss.SSS", "yyyy-MM-ddTHH:mm:ss.SSSXXX",
            ].map(DateFormat.tokens)
        } else {
            alternatives = [DateFormat.tokens(pattern)]
        }
    }

    private static func tokens(_ pattern: String) -> [Token] {
        let bytes = Array(pattern.utf8)
        var out: [Token] = []
        var i = 0
        func run(_ c: UInt8) -> Int {
            var n = 0
            while i + n < bytes.count && bytes[i + n] == c { n += 1 }
            return n
        }
        while i < bytes.count {
            let c = bytes[i]
            let n = run(c)
            switch c {
            case UInt8(ascii: "y"): out.append(.year)
            case UInt8(ascii: "M"): out.append(.month(flexible: n == 1))
            case UInt8(ascii: "d"): out.append(.day(flexible: n == 1))
            case UInt8(ascii: "H"): out.append(.hour(flexible: n == 1))
            case UInt8(ascii: "m"): out.append(.minute)
            case UInt8(ascii: "s"): out.append(.second)
            case UInt8(ascii: "S"): out.append(.fraction)
            case UInt8(ascii: "X"): out.append(.zone)
            default:
                out.append(.literal(c))
                i += 1
                continue
            }
            i += n
        }
        return out
    }

    /// Reads a value, or returns `nil` when the bytes do not match or name an impossible date.
    public func parse(_ input: UnsafeBufferPointer<UInt8>) -> Value? {
        var bytes = input
        if bytes.count >= 2 && bytes.first == 0x27 && bytes.last == 0x27 {
            bytes = UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - 1)])
        }
        for tokens in alternatives {
            if let value = DateFormat.match(tokens, bytes) { return value }
        }
        return nil
    }

    /// Reads a value from text.
    public func parse(_ text: String) -> Value? {
        var copy = text
        return copy.withUTF8 { parse($0) }
    }

    private static func match(_ tokens: [Token], _ b: UnsafeBufferPointer<UInt8>) -> Value? {
        var v = Value(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, offsetSeconds: nil)
        var i = 0
        func digits(_ minCount: Int, _ maxCount: Int) -> Int? {
            var n = 0
            var value = 0
            while n < maxCount && i < b.count && b[i] >= 0x30 && b[i] <= 0x39 {
                value = value * 10 + Int(b[i] - 0x30)
                i += 1
                n += 1
            }
            return n >= minCount ? value : nil
        }
        for token in tokens {
            switch token {
            case .year: guard let x = digits(4, 4) else { return nil }; v.year = x
            case .month(let flexible): guard let x = digits(flexible ? 1 : 2, 2) else { return nil }; v.month = x
            case .day(let flexible): guard let x = digits(flexible ? 1 : 2, 2) else { return nil }; v.day = x
            case .hour(let flexible): guard let x = digits(flexible ? 1 : 2, 2) else { return nil }; v.hour = x
            case .minute: guard let x = digits(2, 2) else { return nil }; v.minute = x
            case .second: guard let x = digits(2, 2) else { return nil }; v.second = x
            case .fraction: guard digits(1, 9) != nil else { return nil }
            case .zone:
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: "Z") {
                    v.offsetSeconds = 0
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let hh = digits(2, 2) else { return nil }
                    if i < b.count && b[i] == UInt8(ascii: ":") { i += 1 }
                    guard let mm = digits(2, 2), hh <= 14, mm < 60 else { return nil }
                    v.offsetSeconds = sign * (hh * 3600 + mm * 60)
                } else {
                    return nil
                }
            case .literal(let c):
                guard i < b.count, b[i] == c else { return nil }
                i += 1
            }
        }
        guard i == b.count else { return nil }
        guard (1...12).contains(v.month), v.day >= 1, v.day <= daysIn(month: v.month, year: v.year),
              v.hour <= 23, v.minute <= 59, v.second <= 60 else { return nil }
        return v
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension DateFormat.Value {
    /// The UTC time `epochSeconds` seconds after 1970-01-01T00:00:00Z: the inverse of ``epochSeconds``.
    ///
    /// Computed from the civil calendar (Howard Hinnant's `civil_from_days`), without a calendar object: the
    /// jobs stamp times all day long, and Foundation's calendars and formatters go through ICU, whose tables
    /// cost a run about 6 MiB of memory the moment one is opened.
    public init(epochSeconds: Int) {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400  // rounded down
        let second = epochSeconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (month <= 2 ? 1 : 0), month: month, day: doy - (153 * mp + 2) / 5 + 1,
                  hour: second / 3_600, minute: second % 3_600 / 60, second: second % 60, offsetSeconds: 0)
    }

    /// The time as ISO 8601 in UTC, to the second: `2026-11-30T08:15:00Z` (an offset the value carries is
    /// applied first).
    public var iso8601: String { utc.formatted(dateSeparator: 0x2D, timeSeparator: 0x3A) }  // - and :

    /// The time as file names carry it, in UTC: `20261130T081500Z`.
    public var compactISO8601: String { utc.formatted(dateSeparator: nil, timeSeparator: nil) }

    private var utc: DateFormat.Value {
        offsetSeconds == nil || offsetSeconds == 0 ? self : DateFormat.Value(epochSeconds: epochSeconds)
    }

    private func formatted(dateSeparator: UInt8?, timeSeparator: UInt8?) -> String {
        // Written digit by digit (the journals stamp every package): no string is made per part.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int, after separator: UInt8? = nil) {
            if let separator { bytes.append(separator) }
            if value < 0 { bytes.append(0x2D) }
            var magnitude = value.magnitude, count = 1
            while magnitude >= 10 { magnitude /= 10; count += 1 }
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0x30, count: max(count, width)))
            magnitude = value.magnitude
            for i in stride(from: bytes.count - 1, through: start, by: -1) where magnitude > 0 {
                bytes[i] = 0x30 + UInt8(magnitude % 10)
                magnitude /= 10
            }
        }
        digits(year, 4)
        digits(month, 2, after: dateSeparator)
        digits(day, 2, after: dateSeparator)
        digits(hour, 2, after: 0x54)  // T
        digits(minute, 2, after: timeSeparator)
        digits(second, 2, after: timeSeparator)
        bytes.append(0x5A)  // Z
        return String(decoding: bytes, as: UTF8.self)
    }
}
