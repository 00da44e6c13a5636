import Foundation
import Testing
@testable import CSVKit

@Suite struct ValidationTests {
    /// Validates one data row under a header and returns the broken rules as `column:rule`.
    private func problems(_ template: CSVTemplate, header: String, row: String) throws -> [String] {
        let reader = try CSVReader(source: MemorySource(header + "\n" + row + "\n"))
        #expect(try reader.next())
        let validator = TemplateValidator(template: template, header: reader.header!)
        var errors: [FieldError] = []
        validator.validate(reader, into: &errors)
        return errors.map { "\($0.column):\($0.rule)" }
    }

    private func one(_ type: FieldType, _ value: String, required: Bool = false, maxLength: Int? = nil) throws
        -> [String]
    {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("v", type, required: required, maxLength: maxLength)])
        return try problems(t, header: "v", row: "\"\(value)\"")
    }

    @Test func requiredFieldMustNotBeBlank() throws {
        #expect(try one(.text, "", required: true) == ["v:required"])
        #expect(try one(.text, "   ", required: true) == ["v:required"])
        #expect(try one(.integer(), "", required: false).isEmpty)
    }

    @Test func maxLengthCountsCharactersNotBytes() throws {
        #expect(try one(.text, "ééé", maxLength: 3).isEmpty)
        #expect(try one(.text, "abcd", maxLength: 3) == ["v:max-length"])
    }

    @Test(arguments: [("12", true), ("-3", true), ("+7", true), ("1.0", false), ("12a", false), ("", true),
                      ("9999999999999999999", false)])
    func integers(_ value: String, _ ok: Bool) throws {
        #expect(try one(.integer(), value).isEmpty == ok)
    }

    @Test func integerBounds() throws {
        #expect(try one(.integer(min: 1), "0") == ["v:integer"])
        #expect(try one(.integer(max: 10), "11") == ["v:integer"])
        #expect(try one(.integer(min: 1, max: 10), "10").isEmpty)
    }

    @Test(arguments: [("12.50", true), ("12", true), ("-0.5", true), ("12.505", false), ("12,50", false),
                      (".", false), ("1e3", false)])
    func decimalsWithScale(_ value: String, _ ok: Bool) throws {
        #expect(try one(.decimal(scale: 2), value).isEmpty == ok)
    }

    @Test func decimalMinimum() throws {
        #expect(try one(.decimal(scale: 2, min: 0), "-1.00") == ["v:decimal"])
    }

    @Test(arguments: [("03/07/2017 06:03", true), ("'03/07/2017 06:03'", true), ("31/02/2026 10:00", false),
                      ("29/02/2024 23:59", true), ("29/02/2026 00:00", false), ("2026-11-24", false),
                      ("3/7/2017 6:03", false), ("03/07/2017 24:00", false)])
    func peoplevoxDates(_ value: String, _ ok: Bool) throws {
        #expect(try one(.date(formats: ["dd/MM/yyyy HH:mm"]), value).isEmpty == ok)
    }

    @Test func iso8601AndEpochSeconds() throws {
        let iso = DateFormat("iso8601")
        #expect(iso.parse("2026-11-24")?.epochSeconds == 1_795_478_400)
        #expect(iso.parse("2026-11-24T08:15:00Z")?.epochSeconds == 1_795_478_400 + 8 * 3600 + 15 * 60)
        #expect(iso.parse("2026-11-24T09:15:00+01:00")?.epochSeconds == 1_795_478_400 + 8 * 3600 + 15 * 60)
        #expect(iso.parse("2026-11-24T08:15:00.123Z") != nil)
        #expect(iso.parse("2026-13-01") == nil)
        #expect(DateFormat("d/M/yyyy H:mm").parse("3/7/2017 6:03") != nil)
    }

    /// Formatting from seconds is checked against Foundation's ICU-backed formatter (which the jobs no longer
    /// use) over four centuries of random times, leap days and the ends of months included, and read back.
    @Test func formattingFromEpochSecondsAgreesWithFoundation() throws {
        let foundation = ISO8601DateFormatter()
        var rng = SystemRandomNumberGenerator()
        var seconds = [0, -1, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, -2_208_988_800,
                       1_795_478_400 + 8 * 3600 + 15 * 60, 253_402_300_799]
        seconds += (0..<5_000).map { _ in Int.random(in: -2_208_988_800...7_258_118_400, using: &rng) }
        for s in seconds {
            let value = DateFormat.Value(epochSeconds: s)
            let expected = foundation.string(from: Date(timeIntervalSince1970: Double(s)))
            #expect(value.iso8601 == expected, "\(s)")
            #expect(value.epochSeconds == s)
            #expect(DateFormat("iso8601").parse(value.iso8601)?.epochSeconds == s)
            #expect(value.compactISO8601 == expected.filter { $0 != "-" && $0 != ":" })
        }
        // A value read with an offset is written in UTC.
        #expect(DateFormat("iso8601").parse("2026-11-24T00:15:00+01:00")?.iso8601 == "2026-11-23T23:15:00Z")
        #expect(DateFormat.Value(epochSeconds: 1_795_478_400).compactISO8601 == "20261124T000000Z")
    }

    @Test(arguments: [("ops@example.co.uk", true), ("a@b.c", true), ("no-at.example.com", false),
                      ("two@@example.com", false), ("sp ace@example.com", false), ("x@localhost", false),
                      ("@example.com", false)])
    func emails(_ value: String, _ ok: Bool) throws {
        #expect(try one(.email, value).isEmpty == ok)
    }

    @Test func booleansAndEnums() throws {
        #expect(try one(.boolean, "Yes").isEmpty)
        #expect(try one(.boolean, "maybe") == ["v:boolean"])
        #expect(try one(.enumeration(values: ["Accepted", "Rejected"]), "accepted").isEmpty)
        #expect(try one(.enumeration(values: ["Accepted"], caseSensitive: true), "accepted") == ["v:enum"])
        #expect(try one(.enumeration(values: ["Accepted"]), "Acepted") == ["v:enum"])
    }

    @Test(arguments: [("GB", "SW1A 1AA", true), ("GB", "m14 6hr", true), ("GB", "SW1A", false),
                      ("United Kingdom", "EC1A 1BB", true), ("DE", "10439", true), ("DE", "1043", false),
                      ("NL", "1016 GV", true), ("NL", "1016", false), ("US", "12345-6789", true),
                      ("IE", "D6W 1234", true), ("IE", "H91 E2K0", true), ("CA", "K1A 0B1", true),
                      ("ZZ", "anything", true)])
    func postcodesByCountry(_ country: String, _ postcode: String, _ ok: Bool) throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("Postcode", .postcode(countryColumn: "Country")),
                                                 ColumnRule("Country")])
        #expect(try problems(t, header: "Postcode,Country", row: "\(postcode),\(country)").isEmpty == ok)
    }

    @Test func missingRequiredColumnIsAFileErrorAndAliasesAreAccepted() throws {
        let t = CSVTemplate(name: "t", columns: [
            ColumnRule("Item code", required: true, aliases: ["ItemCode"]),
            ColumnRule("Available", .integer(), required: true),
            ColumnRule("Optional"),
        ])
        let v = TemplateValidator(template: t, header: CSVHeader(["ITEMCODE", "On hand"]))
        #expect(v.fileErrors.map(\.rule) == ["missing-column"])
        #expect(v.fileErrors.first?.column == "Available")
    }

    @Test func unknownAndDuplicateColumnsAreFileErrorsWhenAsked() throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("a")], rejectsUnknownColumns: true)
        let v = TemplateValidator(template: t, header: CSVHeader(["a", "b", "A"]))
        #expect(Set(v.fileErrors.map(\.rule)) == ["unknown-column", "duplicate-column"])
    }

    @Test func uniqueKeyReportsTheEarlierRecord() throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("order"), ColumnRule("sku")], uniqueKey: ["order", "sku"])
        let reader = try CSVReader(source: MemorySource("order,sku\n1,A\n1,B\n1,A\n"))
        _ = try reader.next()
        let v = TemplateValidator(template: t, header: reader.header!)
        var all: [FieldError] = []
        repeat { v.validate(reader, into: &all) } while try reader.next()
        #expect(all.count == 1)
        #expect(all[0].rule == "unique")
        #expect(all[0].message.contains("record 1"))
    }

    @Test func forgettingSeenKeysStartsTheUniquenessCheckAfresh() {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("order"), ColumnRule("sku")], uniqueKey: ["order", "sku"])
        let v = TemplateValidator(template: t, header: CSVHeader(["order", "sku"]))
        var errors: [FieldError] = []
        v.validate(fields: ["1", "A"], recordNumber: 1, into: &errors)
        v.validate(fields: ["1", "A"], recordNumber: 2, into: &errors)
        #expect(errors.map(\.rule) == ["unique"])
        v.forgetSeenKeys()  // a new file
        v.validate(fields: ["1", "A"], recordNumber: 3, into: &errors)
        #expect(errors.count == 1)
    }

    @Test func validatesRecordsBuiltInCode() {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("qty", .integer(min: 1), required: true)])
        let v = TemplateValidator(template: t, header: CSVHeader(["qty"]))
        var errors: [FieldError] = []
        v.validate(fields: ["0"], recordNumber: 1, into: &errors)
        #expect(errors.map(\.message) == ["must be at least 1"])
    }

    @Test func renamingColumnsKeepsTheOldNameAsAlias() {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("Item code")], uniqueKey: ["Item code"])
        let (renamed, unknown) = t.renamingColumns(["item code": "SKU", "Nope": "X"])
        #expect(renamed.columns[0].name == "SKU")
        #expect(renamed.columns[0].aliases == ["Item code"])
        #expect(renamed.uniqueKey == ["SKU"])
        #expect(unknown == ["Nope"])
    }
}

