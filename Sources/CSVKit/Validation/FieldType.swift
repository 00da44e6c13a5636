/// What a column's values must look like.
public enum FieldType: Sendable, Hashable {
    /// Any text.
    case text
    /// A whole number, optionally bounded.
    case integer(min: Int? = nil, max: Int? = nil)
    /// A decimal number with at most `scale` digits after the point, optionally bounded below.
    case decimal(scale: Int, min: Double? = nil)
    /// A date or date-time in one of the given formats (see ``DateFormat``).
    case date(formats: [String])
    /// An e-mail address.
    case email
    /// `true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0` (any case).
    case boolean
    /// One of a fixed list of values.
    case enumeration(values: [String], caseSensitive: Bool = false)
    /// A postcode, checked against the rule of the country named in `countryColumn` where one is known.
    case postcode(countryColumn: String?)

    /// The rule's name as used in YAML and error reports.
    public var name: String {
        switch self {
        case .text: "text"
        case .integer: "integer"
        case .decimal: "decimal"
        case .date: "date"
        case .email: "email"
        case .boolean: "boolean"
        case .enumeration: "enum"
        case .postcode: "postcode"
        }
    }
}

/// One column of a template.
public struct ColumnRule: Sendable, Hashable {
    /// The column's name in the file header.
    public var name: String
    /// Other names accepted for the same column (a warehouse's own spelling).
    public var aliases: [String]
    /// The kind of value.
    public var type: FieldType
    /// Whether a value must be present (non-blank) in every row.
    public var required: Bool
    /// The most characters allowed, if limited.
    public var maxLength: Int?

    /// Creates a column rule.
    public init(_ name: String, _ type: FieldType = .text, required: Bool = false, maxLength: Int? = nil,
                aliases: [String] = []) {
        self.name = name
        self.aliases = aliases
        self.type = type
        self.required = required
        self.maxLength = maxLength
    }
}

/// A file layout: its columns and the rules over the whole file.
public struct CSVTemplate: Sendable, Hashable {
    /// A short identifier (`peoplevox-sales-orders`).
    public var name: String
    /// The columns, in the order they are written.
    public var columns: [ColumnRule]
    /// Columns whose combined value must be unique across the file.
    public var uniqueKey: [String]
    /// Whether columns not in the template are an error (otherwise they are ignored).
    public var rejectsUnknownColumns: Bool

    /// Creates a template.
    public init(name: String, columns: [ColumnRule], uniqueKey: [String] = [], rejectsUnknownColumns: Bool = false) {
        self.name = name
        self.columns = columns
        self.uniqueKey = uniqueKey
        self.rejectsUnknownColumns = rejectsUnknownColumns
    }

    /// The header row for writing a file in this layout.
    public var headerNames: [String] { columns.map(\.name) }

    /// Returns a copy with columns renamed (`old name → new name`), for a warehouse whose template
    /// spells them differently. Unknown names are returned so the caller can report them.
    public func renamingColumns(_ renames: [String: String]) -> (CSVTemplate, unknown: [String]) {
        var copy = self
        var unknown: [String] = []
        for (old, new) in renames {
            guard let i = copy.columns.firstIndex(where: { CSVHeader.normalize($0.name) == CSVHeader.normalize(old) })
            else {
                unknown.append(old)
                continue
            }
            copy.columns[i].aliases.append(copy.columns[i].name)
            copy.columns[i].name = new
            copy.uniqueKey = copy.uniqueKey.map { CSVHeader.normalize($0) == CSVHeader.normalize(old) ? new : $0 }
        }
        return (copy, unknown.sorted())
    }
}

extension CSVTemplate {
    /// The rule for the column called `name`, by its name or one of its aliases (a renamed column keeps
    /// its original name as an alias, so code can keep using the original).
    public func column(named name: String) -> ColumnRule? {
        let key = CSVHeader.normalize(name)
        return columns.first { CSVHeader.normalize($0.name) == key }
            ?? columns.first { $0.aliases.contains { CSVHeader.normalize($0) == key } }
    }

    /// Where the column called `name` (or any of its aliases) sits in `header`, if it is there.
    public func position(of name: String, in header: CSVHeader) -> Int? {
        guard let rule = column(named: name) else { return header.index(of: name) }
        return ([rule.name] + rule.aliases).lazy.compactMap(header.index(of:)).first
    }

    /// A row in this layout from values keyed by column name (or alias); missing values are blank.
    public func row(_ values: [String: String]) -> [String] {
        columns.map { rule in
            values[rule.name] ?? rule.aliases.lazy.compactMap { values[$0] }.first ?? ""
        }
    }
}
