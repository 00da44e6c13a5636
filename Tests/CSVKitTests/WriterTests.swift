import PropertyBased
import Testing
@testable import CSVKit

@Suite struct WriterTests {
    private func write(_ records: [[String]], _ configure: (MemorySink) -> CSVWriter = { CSVWriter(sink: $0) })
        throws -> String
    {
        let sink = MemorySink()
        let writer = configure(sink)
        for record in records { try writer.write(record: record) }
        try writer.flush()
        return sink.text
    }

    @Test func quotesOnlyWhenNeeded() throws {
        let text = try write([["plain", "a,b", "say \"hi\"", "two\nlines", "cr\rhere", ""]])
        #expect(text == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\",\r\n")
    }

    @Test(arguments: [0, 7, -7, 10, 500, -1_000_000, Int.max, Int.min])
    func integersAreWrittenAsTheirDecimalText(_ n: Int) throws {
        let sink = MemorySink()
        let writer = CSVWriter(sink: sink)
        try writer.write(field: "SKU-1")
        try writer.write(integer: n)
        try writer.write(integer: n)
        try writer.endRecord()
        try writer.flush()
        #expect(sink.text == "SKU-1,\(n),\(n)\r\n")
    }

    @Test func lineEndingIsConfigurable() throws {
        #expect(try write([["a"], ["b"]]) == "a\r\nb\r\n")
        #expect(try write([["a"], ["b"]]) { CSVWriter(sink: $0, lineEnding: .lf) } == "a\nb\n")
    }

    @Test func semicolonDelimiterQuotesFieldsContainingIt() throws {
        let text = try write([["1;2", "x,y"]]) { CSVWriter(sink: $0, delimiter: UInt8(ascii: ";")) }
        #expect(text == "\"1;2\";x,y\r\n")
    }

    @Test(arguments: ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
                      "\tTAB", "\rCR"])
    func neutralisesFormulaInjection(_ value: String) throws {
        let text = try write([[value]])
        let reader = try CSVReader(source: MemorySource(text), configuration: .init(hasHeader: false))
        #expect(try reader.next())
        #expect(reader.field(0) == "'" + value)
    }

    @Test(arguments: ["-12.50", "+44", "-3", "12", "-.5"])
    func leavesNumbersWithSignsAlone(_ value: String) throws {
        #expect(try write([[value]]) == value + "\r\n")
    }

    @Test func formulaGuardCanBeTurnedOffPerColumnOrEntirely() throws {
        let perColumn = try write([["=A1", "=B1"]]) { CSVWriter(sink: $0, unguardedColumns: [1]) }
        #expect(perColumn == "'=A1,=B1\r\n")
        let off = try write([["=A1"]]) { CSVWriter(sink: $0, guardsFormulas: false) }
        #expect(off == "=A1\r\n")
    }

    @Test func writesLargeOutputThroughTheSinkInPieces() throws {
        let records = (0..<20_000).map { ["ORD-\($0)", "some text, quoted", "\($0)"] }
        let text = try write(records)
        var reader = try CSVReader(source: MemorySource(text), configuration: .init(hasHeader: false))
        var count = 0
        while try reader.next() {
            #expect(reader.fields == records[count])
            count += 1
        }
        #expect(count == 20_000)
        reader = try CSVReader(source: MemorySource(""), configuration: .init())
        #expect(try reader.next() == false)
    }
}

@Suite struct RoundTripTests {
    /// Fields built from the characters that matter to CSV: delimiters, quotes, both line breaks,
    /// spaces, formula starters and non-ASCII text.
    static let field = Gen.oneOf(
        Gen.letterOrNumber.string(of: 0...8),
        Gen.element(of: [",", "\"", "\r\n", "\n", "\r", " ", ";", "é", "🎉", "\"\"", "a\"b", ",\n\""])
            .array(of: 1...6).map { $0.map { $0 ?? "" }.joined() }
    )

