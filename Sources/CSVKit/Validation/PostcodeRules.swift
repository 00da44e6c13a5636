/// Postcode shapes by country, for the countries a UK/EU warehouse ships to most.
///
/// A shape uses `A` for a letter, `9` for a digit and `X` for either; spaces and hyphens are ignored on both sides, so
/// `SW1A 1AA`, `sw1a1aa` and `SW1A-1AA` all match `AA9A9AA`. Countries without a rule accept any
/// non-blank value.
public enum PostcodeRules {
    /// Shapes per ISO 3166-1 alpha-2 code.
    public static let shapes: [String: [String]] = [
        "GB": ["A99AA", "A999AA", "AA99AA", "AA999AA", "A9A9AA", "AA9A9AA", "GIR0AA"],
        "US": ["99999", "999999999"],
        "DE": ["99999"], "FR": ["99999"], "IT": ["99999"], "ES": ["99999"], "FI": ["99999"],
        "SE": ["99999"], "PL": ["99999"], "CZ": ["99999"], "GR": ["99999"], "HR": ["99999"],
        "NL": ["9999AA"], "BE": ["9999"], "AT": ["9999"], "CH": ["9999"], "DK": ["9999"],
        "NO": ["9999"], "AU": ["9999"], "NZ": ["9999"], "HU": ["9999"], "LU": ["9999"],
        "PT": ["9999999"], "CA": ["A9A9A9"], "IE": ["A99XXXX", "D6WXXXX"],
        "JE": ["AA99AA", "AA999AA"], "GG": ["AA99AA", "AA999AA"], "IM": ["AA99AA", "AA999AA"],
    ]

    /// Country names people write instead of the ISO code.
    static let aliases: [String: String] = [
        "UK": "GB", "UNITEDKINGDOM": "GB", "GREATBRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB", "WALES": "GB",
        "NORTHERNIRELAND": "GB", "GBR": "GB", "USA": "US", "UNITEDSTATES": "US", "DEU": "DE", "GERMANY": "DE",
        "FRANCE": "FR", "FRA": "FR", "NETHERLANDS": "NL", "NLD": "NL", "IRELAND": "IE", "IRL": "IE",
        "SPAIN": "ES", "ITALY": "IT", "SWEDEN": "SE", "DENMARK": "DK", "NORWAY": "NO", "BELGIUM": "BE",
        "AUSTRIA": "AT", "SWITZERLAND": "CH", "CANADA": "CA", "AUSTRALIA": "AU",
    ]

    /// The ISO code for a country as written in a file, upper-cased and without spaces.
    public static func countryCode(_ country: String) -> String {
        // Most values are already a code or a name in capitals (`GB`, `UK`): looked up as they are, without
        // making an upper-cased copy.
        let plain = country.utf8.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        let key = plain ? country : String(country.uppercased().filter { $0 != " " && $0 != "." })
        return aliases[key] ?? key
    }

    /// Whether `postcode` fits the rule of `country`.
    ///
    /// - Returns: `nil` when there is no rule for the country (the value is accepted), otherwise the
    ///   verdict.
    public static func isValid(_ postcode: UnsafeBufferPointer<UInt8>, country: String) -> Bool? {
        guard let patterns = shapeBytes[countryCode(country)] else { return nil }
        return matches(postcode, shapes: patterns)
    }

    /// ``shapes`` as bytes, made once.
    static let shapeBytes: [String: [[UInt8]]] = shapes.mapValues { $0.map { Array($0.utf8) } }

    /// Whether `postcode` (spaces and hyphens ignored, any case) fits one of `shapes`.
    static func matches(_ postcode: UnsafeBufferPointer<UInt8>, shapes: [[UInt8]]) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { normalized in
            var n = 0
            for b in postcode where b != 0x20 && b != UInt8(ascii: "-") {
                guard n < 16 else { return false }
                normalized[n] = b >= 0x61 && b <= 0x7A ? b - 0x20 : b
                n += 1
            }
            return shapes.contains { s in
                guard s.count == n else { return false }
                for k in 0..<n {
                    let c = normalized[k]
                    switch s[k] {
                    case UInt8(ascii: "A"): if !(c >= 0x41 && c <= 0x5A) { return false }
                    case UInt8(ascii: "9"): if !(c >= 0x30 && c <= 0x39) { return false }
                    case UInt8(ascii: "X"): if !(c >= 0x41 && c <= 0x5A) && !(c >= 0x30 && c <= 0x39) { return false }
                    default: if s[k] != c { return false }
                    }
                }
                return true
            }
        }
    }
}

/// Remembers the shapes of the countries seen so far, keyed by the country field's bytes, so checking a
/// postcode allocates nothing after the first row of each country.
struct PostcodeShapeCache {
    private var cache: [[UInt8]: [[UInt8]]?] = [:]
    private var lastKey: [UInt8] = []
    private var lastShapes: [[UInt8]]?

    mutating func shapes(forCountry country: UnsafeBufferPointer<UInt8>) -> [[UInt8]]? {
        if country.elementsEqual(lastKey) { return lastShapes }
        let key = Array(country)
        let shapes: [[UInt8]]?
        if let cached = cache[key] {
            shapes = cached
        } else {
            shapes = PostcodeRules.shapes[PostcodeRules.countryCode(String(decoding: country, as: UTF8.self))]?
                .map { Array($0.utf8) }
            if cache.count < 1000 { cache[key] = shapes }
        }
        lastKey = key
        lastShapes = shapes
        return shapes
    }
}
