import ArgumentParser
import Foundation
import CSVKit

/// Options shared by commands that read a CSV file.
struct CSVReadOptions: ParsableArguments {
    @Option(help: "Field delimiter: , ; | or tab.")
    var delimiter: String = ","

    @Option(help: "Text encoding: auto, utf-8, windows-1252, iso-8859-1, utf-16le, utf-16be.")
    var encoding: String = "auto"

    @Flag(help: "Stop at the first malformed row instead of reporting every one.")
    var strict = false

    func configuration(hasHeader: Bool = true) throws -> CSVConfiguration {
        guard let d = CSVConfiguration.delimiter(named: delimiter) else {
            throw ValidationError("--delimiter must be a single character such as , ; | or tab, not \"\(delimiter)\"")
        }
        guard let e = CSVEncoding(name: encoding) else {
            let names = CSVEncoding.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("unknown --encoding \"\(encoding)\"; use one of \(names)")
        }
        return CSVConfiguration(delimiter: d, hasHeader: hasHeader, encoding: e, mode: strict ? .strict : .lenient)
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
