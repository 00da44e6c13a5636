import CSV
import Foundation

/// Streams a file with yaslab/CSV.swift 2.5.2 and counts rows and fields.
public func parseWithCSVSwift(path: String) throws -> (rows: Int, fields: Int) {
    guard let stream = InputStream(fileAtPath: path) else { throw CocoaError(.fileNoSuchFile) }
    let reader = try CSVReader(stream: stream, hasHeaderRow: true)
    var rows = 0
    var fields = 0
    while let row = reader.next() {
        rows += 1
        fields += row.count
    }
    if let error = reader.error { throw error }
    return (rows, fields)
}