    @Test func writeThenReadGivesTheSameFields() async {
        await propertyCheck(count: 300, input: Self.field.array(of: 1...6).array(of: 1...8), Gen.int(in: 1...9)) {
            records, chunk in
            let sink = MemorySink()
            let writer = CSVWriter(sink: sink, guardsFormulas: false)
            for record in records { try? writer.write(record: record) }
            try? writer.flush()
            do {
                let reader = try CSVReader(source: MemorySource(sink.bytes, chunkLimit: chunk),
                                           configuration: .init(hasHeader: false, requiresUniformFieldCount: false,
                                                                chunkSize: 256))
                var read: [[String]] = []
                while try reader.next() { read.append(reader.fields) }
                // A record that is a single empty field is written as an empty line, which readers skip.
                #expect(read == records.filter { $0 != [""] })
            } catch {
                Issue.record("reading back failed: \(error)")
            }
        }
    }

    /// Fields with what quoting and the formula guard look at, anywhere in them.
    static let guardedField = Gen.element(of: [",", "\"", "\r\n", "\n", "\r", " ", ";", "é", "=", "+", "-", "@", "\t",
                                               "12", "-3.5", "+44", "x", "", String(repeating: "long", count: 9)])
        .array(of: 0...4).map { $0.map { $0 ?? "" }.joined() }

    /// With each variant of the SIMD pass that copies records needing neither quotes nor the guard.
    @Test func packedRecordsAreWrittenAsTheirFieldsWouldBe() async {
        for wide in [true, false] {
            await propertyCheck(count: 400, input: Self.guardedField.array(of: 0...5).array(of: 1...6), Gen.int(in: 0...7)) {
                records, setting in
                func writer(_ sink: MemorySink) -> CSVWriter {
                    CSVWriter(sink: sink, delimiter: UInt8(ascii: setting & 1 == 0 ? "," : ";"),
                              lineEnding: setting & 2 == 0 ? .crlf : .lf, guardsFormulas: setting & 4 == 0,
                              unguardedColumns: setting == 0 ? [1] : [])
                }
                let direct = MemorySink(), packed = MemorySink()
                let one = writer(direct), other = writer(packed)
                other.copiesWide = wide
                var bytes: [UInt8] = []
                for record in records {
                    try? one.write(record: record)
                    for field in record { bytes += Array(field.utf8) + [0x1F] }
                    bytes.append(0x1E)
                }
                try? bytes.withUnsafeBufferPointer { try other.write(packedRecords: $0) }
                try? one.flush()
                try? other.flush()
                #expect(packed.bytes == direct.bytes, "wide: \(wide)")
                #expect(other.recordCount == records.count)
            }
        }
    }

    /// A field that needs quotes or the guard at every offset from a 32-byte block's start, after records that
    /// need neither (copied in one pass) and before more of them.
    @Test func packedRecordsNeedingCareAreFoundAtEveryOffset() throws {
        for wide in [true, false] {
            for tricky in ["=1+2", "-x", "@a", "\tb", "a,b", "a\"b", "a\nb", "-12.5"] {
                for offset in 0..<70 {
                    let records = [["plain", "text"], [String(repeating: "x", count: offset), tricky, "y"],
                                   [String(repeating: "z", count: 100)]]  // long enough for the block after it
                    let direct = MemorySink(), packed = MemorySink()
                    let one = CSVWriter(sink: direct), other = CSVWriter(sink: packed)
                    other.copiesWide = wide
                    var bytes: [UInt8] = []
                    for record in records {
                        try one.write(record: record)
                        for field in record { bytes += Array(field.utf8) + [0x1F] }
                        bytes.append(0x1E)
                    }
                    try bytes.withUnsafeBufferPointer { try other.write(packedRecords: $0) }
                    try one.flush()
                    try other.flush()
                    #expect(packed.bytes == direct.bytes, "wide: \(wide), \(tricky.debugDescription) after \(offset)")
                }
            }
        }
    }

    @Test func roundTripsWithSemicolonAndLF() async {
        await propertyCheck(count: 150, input: Self.field.array(of: 2...5).array(of: 1...5)) { records in
            let sink = MemorySink()
            let writer = CSVWriter(sink: sink, delimiter: UInt8(ascii: ";"), lineEnding: .lf, guardsFormulas: false)
            for record in records { try? writer.write(record: record) }
            try? writer.flush()
            let reader = try? CSVReader(source: MemorySource(sink.bytes),
                                        configuration: .init(delimiter: UInt8(ascii: ";"), hasHeader: false,
                                                             requiresUniformFieldCount: false))
            var read: [[String]] = []
            while (try? reader?.next()) == true { read.append(reader!.fields) }
            #expect(read == records)
        }
    }
}
