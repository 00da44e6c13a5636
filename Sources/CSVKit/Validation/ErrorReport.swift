/// A CSV of rejected rows that a person can read, fix and re-drop.
///
/// One line per problem: where it is (row, line, column), the value, the rule and a message, then the
/// row's original fields under the file's own header names. Values are written through
/// ``CSVWriter``'s formula guard, so a hostile cell cannot run when the report is opened in a
/// spreadsheet.
public final class ErrorReport {
    /// The fixed columns that precede the original fields.
    public static let leadingColumns = ["error_row", "error_line", "error_column", "error_value", "error_rule",
                                        "error_message"]
    private let writer: CSVWriter
    private var wroteHeader = false
    /// The header of the file being checked; set before the first ``add(row:line:column:value:rule:message:fields:)``
    /// (``FileValidation`` sets it from the reader).
    public var originalHeader: [String]
    /// The number of problem lines written.
    public private(set) var count = 0

    /// Creates a report.
    ///
    /// - Parameters:
    ///   - sink: Where the report goes.
    ///   - originalHeader: The header of the file being checked (empty when it has none).
    public init(sink: some ByteSink, originalHeader: [String] = []) {
        self.writer = CSVWriter(sink: sink)
        self.originalHeader = originalHeader
    }

    /// Adds one problem line.
    public func add(row: Int, line: Int, column: String, value: String, rule: String, message: String,
                    fields: [String]) throws {
        if !wroteHeader {
            let extra = max(0, fields.count - originalHeader.count)
            try writer.write(record: Self.leadingColumns + originalHeader
                             + (0..<extra).map { "extra_field_\(originalHeader.count + $0 + 1)" })
            wroteHeader = true
        }
        try writer.write(record: [String(row), String(line), column, value, rule, message] + fields)
        count += 1
    }

    /// Writes any buffered lines.
    public func finish() throws {
        if !wroteHeader {
            try writer.write(record: Self.leadingColumns + originalHeader)
            wroteHeader = true
        }
        try writer.flush()
    }
}