@Suite struct FileValidationTests {
    @Test func badRowsAreReportedAndGoodRowsAllReachTheCallback() throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("sku", required: true), ColumnRule("qty", .integer(min: 1))])
        let text = "sku,qty\nA,1\n,2\nB,x\nC,\"3\"oops\nD,4\nE,5,extra\nF,6\n"
        let reader = try CSVReader(source: MemorySource(text))
        let sink = MemorySink()
        let report = ErrorReport(sink: sink)
        var applied: [String] = []
        let summary = try FileValidation.run(reader: reader, template: t, report: report) { applied.append($0.field(0)) }
        #expect(applied == ["A", "D", "F"])
        #expect(summary.rows == 7)
        #expect(summary.valid == 3)
        #expect(summary.invalid == 4)
        #expect(summary.problemCounts == ["required": 1, "integer": 1, "unexpected-quote": 1, "field-count": 1])
        let lines = sink.text.split(separator: "\r\n").map(String.init)
        #expect(lines[0] == "error_row,error_line,error_column,error_value,error_rule,error_message,sku,qty")
        #expect(lines[1] == "2,3,sku,,required,a value is required,,2")
        #expect(lines[2] == "3,4,qty,x,integer,is not a whole number,B,x")
        #expect(lines.count == 5)
    }

    @Test func errorReportNeutralisesFormulasFromTheFile() throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("qty", .integer())])
        let reader = try CSVReader(source: MemorySource("qty\n\"=HYPERLINK(\"\"http://x\"\")\"\n"))
        let sink = MemorySink()
        _ = try FileValidation.run(reader: reader, template: t, report: ErrorReport(sink: sink))
        #expect(!sink.text.contains(",=HYPERLINK"))
        #expect(sink.text.contains("'=HYPERLINK"))
    }

    @Test func missingRequiredColumnRejectsTheFile() throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("sku", required: true), ColumnRule("qty", required: true)])
        let summary = try FileValidation.run(reader: try CSVReader(source: MemorySource("sku\nA\n")), template: t)
        #expect(!summary.fileAccepted)
        #expect(summary.valid == 0)
        #expect(summary.fileErrors == ["required column \"qty\" is missing from the header"])
    }

    @Test func headerOnlyFileReportsItsMissingColumnsInTheErrorReportToo() throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("sku", required: true), ColumnRule("qty", required: true)])
        let sink = MemorySink()
        let summary = try FileValidation.run(reader: try CSVReader(source: MemorySource("sku\n")), template: t,
                                             report: ErrorReport(sink: sink))
        #expect(summary.rows == 0)
        #expect(summary.fileErrors == ["required column \"qty\" is missing from the header"])
        #expect(summary.problemCounts == ["missing-column": 1])
        let lines = sink.text.split(separator: "\r\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.last?.hasPrefix("0,1,qty,,missing-column,") == true)
    }
}

