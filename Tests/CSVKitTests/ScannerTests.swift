import CCSVScan
import PropertyBased
import Testing

@_spi(Testing) @testable import CSVKit

/// The SIMD scanner (CCSVScan) must read every input exactly as the careful Swift parser does: the same
/// records, fields, line numbers and errors. Each instruction-set variant is checked on this machine.
@Suite(.serialized) struct ScannerTests {
    typealias Event = ReadEvent

    static func events(_ bytes: [UInt8], scanner: Bool, chunk: Int, header: Bool = false,
                       mode: CSVConfiguration.Mode = .lenient) throws -> (events: [Event], scanned: Int) {
        var config = CSVConfiguration(hasHeader: header, encoding: .utf8, mode: mode, chunkSize: 256)
        config.usesScanner = scanner
        return try readEvents(bytes: bytes, config, chunk: chunk)
    }

    /// The variants this CPU can run, widest first (probing selects them; "best" restores the default).
    static var kinds: [String] {
        let names: [String] = ["avx2", "sse2", "scalar"]
        let kinds = names.filter { vb_csv_scan_select($0) == 1 }
        _ = vb_csv_scan_select("best")
        return kinds
    }

    /// Pieces of CSV, well formed or not, including ones long enough to cross 64-byte blocks.
    static let pieces: [[UInt8]] = [
        "a", "bcdefghij", String(repeating: "x", count: 70), "\"", "\"\"", ",", ",", ",", "\n", "\n", "\r\n", "\r",
        "\"quoted, with comma\"", "\"say \"\"hi\"\"\"", "\"two\nlines\"", "\"cr\rinside\"", "é", "🎉", "\0",
        "\u{FFFD}",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0x80]]
    static let token = Gen.element(of: pieces).map { $0 ?? [] }

    @Test func agreesWithTheCarefulParserOnAnyInput() async {
        for kind in Self.kinds {
            #expect(vb_csv_scan_select(kind) == 1)
            await propertyCheck(count: 400, input: Self.token.array(of: 0...80), Gen.int(in: 1...300)) { tokens, chunk in
                let bytes = Array(tokens.joined())
                let careful = try Self.events(bytes, scanner: false, chunk: chunk)
                let scanned = try Self.events(bytes, scanner: true, chunk: chunk)
                #expect(scanned.events == careful.events, "\(kind): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
        _ = vb_csv_scan_select("best")
    }

    /// Well-formed files written by CSVWriter: the scanner must agree, and parse (nearly) all records itself.
    @Test func parsesWellFormedFilesItself() async {
        let field = Gen.oneOf(
            Gen.letterOrNumber.string(of: 0...12),
            Gen.letterOrNumber.string(of: 50...140),
            Gen.element(of: ["with, comma", "say \"hi\"", "two\nlines", "\"\"", "Zoë", "a\"", "\"b"]).map { $0 ?? "" }
        )
        for kind in Self.kinds {
            #expect(vb_csv_scan_select(kind) == 1)
            await propertyCheck(count: 150, input: field.array(of: 3...12).array(of: 2...30), Gen.int(in: 1...4096)) {
                records, chunk in
                let sink = MemorySink()
                let writer = CSVWriter(sink: sink, guardsFormulas: false)
                let width = records.map(\.count).max() ?? 0
                for record in records {
                    try? writer.write(record: record + Array(repeating: "", count: width - record.count))
                }
                try? writer.flush()
                let careful = try Self.events(sink.bytes, scanner: false, chunk: chunk)
                let scanned = try Self.events(sink.bytes, scanner: true, chunk: chunk)
                #expect(scanned.events == careful.events, "\(kind)")
                #expect(careful.events.allSatisfy { if case .record = $0 { true } else { false } })
                // Well-formed records never need the careful parser, whatever the reads.
                #expect(scanned.scanned == records.count, "\(kind)")
            }
        }
        _ = vb_csv_scan_select("best")
    }

    /// Quotes, doubled quotes and line breaks placed on each side of a 64-byte block boundary.
    @Test func handlesEveryPositionAroundABlockBoundary() throws {
        let specials = ["\"\"", "\n", "\r\n", ",", "\"a\"\"b\"", "\"x\ny\"", "é"]
        for kind in Self.kinds {
            #expect(vb_csv_scan_select(kind) == 1)
            for special in specials {
                for offset in 50...70 {
                    let prefix = String(repeating: "p", count: offset)
                    let text = "\(prefix),\"\(special == "\"\"" ? "q\"\"q" : "q")\",\(special == "," ? "" : "z")\n"
                        + "\"\(prefix)\(special.replacingOccurrences(of: "\"", with: "\"\""))\",2,3\r\n"
                        + "\(prefix)\(special == "\n" || special == "\r\n" ? "" : special),y\n"
                    let bytes = Array(text.utf8)
                    let careful = try Self.events(bytes, scanner: false, chunk: .max)
                    let scanned = try Self.events(bytes, scanner: true, chunk: .max)
                    #expect(scanned.events == careful.events, "\(kind) \(special.debugDescription) at \(offset)")
                }
            }
        }
        _ = vb_csv_scan_select("best")
    }

    /// CR LF line ends, and quotes, with the CR, the LF or a quote on the last byte of a block.
    @Test func readsLineEndsSplitAcrossBlocks() throws {
        for kind in Self.kinds {
            #expect(vb_csv_scan_select(kind) == 1)
            for offset in 55...70 {
                let long = String(repeating: "a", count: offset)
                for text in ["\(long),b\r\nc,d\r\n\(long)x,e\r\n", "\"\(long)\",b\r\n\"\(long)\"\"\",c\r\n",
                             "\(long),\"q\"\n\(long)\r\r\nz,\"\"\r\n"] {
                    let bytes = Array(text.utf8)
                    let careful = try Self.events(bytes, scanner: false, chunk: .max)
                    let indexed = try Self.events(bytes, scanner: true, chunk: .max)
                    #expect(indexed.events == careful.events, "\(kind) \(text.debugDescription)")
                    // None needs care: every record (or field-count error) came from the index.
                    #expect(indexed.scanned == careful.events.count, "\(kind) \(text.debugDescription)")
                }
            }
        }
        _ = vb_csv_scan_select("best")
    }

    @Test func unescapesDoubledQuotesAndCountsLines() throws {
        let text = "id,note\n1,\"say \"\"hi\"\"\"\n2,\"two\nlines\"\n3,\"\"\"\"\n4,end\n"
        let (events, scanned) = try Self.events(Array(text.utf8), scanner: true, chunk: .max, header: true)
        #expect(events == [
            .record(fields: ["1", "say \"hi\""], number: 1, line: 2),
            .record(fields: ["2", "two\nlines"], number: 2, line: 3),
            .record(fields: ["3", "\""], number: 3, line: 5),
            .record(fields: ["4", "end"], number: 4, line: 6),
        ])
        #expect(scanned == 5)  // the header too
    }

    @Test func leavesMalformedRecordsToTheCarefulParser() throws {
        let text = "a,b\n1,x\"y\n2,\"open\" text\n3,ok\n"
        let (events, scanned) = try Self.events(Array(text.utf8), scanner: true, chunk: .max, header: true)
        #expect(events.count == 3)
        #expect(events[0] == .error(.unexpectedQuote, number: 1, line: 2, column: 2, excerpt: #"x"y\n"#))
        if case .error(.unexpectedQuote, 2, 3, 2, _) = events[1] {} else { Issue.record("got \(events[1])") }
        #expect(events[2] == .record(fields: ["3", "ok"], number: 3, line: 4))
        #expect(scanned <= 2)  // never the malformed ones (their neighbours in the same block may go careful too)
    }

    @Test func reportsInvalidTextFoundInScannedRecords() throws {
        let bytes = Array("a,b\n1,caf".utf8) + [0xE9] + Array("\n2,nul\0\n3,Zoë\n".utf8)
        let (events, _) = try Self.events(bytes, scanner: true, chunk: .max, header: true)
        #expect(events.count == 3)
        if case .error(.invalidEncoding, 1, 2, 2, _) = events[0] {} else { Issue.record("got \(events[0])") }
        if case .error(.nulByte, 2, 3, 2, _) = events[1] {} else { Issue.record("got \(events[1])") }
        #expect(events[2] == .record(fields: ["3", "Zoë"], number: 3, line: 4))
    }

    @Test func usesTheWidestVariantThisMachineHas() {
        let kinds = Self.kinds
        #expect(String(cString: vb_csv_scan_kind()) == kinds.first)
        #if arch(x86_64)
        #expect(kinds.contains("sse2"))
        #endif
    }
}
