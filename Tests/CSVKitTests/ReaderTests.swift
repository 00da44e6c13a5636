import Testing
@testable import CSVKit

@Suite struct ReaderTests {
    @Test func readsSimpleRecords() throws {
        let out = try readAll("a,b,c\n1,2,3\n")
        #expect(out.records == [["a", "b", "c"], ["1", "2", "3"]])
        #expect(out.errors.isEmpty)
    }

    @Test func readsQuotedFieldsWithDelimitersQuotesAndNewlines() throws {
        let out = try readAll("\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\nx,\"\",z\n")
        #expect(out.records == [["a,b", "say \"hi\"", "two\nlines"], ["x", "", "z"]])
    }

    @Test(arguments: ["\n", "\r\n", "\r"])
    func acceptsEveryLineEnding(_ ending: String) throws {
        let text = ["h1,h2", "1,2", "3,4"].joined(separator: ending) + ending
        let out = try readAll(text)
        #expect(out.records == [["h1", "h2"], ["1", "2"], ["3", "4"]])
        #expect(out.lines == [1, 2, 3])
    }

    @Test func lastRecordWithoutLineEndingIsRead() throws {
        #expect(try readAll("a,b\n1,2").records == [["a", "b"], ["1", "2"]])
        #expect(try readAll("a,b\n1,").records == [["a", "b"], ["1", ""]])
    }

    @Test func emptyTrailingAndBlankLinesAreSkippedButCounted() throws {
        let out = try readAll("a,b\n\n1,2\r\n\r\n")
        #expect(out.records == [["a", "b"], ["1", "2"]])
        #expect(out.lines == [1, 3])
    }

    @Test func emptyInputHasNoRecords() throws {
        #expect(try readAll("").records.isEmpty)
        #expect(try readAll("\n\n").records.isEmpty)
    }

    @Test func skipsUTF8ByteOrderMark() throws {
        let out = try readAll(bytes: [0xEF, 0xBB, 0xBF] + Array("Item code,Qty\nA,1\n".utf8),
                              CSVConfiguration(hasHeader: true))
        #expect(out.records == [["A", "1"]])
    }

    @Test(arguments: [(";", UInt8(ascii: ";")), ("tab", UInt8(9)), ("|", UInt8(ascii: "|"))])
    func honoursConfiguredDelimiter(_ name: String, _ byte: UInt8) throws {
        #expect(CSVConfiguration.delimiter(named: name) == byte)
        let d = String(UnicodeScalar(byte))
        let text = "a\(d)\"b\(d)c\"\(d)d\n"
        #expect(try readAll(text, CSVConfiguration(delimiter: byte, hasHeader: false)).records == [["a", "b\(d)c", "d"]])
    }

    @Test func rejectsUnusableDelimiters() {
        #expect(CSVConfiguration.delimiter(named: "\"") == nil)
        #expect(CSVConfiguration.delimiter(named: ",,") == nil)
        #expect(CSVConfiguration.delimiter(named: "é") == nil)
    }

    @Test func headerLookupIgnoresCaseSpacesAndOrder() throws {
        let reader = try CSVReader(source: MemorySource("Qty, Item Code ,salesorder_number\n2,SKU-1,ORD-9\n"))
        #expect(try reader.next())
        #expect(reader.field(named: "ITEMCODE") == "SKU-1")
        #expect(reader.field(named: "Salesorder number") == "ORD-9")
        #expect(reader.field(named: "qty") == "2")
        #expect(reader.field(named: "missing") == nil)
        #expect(reader.header?.names == ["Qty", "Item Code", "salesorder_number"])
        #expect(reader.recordNumber == 1)
        #expect(reader.line == 2)
    }

    @Test func recordKnowsItsNumberAndStartingLine() throws {
        let reader = try CSVReader(source: MemorySource("h\n\"a\nb\"\nc\n\n\"d\r\ne\"\nf\n"))
        var seen: [(Int, Int, String)] = []
        while try reader.next() { seen.append((reader.recordNumber, reader.line, reader.field(0))) }
        #expect(seen.map(\.0) == [1, 2, 3, 4])
        #expect(seen.map(\.1) == [2, 4, 6, 8])
        #expect(seen.map(\.2) == ["a\nb", "c", "d\r\ne", "f"])
    }

    @Test func fieldBytesNeedNoStringAllocation() throws {
        let reader = try CSVReader(source: MemorySource("a,\"b\"\"c\"\n"), configuration: .init(hasHeader: false))
        #expect(try reader.next())
        let first = reader.withFieldBytes(0) { Array($0) }
        let second = reader.withFieldBytes(1) { Array($0) }
        #expect(first == Array("a".utf8))
        #expect(second == Array("b\"c".utf8))
    }

    @Test(arguments: [1, 2, 3, 5, 7, 64])
    func recordsSplitAcrossEveryChunkBoundaryParseTheSame(_ chunk: Int) throws {
        let text = "id,\"note, with \"\"quotes\"\"\",x\r\n1,\"multi\r\nline\",\r\n2,plain,\"\"\r\n3,end,z"
        let whole = try readAll(text)
        let split = try readAll(text, CSVConfiguration(hasHeader: false, chunkSize: 256), chunk: chunk)
        #expect(split == whole)
        #expect(whole.records.count == 4)
    }

    @Test func memoryStaysFlatOnALargeStream() throws {
        let config = CSVConfiguration(hasHeader: false, chunkSize: 64 * 1024)
        let reader = try CSVReader(source: GeneratedSource(records: 300_000), configuration: config)
        let initial = reader.bufferCapacity
        var count = 0
        while try reader.next() {
            count += 1
            #expect(reader.fieldCount == 4)
        }
        #expect(count == 300_000)
        // Two buffers (one being parsed, one being read ahead), each a chunk plus room for a cut record.
        #expect(initial == 4 * 64 * 1024)
        #expect(reader.bufferCapacity == initial)
    }
}