@Suite struct TemplateYAMLTests {
    @Test func loadsEveryColumnType() throws {
        let t = try TemplateLoader.load(yaml: """
            name: acme
            unique: [Order, SKU]
            columns:
              - {name: Order, required: true, max_length: 20, aliases: [Order no]}
              - {name: Qty, type: integer, min: 1, max: 99}
              - {name: Price, type: decimal, scale: 3, min: 0}
              - {name: Shipped, type: date, formats: ["dd/MM/yyyy", iso8601]}
              - {name: Email, type: email}
              - {name: Gift, type: boolean}
              - {name: State, type: enum, values: [A, B], case_sensitive: true}
              - {name: Postcode, type: postcode, country_column: Country}
              - {name: SKU}
            """)
        #expect(t.name == "acme")
        #expect(t.uniqueKey == ["Order", "SKU"])
        #expect(t.columns[0] == ColumnRule("Order", required: true, maxLength: 20, aliases: ["Order no"]))
        #expect(t.columns[1].type == .integer(min: 1, max: 99))
        #expect(t.columns[2].type == .decimal(scale: 3, min: 0))
        #expect(t.columns[3].type == .date(formats: ["dd/MM/yyyy", "iso8601"]))
        #expect(t.columns[6].type == .enumeration(values: ["A", "B"], caseSensitive: true))
        #expect(t.columns[7].type == .postcode(countryColumn: "Country"))
    }

