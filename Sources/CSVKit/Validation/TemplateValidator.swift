/// Checks records against a ``CSVTemplate`` bound to a file's header.
///
/// Binding resolves each column's position once; checking a record then works on the field bytes
/// directly and allocates only when it finds a problem (or to remember unique keys).
public final class TemplateValidator {
    /// The template being enforced.
    public let template: CSVTemplate
    /// Problems with the file as a whole, found when binding to the header.
    public let fileErrors: [FileError]
    private let checks: [BoundColumn]
    private let rules: [ColumnRule]
    private let dateFormats: [[DateFormat]]
    private let enumValues: [[[UInt8]]]
    private let uniqueIndexes: [Int]
    /// Unique keys seen so far, as 64-bit hashes (12 bytes a slot however long the key is, so a
    /// million-row file would cost 24 MiB here: a large file is checked by ``DuplicateKeys`` instead); two
    /// different keys share a hash with a probability of about n²/2⁶⁵.
    private var seenKeys = KeyTable()
    /// The file's repeating keys, found by a first pass (a large file): then no key is remembered here.
    private let duplicates: DuplicateKeys?
    private var postcodeShapes = PostcodeShapeCache()

    /// A bound column holds only plain values, so walking the columns of every row costs no reference
    /// counting; text-bearing rule data lives in side tables addressed by index.
    private struct BoundColumn {
        let rule: Int
        let index: Int
        let required: Bool
        let maxLength: Int
        let check: Check
    }

    private enum Check {
        case none
        case integer(min: Int, max: Int)
        case decimal(scale: Int, min: Double)
        case date(table: Int)
        case email
        case boolean
        case enumeration(table: Int, caseSensitive: Bool)
        case postcode(countryIndex: Int)
    }

    /// Binds `template` to the columns of `header`.
    ///
    /// Missing columns that are required become ``fileErrors``; missing optional columns are skipped.
    /// With `duplicates` (a first pass's findings over the same file), a record's key is checked against the
    /// file's repeating keys alone instead of being remembered.
    public init(template: CSVTemplate, header: CSVHeader, duplicates: DuplicateKeys? = nil) {
        self.template = template
        self.duplicates = duplicates
        var fileErrors: [FileError] = []
        var checks: [BoundColumn] = []
        var rules: [ColumnRule] = []
        var dateFormats: [[DateFormat]] = []
        var enumValues: [[[UInt8]]] = []
        for duplicate in Set(header.duplicateNames) {
            fileErrors.append(FileError(column: duplicate, rule: "duplicate-column",
                                        message: "column \"\(duplicate)\" appears more than once in the header"))
        }
        func position(_ rule: ColumnRule) -> Int? { template.position(of: rule.name, in: header) }
        for rule in template.columns {
            guard let index = position(rule) else {
                if rule.required {
                    fileErrors.append(FileError(column: rule.name, rule: "missing-column",
                                                message: "required column \"\(rule.name)\" is missing from the header"))
                }
                continue
            }
            let check: Check
            switch rule.type {
            case .text: check = .none
            case .integer(let min, let max): check = .integer(min: min ?? .min, max: max ?? .max)
            case .decimal(let scale, let min): check = .decimal(scale: scale, min: min ?? -.infinity)
            case .date(let formats):
                dateFormats.append(formats.map(DateFormat.init))
                check = .date(table: dateFormats.count - 1)
            case .email: check = .email
            case .boolean: check = .boolean
            case .enumeration(let values, let caseSensitive):
                enumValues.append(values.map { Array((caseSensitive ? $0 : $0.lowercased()).utf8) })
                check = .enumeration(table: enumValues.count - 1, caseSensitive: caseSensitive)
            case .postcode(let countryColumn):
                check = .postcode(countryIndex: countryColumn.flatMap(header.index(of:)) ?? -1)
            }
            rules.append(rule)
            checks.append(BoundColumn(rule: rules.count - 1, index: index, required: rule.required,
                                      maxLength: rule.maxLength ?? .max, check: check))
        }
        if template.rejectsUnknownColumns {
            let known = Set(template.columns.flatMap { [$0.name] + $0.aliases }.map(CSVHeader.normalize))
            for name in header.names where !known.contains(CSVHeader.normalize(name)) {
                fileErrors.append(FileError(column: name, rule: "unknown-column",
                                            message: "column \"\(name)\" is not part of template \(template.name)"))
            }
        }
        // A key names a template column (found by its name or aliases) or, failing that, a header column.
        func keyIndex(_ key: String) -> Int? { template.position(of: key, in: header) }
        self.uniqueIndexes = template.uniqueKey.compactMap(keyIndex)
        if uniqueIndexes.count != template.uniqueKey.count {
            for key in template.uniqueKey where keyIndex(key) == nil && !fileErrors.contains(where: { $0.column == key }) {
                fileErrors.append(FileError(column: key, rule: "missing-column",
                                            message: "unique-key column \"\(key)\" is missing from the header"))
            }
        }
        self.checks = checks
        self.rules = rules
        self.dateFormats = dateFormats
        self.enumValues = enumValues
        self.fileErrors = fileErrors
    }

