/// How a CSV file is laid out and how strictly it is read.
public struct CSVConfiguration: Sendable, Hashable {
    /// What the reader does after a malformed record.
    public enum Mode: String, Sendable, Hashable {
        /// Stop at the first malformed record.
        case strict
        /// Report each malformed record and go on with the next one.
        case lenient
    }

    /// The field separator: `,`, `;`, tab or `|` (any single ASCII byte except quote, CR and LF).
    public var delimiter: UInt8
    /// Whether the first record names the columns.
    public var hasHeader: Bool
    /// The text encoding of the file.
    public var encoding: CSVEncoding
    /// Strict or lenient.
    public var mode: Mode
    /// Whether every record must have as many fields as the header (or the first record).
    public var requiresUniformFieldCount: Bool
    /// The longest field accepted, in bytes.
    public var maxFieldBytes: Int
    /// The longest record accepted, in bytes; bounds memory on hostile input.
    public var maxRecordBytes: Int
    /// The most fields a record may have.
    public var maxFieldCount: Int
    /// The size of each read from the source.
    public var chunkSize: Int
    /// Whether the next chunk is read (and its records found) on another thread while the current one
    /// is parsed. The source is then called from that thread (one read at a time, in order); turn this
    /// off for a source that must stay on the caller's thread.
    public var readsAhead: Bool
    /// Whether records go through the SIMD scanner first; tests and the fuzzer turn it off to compare
    /// it with the careful parser, which reads every record the same way, only slower.
    @_spi(Testing) public var usesScanner = true
    /// Tests: with read-ahead, the reader waits for the read-ahead thread to scan each whole chunk (it
    /// normally takes over the scanning when it gets there first), so that its records are always used.
    @_spi(Testing) public var readAheadScansWholeChunks = false

    /// Creates a configuration; the defaults suit warehouse files.
    public init(
        delimiter: UInt8 = UInt8(ascii: ","),
        hasHeader: Bool = true,
        encoding: CSVEncoding = .auto,
        mode: Mode = .lenient,
        requiresUniformFieldCount: Bool = true,
        maxFieldBytes: Int = 1 << 20,
        maxRecordBytes: Int = 8 << 20,
        maxFieldCount: Int = 10_000,
        chunkSize: Int = 1 << 20,
        readsAhead: Bool = true
    ) {
        self.delimiter = delimiter
        self.hasHeader = hasHeader
        self.encoding = encoding
        self.mode = mode
        self.requiresUniformFieldCount = requiresUniformFieldCount
        self.maxFieldBytes = maxFieldBytes
        self.maxRecordBytes = maxRecordBytes
        self.maxFieldCount = maxFieldCount
        self.chunkSize = chunkSize
        self.readsAhead = readsAhead
    }

    /// Parses a delimiter as users write it: `,` `;` `|` `tab` or `\t`.
    ///
    /// - Returns: The delimiter byte, or `nil` if it is not a single usable ASCII character.
    public static func delimiter(named name: String) -> UInt8? {
        switch name.lowercased() {
        case "tab", "\\t", "\t": return 9
        case "comma": return UInt8(ascii: ",")
        case "semicolon": return UInt8(ascii: ";")
        case "pipe": return UInt8(ascii: "|")
        default:
            let bytes = Array(name.utf8)
            guard bytes.count == 1, let b = bytes.first, b < 0x80, b != 0x22, b != 0x0A, b != 0x0D else { return nil }
            return b
        }
    }
}

/// The column names of a file, looked up the way people write them.
///
/// Lookup ignores case, spaces and underscores, so `Salesorder number`, `SALESORDER_NUMBER` and
/// `salesordernumber` name the same column.
public struct CSVHeader: Sendable, Hashable {
    /// The names as they appear in the file.
    public let names: [String]
    private let index: [String: Int]

    /// Creates a header from the names in file order.
    public init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            let key = CSVHeader.normalize(name)
            if index[key] == nil { index[key] = i }
        }
        self.index = index
    }

    /// The position of the column called `name`, if any.
    public func index(of name: String) -> Int? {
        index[CSVHeader.normalize(name)]
    }

    /// Names that normalise to the same key as an earlier name (ambiguous columns).
    public var duplicateNames: [String] {
        var seen = Set<String>()
        return names.filter { !seen.insert(CSVHeader.normalize($0)).inserted }
    }

    /// The lookup key of a column name.
    public static func normalize(_ name: String) -> String {
        String(name.lowercased().unicodeScalars.filter { $0 != " " && $0 != "_" && $0 != "\t" })
    }
}
