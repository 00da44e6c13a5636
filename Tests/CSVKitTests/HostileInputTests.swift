@testable import CSVKit
import Testing

/// Files built to hurt: each ends in a clear, typed error without an unbounded allocation.
@Suite struct HostileInputTests {
    /// Produces `count` bytes of `byte` without holding them (a 2 GB file costs nothing to make).
    struct RepeatingSource: ByteSource {
        var remaining: Int
        let byte: UInt8
        var prefix: [UInt8]

        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            if !prefix.isEmpty {
                let n = min(buffer.count, prefix.count)
                buffer.copyBytes(from: prefix[0..<n])
                prefix.removeFirst(n)
                return n
            }
            let n = min(buffer.count, remaining)
            guard n > 0 else { return 0 }
            buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: byte, count: n)
            remaining -= n
            return n
        }
    }

    @Test func aTwoGigabyteSingleLineIsRefusedAtTheRecordLimitWithoutReadingItIntoMemory() throws {
        let source = RepeatingSource(remaining: 2 << 30, byte: UInt8(ascii: "x"), prefix: Array("sku,qty\n".utf8))
        let reader = try CSVReader(source: source, configuration: .init(mode: .strict))
        do {
            _ = try reader.next()
            Issue.record("a 2 GB record was accepted")
        } catch let error as CSVError {
            #expect([.recordTooLarge, .fieldTooLarge].contains(error.code))
            #expect(error.line == 2)
        }
        // The buffer never grew past the record limit (8 MiB) plus one chunk.
        #expect(reader.bufferCapacity <= (8 << 20) + (1 << 20) * 2)
    }

    @Test func aMillionColumnHeaderIsRefusedAtTheFieldCountLimit() throws {
        let header = String(repeating: "c,", count: 1_000_000) + "c\n"
        let reader = try CSVReader(source: MemorySource(header + "1\n"))
        #expect {
            _ = try reader.next()
        } throws: { error in
            let e = error as? CSVError
            return e?.code == .tooManyFields && e?.recordNumber == 0
        }
    }

    @Test func aFileThatClaimsUTF8AndIsNotIsAReportedErrorNeverSilentlyReplaced() throws {
        let bytes = Array("sku,name\nA1,".utf8) + [0x43, 0x61, 0x66, 0xE9] + Array("\nA2,ok\n".utf8)  // "Café" in Latin-1
        let reader = try CSVReader(source: MemorySource(bytes), configuration: .init(encoding: .utf8))
        var errors: [CSVError.Code] = []
        var rows: [String] = []
        while true {
            do {
                guard try reader.next() else { break }
                rows.append(reader.field(0))
            } catch let e as CSVError {
                errors.append(e.code)
            }
        }
        #expect(errors == [.invalidEncoding])
        #expect(rows == ["A2"])  // the good row after it is still read
    }
}
