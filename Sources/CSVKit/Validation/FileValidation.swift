/// What checking one file found.
public struct ValidationSummary: Sendable, Hashable, Codable {
    /// One example of a problem kind, for the summary.
    public struct Example: Sendable, Hashable, Codable {
        public var row: Int
        public var line: Int
        public var column: String
        public var value: String
        public var message: String
    }

    /// Data rows read (the header is not counted).
    public var rows = 0
    /// Rows that passed every rule.
    public var valid = 0
    /// Rows with at least one problem.
    public var invalid = 0
    /// Problems with the file as a whole (a missing required column, ...).
    public var fileErrors: [String] = []
    /// How many problems of each kind (`required`, `integer`, `unexpected-quote`, ...).
    public var problemCounts: [String: Int] = [:]
    /// The first problem of each kind.
    public var examples: [String: Example] = [:]
    /// The encoding the file was read in.
    public var encoding = "utf-8"

    /// Whether the file can be used as a whole (no file-level problem).
    public var fileAccepted: Bool { fileErrors.isEmpty }

    /// Problem kinds, most frequent first.
    public var topProblems: [(kind: String, count: Int)] {
        problemCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { ($0.key, $0.value) }
    }

    mutating func note(kind: String, _ example: Example) {
        problemCounts[kind, default: 0] += 1
        if examples[kind] == nil { examples[kind] = example }
    }
}

/// Streams a file through a reader and a template, row by row.
///
/// A malformed or invalid row is reported (to the optional ``ErrorReport``) and skipped; every valid
/// row is handed to `onValid` while the reader is positioned on it, so good rows are never lost
/// because of a bad one.
public enum FileValidation {
    /// Checks every row of `reader` against `template`.
    ///
    /// - Parameters:
    ///   - reader: A reader at the start of the file.
    ///   - template: The layout to enforce.
    ///   - report: Receives one line per problem, when given.
    ///   - duplicates: The file's repeating unique keys, from a first pass over it (``DuplicateKeys``); without
    ///     them, keys are remembered as the rows go by.
    ///   - onValid: Called for each valid row; throwing stops the run.
    /// - Returns: Counts and examples.
    /// - Throws: A ``CSVError`` the reader cannot recover from (unreadable file, strict mode, bad
    ///   header), or what `onValid` or the report throws.
    public static func run(
        reader: CSVReader, template: CSVTemplate, report: ErrorReport? = nil, duplicates: DuplicateKeys? = nil,
        onValid: (CSVReader) throws -> Void = { _ in }
    ) throws -> ValidationSummary {
        var summary = ValidationSummary()
        summary.encoding = reader.encoding.rawValue
        var validator: TemplateValidator?
        var errors: [FieldError] = []
        func add(row: Int, line: Int, column: String, value: String, rule: String, message: String,
                 fields: [String]) throws {
            guard let report else { return }
            if report.originalHeader.isEmpty, let header = reader.header { report.originalHeader = header.names }
            try report.add(row: row, line: line, column: column, value: value, rule: rule, message: message,
                           fields: fields)
        }
        /// Binds the template to the header and reports the file's own problems, once.
        func bind(_ header: CSVHeader) throws -> TemplateValidator {
            let bound = TemplateValidator(template: template, header: header, duplicates: duplicates)
            summary.fileErrors = bound.fileErrors.map(\.message)
            for fileError in bound.fileErrors {
                summary.note(kind: fileError.rule, .init(row: 0, line: 1, column: fileError.column, value: "",
                                                         message: fileError.message))
                try add(row: 0, line: 1, column: fileError.column, value: "", rule: fileError.rule,
                        message: fileError.message, fields: [])
            }
            return bound
        }
        while true {
            do {
                guard try reader.next() else { break }
            } catch let error as CSVError {
                if error.recordNumber == 0 { throw error }  // the header or the file itself
                summary.rows += 1
                summary.invalid += 1
                let column = error.column.map { columnName($0, reader.header) } ?? ""
                summary.note(kind: error.code.description, .init(row: error.recordNumber, line: error.line,
                                                                 column: column, value: error.excerpt,
                                                                 message: error.message))
                try add(row: error.recordNumber, line: error.line, column: column, value: error.excerpt,
                                rule: error.code.description, message: error.message, fields: error.fields)
                if reader.configuration.mode == .strict { throw error }
                continue
            }
            if validator == nil { validator = try bind(reader.header ?? CSVHeader(template.headerNames)) }
            summary.rows += 1
            errors.removeAll(keepingCapacity: true)
            validator!.validate(reader, into: &errors)
            if errors.isEmpty && summary.fileErrors.isEmpty {
                summary.valid += 1
                try onValid(reader)
                continue
            }
            summary.invalid += 1
            let fields = errors.isEmpty ? [] : reader.fields
            for e in errors {
                summary.note(kind: e.rule, .init(row: reader.recordNumber, line: reader.line, column: e.column,
                                                 value: e.value, message: e.message))
                try add(row: reader.recordNumber, line: reader.line, column: e.column, value: e.value,
                                rule: e.rule, message: e.message, fields: fields)
            }
        }
        if validator == nil, let header = reader.header {
            _ = try bind(header)  // a file with a header and no rows: its header problems still reach the report
        }
        try report?.finish()
        return summary
    }

    private static func columnName(_ number: Int, _ header: CSVHeader?) -> String {
        if let header, number - 1 < header.names.count { return header.names[number - 1] }
        return "field \(number)"
    }
}