    /// Checks the reader's current record.
    ///
    /// - Parameters:
    ///   - reader: A reader positioned on a record.
    ///   - errors: Receives one entry per broken rule.
    public func validate(_ reader: CSVReader, into errors: inout [FieldError]) {
        validate(fieldCount: reader.fieldCount, recordNumber: reader.recordNumber, into: &errors) {
            reader.fieldBytes($0)
        }
    }

    /// Forgets the unique keys seen so far: the next records are checked for uniqueness among themselves
    /// only. A writer that validates record by record (an order and its lines) calls it between records
    /// whose keys cannot collide, so the check costs nothing that grows with the file.
    public func forgetSeenKeys() {
        seenKeys.removeAll()
    }

    /// Checks a record given as strings (for records built in code before they are written).
    public func validate(fields: [String], recordNumber: Int, into errors: inout [FieldError]) {
        var flat: [UInt8] = []
        var ranges: [Range<Int>] = []
        for text in fields {
            let start = flat.count
            flat.append(contentsOf: text.utf8)
            ranges.append(start..<flat.count)
        }
        flat.withUnsafeBufferPointer { all in
            validate(fieldCount: fields.count, recordNumber: recordNumber, into: &errors) { i in
                UnsafeBufferPointer(rebasing: all[ranges[i]])
            }
        }
    }

    /// Checks a record of packed fields (``PackedSeparators``): the first starts at `start` in `bytes`, each ends at
    /// its offset in `fieldEnds`, and the next starts just past it.
    public func validate(bytes: UnsafeBufferPointer<UInt8>, start: Int, fieldEnds: UnsafeBufferPointer<Int32>,
                         recordNumber: Int, into errors: inout [FieldError]) {
        validate(fieldCount: fieldEnds.count, recordNumber: recordNumber, into: &errors) { i in
            let from = i == 0 ? start : Int(fieldEnds[i - 1]) + 1
            return UnsafeBufferPointer(rebasing: bytes[from..<Int(fieldEnds[i])])
        }
    }

    @inline(__always)
    private func validate(
        fieldCount: Int, recordNumber: Int, into errors: inout [FieldError],
        field: (Int) -> UnsafeBufferPointer<UInt8>
    ) {
        checks.withUnsafeBufferPointer { checks in
            for column in checks {
                let bytes = column.index < fieldCount ? field(column.index) : UnsafeBufferPointer(start: nil, count: 0)
                if Self.isBlank(bytes) {
                    if column.required {
                        errors.append(error(column, bytes, rule: "required", "a value is required"))
                    }
                    continue
                }
                if bytes.count > column.maxLength {
                    let characters = bytes.reduce(0) { $0 + (($1 & 0xC0) != 0x80 ? 1 : 0) }
                    if characters > column.maxLength {
                        errors.append(error(column, bytes, rule: "max-length",
                                            "is \(characters) characters long; the most allowed is \(column.maxLength)"))
                    }
                }
                if let message = check(column, bytes, fieldCount: fieldCount, field: field) {
                    errors.append(error(column, bytes, rule: rules[column.rule].type.name, message))
                }
            }
        }
        if !uniqueIndexes.isEmpty {
            let hash = KeyHash.of(positions: uniqueIndexes, fieldCount: fieldCount, field)
            let record = Int32(truncatingIfNeeded: recordNumber)
            let first: Int32?
            if let duplicates {
                first = duplicates.firstRecord(hash).flatMap { $0 == record ? nil : $0 }
            } else {
                first = seenKeys.insert(hash, record: record)
            }
            if let first {
                let names = template.uniqueKey.joined(separator: " + ")
                let shown = uniqueIndexes.map { $0 < fieldCount ? String(decoding: field($0), as: UTF8.self) : "" }
                    .joined(separator: " / ")
                errors.append(FieldError(column: names, columnNumber: uniqueIndexes[0] + 1, value: shown, rule: "unique",
                                         message: "\(names) \"\(shown)\" already appears in record \(first)"))
            }
        }
    }

    private func error(_ column: BoundColumn, _ bytes: UnsafeBufferPointer<UInt8>, rule: String, _ message: String)
        -> FieldError
    {
        FieldError(column: rules[column.rule].name, columnNumber: column.index + 1,
                   value: String(decoding: bytes, as: UTF8.self), rule: rule, message: message)
    }

