import CSVKit

/// One more pass over a downloaded file before its rows are applied, for a flow whose storefront would rather be
/// told first which keys the file will ask about: each row's value of one column, as the flow's decoder will read
/// it (trimmed of spaces and tabs, then mapped), as its ``KeyHash``. Flat memory, whatever the file's size.
enum ColumnScan {
    /// Calls `body` with the hash of each row's value of `column` (a template column name) in the file at `path`;
    /// a value that `mapping` names is hashed as what it maps to. Malformed records are passed over (they are never
    /// applied). Returns `false`, having called nothing more, when the file is not CSV or has no such column: the
    /// pipeline then rejects the file (or reports its rows) itself.
    static func forEachHash(of column: String, inFile path: String, configuration: CSVConfiguration,
                            template: CSVTemplate, mapping: [String: String] = [:],
                            _ body: (UInt64) throws -> Void) throws -> Bool {
        let reader: CSVReader
        do { reader = try CSVReader(path: path, configuration: configuration) } catch is CSVError { return false }
        var position: Int?
        while true {
            do {
                guard try reader.next() else { break }
            } catch let error as CSVError {
                if error.recordNumber == 0 { return false }  // not CSV
                continue
            }
            if position == nil {
                let header = reader.header ?? CSVHeader(template.headerNames)
                guard let found = PeoplevoxRowReader(template: template, header: header, columns: [column])
                    .position(column) else { return false }
                position = found
            }
            let i = position.unsafelyUnwrapped
            // Unmapped ASCII (nearly every value): its trimmed bytes, without a string. Other bytes go the decoder's
            // way (a string, which repairs invalid UTF-8), so that the hashes agree.
            let bytes: UInt64? = mapping.isEmpty && i < reader.fieldCount ? reader.withFieldBytes(i) { field in
                let value = field.trimmingSpacesAndTabs
                return value.contains(where: { $0 >= 0x80 }) ? nil : KeyHash.of(value)
            } : nil
            try body(bytes ?? {
                let value = i < reader.fieldCount ? reader.field(i).trimmingSpaces : ""
                return KeyHash.of(mapping[value] ?? value)
            }())
        }
        return true
    }
}

extension Storefront {
    /// For a storefront that would rather not read every order (the plain-file storefront of a large shop): tells it
    /// the orders the downloaded file at `path` names in its `Salesorder number` column, as the flow's decoder reads
    /// them (trimmed). One more pass over the file; memory: 10 bytes an order of the file, whatever the shop's size.
    /// A file that is not CSV, or has no such column, is left to the pipeline to report.
    func expectOrderLookups(namedIn path: String, configuration: CSVConfiguration, template: CSVTemplate) throws {
        guard wantsOrderNumbersFirst else { return }
        var numbers = KeySet(capacity: 1024)
        guard try ColumnScan.forEachHash(of: "Salesorder number", inFile: path, configuration: configuration,
                                         template: template, { numbers.insert($0) }) else { return }
        try expectOrderLookups(for: numbers)
    }
}
