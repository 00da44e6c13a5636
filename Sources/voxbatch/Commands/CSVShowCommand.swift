import ArgumentParser
import CSVKit

struct CSVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csv",
        abstract: "Inspect CSV files the way voxbatch reads them.",
        subcommands: [CSVShowCommand.self]
    )
}

struct CSVShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print each record as voxbatch's parser sees it, one JSON value per line.",
        discussion: """
            With a header (the default) each record is a JSON object keyed by the header's names; with \
            --no-header it is a JSON array of strings. Malformed records are reported on standard error \
            with their line and the reader goes on. Exit 1 if any record was malformed.
            """
    )

    @Argument(help: "The CSV file to show.")
    var file: String

    @OptionGroup var csv: CSVReadOptions

    @Flag(inversion: .prefixedNo, help: "Whether the first record is a header.")
    var header = true

    @Option(help: "Show at most this many records.")
    var limit: Int?

    func run() throws {
        let reader: CSVReader
        do {
            reader = try CSVReader(path: file, configuration: try csv.configuration(hasHeader: header))
        } catch let error as CSVError {
            printError("voxbatch: \(error)")
            throw Exit.usage
        }
        var shown = 0
        var malformed = 0
        var out = ""
        while limit.map({ shown < $0 }) ?? true {
            do {
                guard try reader.next() else { break }
            } catch let error as CSVError {
                if error.recordNumber == 0 {
                    printError("voxbatch: \(file): \(error)")
                    throw Exit.usage
                }
                malformed += 1
                printError("\(file): \(error)")
                if csv.strict { break }
                continue
            }
            out.removeAll(keepingCapacity: true)
            if let names = reader.header?.names {
                out += "{"
                for i in 0..<reader.fieldCount {
                    if i > 0 { out += "," }
                    let key = i < names.count ? names[i] : "_extra\(i + 1 - names.count)"
                    JSON.appendString(key, to: &out)
                    out += ":"
                    JSON.appendString(reader.field(i), to: &out)
                }
                out += "}"
            } else {
                out += "["
                for i in 0..<reader.fieldCount {
                    if i > 0 { out += "," }
                    JSON.appendString(reader.field(i), to: &out)
                }
                out += "]"
            }
            print(out)
            shown += 1
        }
        if malformed > 0 { throw Exit.rejected }
    }
}

/// Minimal JSON text helpers for streaming output in file order.
enum JSON {
    static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