    @Test func reportsEveryProblemWithItsPath() {
        #expect {
            _ = try TemplateLoader.load(yaml: """
                name: bad
                colums: []
                """)
        } throws: { error in
            let problems = (error as? TemplateLoadError)?.problems.map(\.description) ?? []
            return problems.contains { $0.contains("colums") && $0.contains("did you mean \"columns\"") }
                && problems.contains { $0.contains("columns: \"columns\" is required") }
        }
        #expect {
            _ = try TemplateLoader.load(yaml: """
                name: bad
                columns:
                  - {name: A, type: number}
                  - {name: B, type: integer, min: one}
                  - {name: C, requird: true}
                """)
        } throws: { error in
            let problems = (error as? TemplateLoadError)?.problems ?? []
            return problems.map(\.path) == ["columns[0].type", "columns[1].min", "columns[2].requird"]
                && problems.allSatisfy { $0.line > 0 }
        }
    }

    @Test func notYAMLAtAllIsReported() {
        #expect(throws: YAMLProblem.self) { _ = try TemplateLoader.load(yaml: "name: [unclosed") }
    }
}

@Suite struct KeyTableTests {
    @Test func everyKeyIsFoundAgainWithItsFirstRecordAcrossGrowth() {
        var table = KeyTable()
        // Hashes that crowd one slot (and 0, the empty mark) as well as spread ones.
        let hashes: [UInt64] = [0, 1, 16, 32, 1 << 40] + (1..<50_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        for (n, h) in hashes.enumerated() {
            let first = table.insert(h, record: Int32(n))
            #expect(first == (h == 1 ? 0 : nil), "hash \(h)")
        }
        for (n, h) in hashes.enumerated() where h > 1 { #expect(table.insert(h, record: -1) == Int32(n)) }
        // 0 and 1 share a slot by design (0 marks an empty one): the second of them is reported as a repeat.
        #expect(table.insert(1, record: -1) == 0)
        table.removeAll()
        #expect(table.count == 0 && table.insert(16, record: 7) == nil && table.insert(16, record: 8) == 7)
    }
}

@Suite struct DuplicateKeysTests {
    /// A file of `rows` records keyed `order + sku`, with repeats at known places, a malformed record (a stray
    /// quote mid-field), a short record (too few fields) and a blank key twice.
    private func file(rows: Int) throws -> (path: String, directory: String, repeats: [Int: Int]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dupkeys-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var text = "order,sku,qty\n"
        var repeats: [Int: Int] = [:]  // record → first record with its key
        var firstOf: [String: Int] = [:]
        for r in 1...rows {
            var key = "\(r),SKU-\(r % 97)"
            if r % 5_003 == 0 { key = "\(r / 2),SKU-\(r / 2 % 97)" }  // the key of an earlier record
            if r == 777 { key = "1,SKU-1" }  // record 1's key, whose partition spills long before
            if r == 12_345 || r == 54_321 { key = "," }  // a blank key, twice
            if r == 2_000 { text += "2000,SK\"U,1\n"; continue }  // malformed (a quote in an unquoted field)
            if r == 3_000 { text += "3000\n"; continue }  // too short: the key's second part is empty
            text += key + ",1\n"
            if let first = firstOf[key] { repeats[r] = first } else { firstOf[key] = r }
        }
        let path = directory + "/orders.csv"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return (path, directory, repeats)
    }

    private func report(_ path: String, _ template: CSVTemplate, _ duplicates: DuplicateKeys?) throws
        -> (ValidationSummary, String)
    {
        let sink = MemorySink()
        let summary = try FileValidation.run(reader: try CSVReader(path: path), template: template,
                                             report: ErrorReport(sink: sink), duplicates: duplicates)
        return (summary, sink.text)
    }

    @Test func theFirstPassFindsWhatRememberingEveryKeyFinds() throws {
        let t = CSVTemplate(name: "t", columns: [ColumnRule("order"), ColumnRule("sku"), ColumnRule("qty", .integer())],
                            uniqueKey: ["order", "sku"])
        let (path, directory, repeats) = try file(rows: 150_000)  // ~2,300 keys a partition: every one spills
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let found = try #require(try DuplicateKeys.scan(path: path, configuration: .init(), template: t,
                                                         temporaryDirectory: directory))
        #expect(found.records == 149_998)  // the malformed and the short record (a field-count error) have no key
        #expect(found.count == Set(repeats.values).count)
        var hash = KeyHash()
        for part in ["1", "SKU-1"] { Array(part.utf8).withUnsafeBufferPointer { hash.add($0) } }
        #expect(found.firstRecord(hash.value) == 1)
        let (viaScan, scanned) = try report(path, t, found)
        let (remembering, remembered) = try report(path, t, nil)
        #expect(viaScan == remembering)
        #expect(scanned == remembered)
        #expect(viaScan.problemCounts["unique"] == repeats.count)
        #expect(remembered.contains("already appears in record 1\""))  // record 777
        // No temporary file is left in the folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["orders.csv"])
    }

