import Foundation
import SwiftCSV

/// Parses a whole file with SwiftCSV 0.10.0 (it loads the file into one String) and counts rows and fields.
public func parseWithSwiftCSV(path: String) throws -> (rows: Int, fields: Int) {
    let csv = try CSV<Enumerated>(url: URL(fileURLWithPath: path), delimiter: .comma, loadColumns: false)
    var fields = 0
    for row in csv.rows { fields += row.count }
    return (csv.rows.count, fields)
}
