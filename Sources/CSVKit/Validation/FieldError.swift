/// A value that breaks a column's rule, described for the person who has to fix it.
public struct FieldError: Sendable, Hashable, CustomStringConvertible {
    /// The column's name.
    public var column: String
    /// The column's 1-based position in the file, or 0 when the column is missing.
    public var columnNumber: Int
    /// The offending value as read.
    public var value: String
    /// The rule that failed (`required`, `integer`, `max-length`, `unique`, ...).
    public var rule: String
    /// What is wrong and what is expected.
    public var message: String

    /// Creates a field error.
    public init(column: String, columnNumber: Int, value: String, rule: String, message: String) {
        self.column = column
        self.columnNumber = columnNumber
        self.value = value
        self.rule = rule
        self.message = message
    }

    public var description: String { "\(column): \(message)" }
}

/// A problem with the file as a whole (a required column missing, a duplicate column).
public struct FileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The column concerned.
    public var column: String
    /// The rule that failed (`missing-column`, `duplicate-column`, `unknown-column`).
    public var rule: String
    /// What is wrong.
    public var message: String

    public var description: String { message }
}