    @Test func nothingToScanWithoutAUniqueKeyOrItsColumn() throws {
        let (path, directory, _) = try file(rows: 10)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let noKey = CSVTemplate(name: "t", columns: [ColumnRule("order")])
        #expect(try DuplicateKeys.scan(path: path, configuration: .init(), template: noKey,
                                       temporaryDirectory: directory) == nil)
        let missing = CSVTemplate(name: "t", columns: [ColumnRule("order")], uniqueKey: ["order", "colour"])
        #expect(try DuplicateKeys.scan(path: path, configuration: .init(), template: missing,
                                       temporaryDirectory: directory) == nil)
    }

    @Test func anUnwritableFolderIsANamedError() throws {
        let (path, directory, _) = try file(rows: 10)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = CSVTemplate(name: "t", columns: [ColumnRule("order")], uniqueKey: ["order"])
        do {
            _ = try DuplicateKeys.scan(path: path, configuration: .init(), template: t,
                                       temporaryDirectory: directory + "/missing")
            Issue.record("the scan wrote into a folder that does not exist")
        } catch let error as DuplicateKeysError {
            #expect(error.errno == ENOENT)
            #expect(error.description == "cannot check the file's unique keys: \(directory)/missing: No such file or directory")
        }
    }
}

@Suite struct KeyPartitionsTests {
    @Test func eachPartitionHoldsItsHashesInTheOrderAddedAndCanBeReadAgain() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-parts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let partitions = try KeyPartitions(temporaryDirectory: directory)
        // Enough for some partitions to go to their files and keep a tail in memory; one hash added twice.
        let hashes = (0..<150_000).map { KeyHash.of("SKU-\($0)") } + [KeyHash.of("SKU-7")]
        for h in hashes { try partitions.add(h) }
        #expect(partitions.total == hashes.count)
        var expected = [[UInt64]](repeating: [], count: KeyPartitions.count)
        for h in hashes { expected[Int(h >> 58)].append(h) }
        for p in 0..<KeyPartitions.count {
            #expect(try partitions.hashes(in: p) == expected[p], "partition \(p)")
        }
        #expect(try partitions.hashes(in: 5) == expected[5])  // read again
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)  // unlinked from the start
    }

    @Test func subtractingFindsExactlyTheHashesTheOtherLacks() throws {
        let directory = FileManager.default.temporaryDirectory.path
        let asked = try KeyPartitions(temporaryDirectory: directory), catalogue = try KeyPartitions(temporaryDirectory: directory)
        for i in 0..<120_000 where i % 1000 != 0 { try catalogue.add(KeyHash.of("SKU-\(i)")) }
        for i in stride(from: 0, to: 130_000, by: 3) { try asked.add(KeyHash.of("SKU-\(i)")) }
        let missing = try asked.subtracting(catalogue)
        let expected = stride(from: 0, to: 130_000, by: 3).filter { $0 % 1000 == 0 || $0 >= 120_000 }
        #expect(missing.count == expected.count)
        #expect(expected.allSatisfy { missing.contains(KeyHash.of("SKU-\($0)")) })
        #expect(try catalogue.subtracting(asked).count == 79_920)  // the other way round: 119,880 less the 39,960 shared
    }

    @Test func anUnwritableFolderIsANamedError() throws {
        do {
            _ = try KeyPartitions(temporaryDirectory: "/nonexistent-voxbatch")
            Issue.record("partitions were made in a folder that does not exist")
        } catch let error as KeyPartitionsError {
            #expect(error.errno == ENOENT)
            #expect(error.description == "cannot check the file's keys against the catalogue: /nonexistent-voxbatch: No such file or directory")
        }
    }
}

@Suite struct KeySetTests {
    @Test func everyHashIsFoundAcrossGrowthAndAbsentOnesAreNot() {
        var set = KeySet(capacity: 10)
        let hashes: [UInt64] = [0, 1, .max] + (1..<60_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        for h in hashes {
            let inserted = set.insert(h)
            #expect(inserted == (h != 1), "hash \(h)")  // 0 and 1 share a slot by design
        }
        #expect(set.count == hashes.count - 1)
        #expect(hashes.allSatisfy { set.contains($0) })
        let again = set.insert(.max)
        #expect(!again)
        let absent = (60_000..<70_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        #expect(absent.allSatisfy { !set.contains($0) })
    }
}
