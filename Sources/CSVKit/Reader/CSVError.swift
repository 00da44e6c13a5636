/// A problem reading a CSV file, with where it happened and what the reader saw.
///
/// Shaped like async-http-client's `HTTPClientError`: a struct around a code, so new kinds can be added
/// without breaking callers, and errors compare by code in tests (`error.code == .unterminatedQuote`).
public struct CSVError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unterminatedQuote = "unterminated-quote"
            case unexpectedQuote = "unexpected-quote"
            case fieldCountMismatch = "field-count"
            case fieldTooLarge = "field-too-large"
            case recordTooLarge = "record-too-large"
            case tooManyFields = "too-many-fields"
            case nulByte = "nul-byte"
            case invalidEncoding = "invalid-encoding"
            case io = "io"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A quoted field is still open at the end of the file.
        public static let unterminatedQuote = Code(.unterminatedQuote)
        /// A quote appears inside an unquoted field, or text follows a closing quote.
        public static let unexpectedQuote = Code(.unexpectedQuote)
        /// The record has more or fewer fields than the header.
        public static let fieldCountMismatch = Code(.fieldCountMismatch)
        /// A field is longer than the configured limit.
        public static let fieldTooLarge = Code(.fieldTooLarge)
        /// A record is longer than the configured limit; it was skipped.
        public static let recordTooLarge = Code(.recordTooLarge)
        /// A record has more fields than the configured limit.
        public static let tooManyFields = Code(.tooManyFields)
        /// A NUL byte, which never belongs in a text file.
        public static let nulByte = Code(.nulByte)
        /// Bytes that are not valid in the file's encoding.
        public static let invalidEncoding = Code(.invalidEncoding)
        /// The file could not be opened or read.
        public static let io = Code(.io)

        /// A short stable identifier, used in error reports and JSON.
        public var description: String { base.rawValue }
    }

    /// The kind of problem.
    public let code: Code
    /// The 1-based data record number (the header is not counted), or 0 when not tied to a record.
    public let recordNumber: Int
    /// The 1-based physical line the record starts on, or 0 when unknown.
    public let line: Int
    /// The 1-based field number the problem is in, if known.
    public let column: Int?
    /// A short piece of the offending text, with control characters made visible.
    public let excerpt: String
    /// What went wrong, in words a person understands.
    public let message: String
    /// The record's fields as far as they could be read, so an error report can show the original row.
    public let fields: [String]

    /// Creates an error.
    public init(
        code: Code, recordNumber: Int = 0, line: Int = 0, column: Int? = nil, excerpt: String = "",
        message: String, fields: [String] = []
    ) {
        self.code = code
        self.recordNumber = recordNumber
        self.line = line
        self.column = column
        self.excerpt = excerpt
        self.message = message
        self.fields = fields
    }

    public var description: String {
        var parts: [String] = []
        if line > 0 { parts.append("line \(line)") }
        if recordNumber > 0 { parts.append("record \(recordNumber)") }
        if let column { parts.append("field \(column)") }
        let place = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        let near = excerpt.isEmpty ? "" : " near \"\(excerpt)\""
        return "\(place)\(message)\(near)"
    }

    /// Makes bytes printable for an excerpt: at most `limit` characters, control characters escaped.
    static func excerpt(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int = 40) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes.prefix(limit * 4))
        var text = String(decoding: slice, as: UTF8.self)
        if text.count > limit { text = String(text.prefix(limit)) + "…" }
        return visible(text)
    }

    /// Escapes control characters so an excerpt stays on one line.
    static func visible(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