    @inline(__always)
    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in bytes where b != 0x20 && b != 0x09 { return false }
        return true
    }

    private static let booleanWords: [[UInt8]] = ["true", "false", "yes", "no", "y", "n", "1", "0"].map { Array($0.utf8) }

    private func check(
        _ column: BoundColumn, _ b: UnsafeBufferPointer<UInt8>, fieldCount: Int,
        field: (Int) -> UnsafeBufferPointer<UInt8>
    ) -> String? {
        switch column.check {
        case .none:
            return nil
        case .integer(let min, let max):
            guard let value = Self.parseInteger(b) else { return "is not a whole number" }
            if value < min { return "must be at least \(min)" }
            if value > max { return "must be at most \(max)" }
            return nil
        case .decimal(let scale, let min):
            guard let (value, decimals) = Self.parseDecimal(b) else { return "is not a number (use . for decimals)" }
            if decimals > scale { return "has \(decimals) decimal places; the most allowed is \(scale)" }
            if value < min { return "must be at least \(Self.format(min))" }
            return nil
        case .date(let table):
            let formats = dateFormats[table]
            for format in formats where format.parse(b) != nil { return nil }
            let others = formats.count > 1 ? " (or one of \(formats.count - 1) other accepted formats)" : ""
            return "is not a valid date in the format \(formats[0].pattern)\(others)"
        case .email:
            return Self.isEmail(b) ? nil : "is not a valid e-mail address"
        case .boolean:
            for word in Self.booleanWords where Self.equalIgnoringASCIICase(b, word) { return nil }
            return "is not a yes/no value (true, false, yes, no, 1, 0)"
        case .enumeration(let table, let caseSensitive):
            for value in enumValues[table] {
                if caseSensitive ? b.elementsEqual(value) : Self.equalIgnoringASCIICase(b, value) { return nil }
            }
            if !caseSensitive && b.contains(where: { $0 >= 0x80 }) {
                // Non-ASCII text: compare with full Unicode lower-casing.
                let lowered = Array(String(decoding: b, as: UTF8.self).lowercased().utf8)
                if enumValues[table].contains(lowered) { return nil }
            }
            guard case .enumeration(let display, _) = rules[column.rule].type else { return "is not an allowed value" }
            return "is not one of: " + display.joined(separator: ", ")
        case .postcode(let countryIndex):
            guard countryIndex >= 0, countryIndex < fieldCount else { return nil }
            guard let shapes = postcodeShapes.shapes(forCountry: field(countryIndex)) else { return nil }
            if PostcodeRules.matches(b, shapes: shapes) { return nil }
            return "is not a valid postcode for \(PostcodeRules.countryCode(String(decoding: field(countryIndex), as: UTF8.self)))"
        }
    }

    /// Compares bytes with a lower-case ASCII word, ignoring the case of ASCII letters.
    @inline(__always)
    static func equalIgnoringASCIICase(_ b: UnsafeBufferPointer<UInt8>, _ lower: [UInt8]) -> Bool {
        guard b.count == lower.count else { return false }
        for i in 0..<b.count {
            var c = b[i]
            if c >= 0x41 && c <= 0x5A { c |= 0x20 }
            if c != lower[i] { return false }
        }
        return true
    }

    /// Parses `[+-]digits`, refusing anything else and values that overflow.
    static func parseInteger(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        var negative = false
        if i < b.count && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
            negative = b[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < b.count, b.count - i <= 18 else { return nil }
        var value = 0
        while i < b.count {
            let d = b[i] &- 0x30
            guard d < 10 else { return nil }
            value = value * 10 + Int(d)
            i += 1
        }
        return negative ? -value : value
    }

    /// Parses `[+-]digits[.digits]` and returns the value and the number of decimal places.
    static func parseDecimal(_ b: UnsafeBufferPointer<UInt8>) -> (Double, Int)? {
        var i = 0
        var negative = false
        if i < b.count && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
            negative = b[i] == UInt8(ascii: "-")
            i += 1
        }
        var whole = 0.0
        var digits = 0
        while i < b.count, b[i] &- 0x30 < 10 {
            whole = whole * 10 + Double(b[i] - 0x30)
            i += 1
            digits += 1
        }
        var decimals = 0
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] &- 0x30 < 10 {
                whole += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
                decimals += 1
            }
        }
        guard i == b.count, digits + decimals > 0, digits <= 15 else { return nil }
        return (negative ? -whole : whole, decimals)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// A practical address check: one `@`, a non-empty local part, a dotted domain, no spaces.
    static func isEmail(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let at = b.firstIndex(of: UInt8(ascii: "@")), at > 0, at < b.count - 1 else { return false }
        let domain = b[(at + 1)...]
        guard domain.contains(UInt8(ascii: ".")), domain.first != UInt8(ascii: "."),
              domain.last != UInt8(ascii: "."), !domain.contains(UInt8(ascii: "@")) else { return false }
        for c in b where c <= 0x20 || c == UInt8(ascii: ",") || c == UInt8(ascii: ";") || c == 0x7F { return false }
        return true
    }
}
