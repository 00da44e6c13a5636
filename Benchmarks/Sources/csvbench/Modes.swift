import CSVKit
import PeerCSVSwift
import PeerSwiftCSV

/// One measured workload, run in its own process so its peak memory is its own.
enum Mode: String, CaseIterable {
    case csvkitParse = "csvkit-parse"
    case csvkitValidate = "csvkit-validate"
    case swiftCSV = "swiftcsv"
    case csvSwift = "csv.swift"

    /// Runs the workload and returns a line describing what was read (to check all parsers agree).
    func run(path: String) throws -> String {
        switch self {
        case .csvkitParse:
            let reader = try CSVReader(path: path, configuration: .init(encoding: .utf8, mode: .strict))
            var rows = 0
            var fields = 0
            var bytes = 0
            while try reader.next() {
                rows += 1
                fields += reader.fieldCount
                for i in 0..<reader.fieldCount { bytes &+= reader.withFieldBytes(i) { $0.count } }
            }
            return "rows=\(rows) fields=\(fields) bytes=\(bytes)"
        case .csvkitValidate:
            let reader = try CSVReader(path: path, configuration: .init(encoding: .utf8, mode: .strict))
            let summary = try FileValidation.run(reader: reader, template: Workload.template)
            guard summary.invalid == 0 && summary.fileErrors.isEmpty else {
                throw BenchError("validation found problems: \(summary.problemCounts) \(summary.examples)")
            }
            return "rows=\(summary.rows) valid=\(summary.valid)"
        case .swiftCSV:
            let (rows, fields) = try parseWithSwiftCSV(path: path)
            return "rows=\(rows) fields=\(fields)"
        case .csvSwift:
            let (rows, fields) = try parseWithCSVSwift(path: path)
            return "rows=\(rows) fields=\(fields)"
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
