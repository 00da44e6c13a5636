import CSV
import Foundation

/// Parses a file with yaslab/CSV.swift 2.5.2 and counts rows and fields.
///
/// CSV.swift reads from an `InputStream`. On Linux with Swift 6.3's Foundation, a file-backed
/// `InputStream(fileAtPath:)` returns -1 from its first read (CSV.swift then reports `cannotReadFile`),
/// so the file is loaded into memory and parsed from `InputStream(data:)`: the parse is still CSV.swift's
/// own streaming parser, but its peak memory includes the whole file.
public func parseWithCSVSwift(path: String) throws -> (rows: Int, fields: Int) {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let reader = try CSVReader(stream: InputStream(data: data), hasHeaderRow: true)
    var rows = 0
    var fields = 0
    while let row = reader.next() {
        rows += 1
        fields += row.count
    }
    if let error = reader.error { throw error }
    return (rows, fields)
}
