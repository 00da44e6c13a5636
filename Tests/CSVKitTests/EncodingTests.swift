import Testing
@testable import CSVKit

@Suite struct EncodingTests {
    private func records(_ bytes: [UInt8], _ encoding: CSVEncoding = .auto, chunk: Int = .max) throws
        -> ([[String]], CSVEncoding)
    {
        let reader = try CSVReader(source: MemorySource(bytes, chunkLimit: chunk),
                                   configuration: .init(hasHeader: false, encoding: encoding))
        var out: [[String]] = []
        while try reader.next() { out.append(reader.fields) }
        return (out, reader.encoding)
    }

    @Test func windows1252IsConvertedIncludingC1Range() throws {
        // "Crème" (0xE8) and the euro sign (0x80), which ISO-8859-1 lacks.
        let bytes: [UInt8] = Array("SCARF-CR".utf8) + [0xC8] + Array("ME,".utf8) + [0x80] + Array("12\r\n".utf8)
        let (out, encoding) = try records(bytes)
        #expect(encoding == .windows1252)
        #expect(out == [["SCARF-CRÈME", "€12"]])
        #expect(try records(bytes, .windows1252).0 == out)
    }

    @Test func iso88591MapsBytesToTheSameCodePoints() throws {
        let (out, _) = try records([0x41, 0xE9, 0x2C, 0x80, 0x0A], .iso88591)
        #expect(out == [["Aé", "\u{80}"]])
    }

    @Test(arguments: [1, 3, 1024])
    func utf16LittleEndianWithBOMIsDetected(_ chunk: Int) throws {
        var bytes: [UInt8] = [0xFF, 0xFE]
        for unit in "sku,name\r\nA1,Ünïcødé 🎉\r\n".utf16 { bytes += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        let (out, encoding) = try records(bytes, chunk: chunk)
        #expect(encoding == .utf16LE)
        #expect(out == [["sku", "name"], ["A1", "Ünïcødé 🎉"]])
    }

    @Test func utf16BigEndianWithBOMIsDetected() throws {
        var bytes: [UInt8] = [0xFE, 0xFF]
        for unit in "a,ß\n".utf16 { bytes += [UInt8(unit >> 8), UInt8(unit & 0xFF)] }
        #expect(try records(bytes).0 == [["a", "ß"]])
    }

    @Test func loneSurrogateInUTF16IsAnEncodingError() throws {
        let bytes: [UInt8] = [0xFF, 0xFE, 0x41, 0x00, 0x00, 0xDC, 0x0A, 0x00]
        #expect {
            _ = try records(bytes)
        } throws: { ($0 as? CSVError)?.code == .invalidEncoding }
    }

    @Test func validUTF8WithoutBOMIsDetectedAsUTF8() throws {
        let (out, encoding) = try records(Array("Schönhauser Allee,10439\n".utf8))
        #expect(encoding == .utf8)
        #expect(out == [["Schönhauser Allee", "10439"]])
    }

    @Test func encodingNamesAreParsedAsUsersWriteThem() {
        #expect(CSVEncoding(name: "UTF8") == .utf8)
        #expect(CSVEncoding(name: "cp1252") == .windows1252)
        #expect(CSVEncoding(name: "latin1") == .iso88591)
        #expect(CSVEncoding(name: "ebcdic") == nil)
    }

    @Test func utf8ValidatorRejectsOverlongsAndSurrogates() {
        func check(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBufferPointer { UTF8Check.firstInvalid(in: $0) } }
        #expect(check(Array("héllo €".utf8)) == nil)
        #expect(check([0xC0, 0x80]) == 0)  // overlong NUL
        #expect(check([0x41, 0xED, 0xA0, 0x80]) == 1)  // UTF-16 surrogate
        #expect(check([0xF4, 0x90, 0x80, 0x80]) == 0)  // above U+10FFFF
        #expect(check([0xE2, 0x82]) == 0)  // truncated
    }
}