@Suite struct MalformedInputTests {
    @Test func unterminatedQuoteAtEndOfFileIsReported() throws {
        let error = try #require(try firstError("a,b\n1,\"never closed\n2,3\n"))
        #expect(error.code == .unterminatedQuote)
        #expect(error.line == 2)
        #expect(error.recordNumber == 2)
        #expect(error.column == 2)
        #expect(error.excerpt.hasPrefix("\"never closed\\n"))
    }

    @Test func quoteInsideUnquotedFieldIsReportedWithExcerpt() throws {
        let error = try #require(try firstError("name,qty\nEmma \"Em\" Clarke,1\n", .init()))
        #expect(error.code == .unexpectedQuote)
        #expect(error.recordNumber == 1)
        #expect(error.line == 2)
        #expect(error.column == 1)
        #expect(error.fields == ["Emma \"Em\" Clarke", "1"])
        #expect(error.excerpt.contains("Emma"))
    }

    @Test func textAfterClosingQuoteIsReported() throws {
        let error = try #require(try firstError("\"abc\"def,1\n"))
        #expect(error.code == .unexpectedQuote)
        #expect(error.fields == ["\"abc\"def", "1"])
    }

    @Test func tooManyAndTooFewFieldsAreReported() throws {
        let out = try readAll("a,b,c\n1,2,3\n1,2\n1,2,3,4\n4,5,6\n")
        #expect(out.records == [["a", "b", "c"], ["1", "2", "3"], ["4", "5", "6"]])
        #expect(out.errors == [.fieldCountMismatch, .fieldCountMismatch])
        let error = try #require(try firstError("a,b\n1,2,3\n", .init()))
        #expect(error.message.contains("3 fields, expected 2"))
        #expect(error.column == 3)
    }

    @Test func fieldOverTheLimitIsReported() throws {
        let big = String(repeating: "x", count: 100)
        let config = CSVConfiguration(hasHeader: false, maxFieldBytes: 50)
        let out = try readAll("ok,1\n\(big),2\nfine,3\n", config)
        #expect(out.errors == [.fieldTooLarge])
        #expect(out.records == [["ok", "1"], ["fine", "3"]])
    }

    @Test func recordOverTheLimitIsSkippedAndReadingContinues() throws {
        let big = String(repeating: "y", count: 5000)
        let config = CSVConfiguration(hasHeader: false, maxRecordBytes: 1024, chunkSize: 512)
        let out = try readAll("a,1\n\"\(big)\n\(big)\",2\nb,3\n", config)
        #expect(out.errors == [.recordTooLarge])
        #expect(out.records == [["a", "1"], ["b", "3"]])
        #expect(out.lines == [1, 4])
    }

    @Test func tooManyFieldsIsReportedWithoutUnboundedGrowth() throws {
        let config = CSVConfiguration(hasHeader: false, maxFieldCount: 100)
        let wide = Array(repeating: "1", count: 1000).joined(separator: ",")
        let out = try readAll("\(wide)\n", config)
        #expect(out.errors == [.tooManyFields])
    }

    @Test func nulByteIsReported() throws {
        let out = try readAll(bytes: Array("a,b\n1,x".utf8) + [0] + Array("y\n3,4\n".utf8))
        #expect(out.errors == [.nulByte])
        #expect(out.records == [["a", "b"], ["3", "4"]])
    }

    @Test func invalidUTF8IsReportedNeverReplaced() throws {
        let bytes = Array("sku,name\n1,caf".utf8) + [0xC3, 0x28] + Array("\n2,ok\n".utf8)
        let config = CSVConfiguration(hasHeader: true, encoding: .utf8)
        let reader = try CSVReader(source: MemorySource(bytes), configuration: config)
        do {
            _ = try reader.next()
            Issue.record("expected an encoding error")
        } catch let error as CSVError {
            #expect(error.code == .invalidEncoding)
            #expect(error.column == 2)
            #expect(error.message.contains("C3 28"))
        }
        #expect(try reader.next())
        #expect(reader.fields == ["2", "ok"])
    }

    @Test func strictModeStopsAtFirstErrorLenientReportsAll() throws {
        let text = "a,b\n1\n2,\"x\"y\n3,4\n"
        let lenient = try readAll(text, .init(hasHeader: true, mode: .lenient))
        #expect(lenient.errors == [.fieldCountMismatch, .unexpectedQuote])
        #expect(lenient.records == [["3", "4"]])
        let strict = try readAll(text, .init(hasHeader: true, mode: .strict))
        #expect(strict.errors == [.fieldCountMismatch])
        #expect(strict.records.isEmpty)
    }

    @Test func malformedHeaderIsFatal() throws {
        let reader = try CSVReader(source: MemorySource("a,\"b\nc,d"), configuration: .init())
        #expect(throws: CSVError.self) { _ = try reader.next() }
        #expect(try reader.next() == false)
    }

    @Test func errorDescriptionNamesLineRecordAndField() throws {
        let error = try #require(try firstError("h1,h2\nok,\"bad\"x\n", .init()))
        #expect(error.description.hasPrefix("line 2, record 1, field 2: text follows the closing quote"))
    }

    @Test func unreadableFileIsAClearIOError() {
        #expect {
            _ = try CSVReader(path: "/nonexistent/orders.csv")
        } throws: { error in
            let e = error as? CSVError
            return e?.code == .io && e!.message.contains("/nonexistent/orders.csv")
        }
    }
}
