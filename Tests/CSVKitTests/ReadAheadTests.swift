import CCSVScan
import Dispatch
import PropertyBased
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@_spi(Testing) @testable import CSVKit

/// Reading ahead on another thread must change nothing but speed: the same records, lines and errors
/// as direct reads, for any input, any read sizes and any limits.
@Suite struct ReadAheadTests {
    static func events(_ bytes: [UInt8], readsAhead: Bool, wholeChunks: Bool = false, chunkSize: Int, chunk: Int,
                       maxRecordBytes: Int, mode: CSVConfiguration.Mode) throws -> [ReadEvent] {
        var config = CSVConfiguration(hasHeader: false, encoding: .utf8, mode: mode, maxRecordBytes: maxRecordBytes,
                                      chunkSize: chunkSize, readsAhead: readsAhead)
        config.readAheadScansWholeChunks = wholeChunks
        return try readEvents(bytes: bytes, config, chunk: chunk).events
    }

    /// Short and long pieces: records longer than the room kept in front of a chunk take the path that
    /// appends chunks to them, and some are longer than the record limit.
    static let token = Gen.oneOf(
        Gen.element(of: ScannerTests.pieces).map { $0 ?? [] },
        Gen.int(in: 200...3000).map { Array(repeating: UInt8(ascii: "w"), count: $0) }
    )

    @Test func readsEveryInputAsDirectReadsDo() async {
        await propertyCheck(
            count: 300, input: Self.token.array(of: 0...60), Gen.element(of: [256, 300, 1024, 70_000]).map { $0 ?? 256 },
            Gen.int(in: 1...5000), Gen.element(of: [1024, 4096, 8 << 20]).map { $0 ?? 1024 }, Gen.bool
        ) { tokens, chunkSize, chunk, maxRecordBytes, strict in
            let bytes = Array(tokens.joined())
            let mode: CSVConfiguration.Mode = strict ? .strict : .lenient
            let direct = try Self.events(bytes, readsAhead: false, chunkSize: chunkSize, chunk: chunk,
                                         maxRecordBytes: maxRecordBytes, mode: mode)
            let ahead = try Self.events(bytes, readsAhead: true, chunkSize: chunkSize, chunk: chunk,
                                        maxRecordBytes: maxRecordBytes, mode: mode)
            #expect(ahead == direct, "chunkSize \(chunkSize), reads of \(chunk), limit \(maxRecordBytes), \(mode)")
            // The same with every chunk's records found by the read-ahead thread, as far as it can.
            let scannedAhead = try Self.events(bytes, readsAhead: true, wholeChunks: true, chunkSize: chunkSize,
                                               chunk: chunk, maxRecordBytes: maxRecordBytes, mode: mode)
            #expect(scannedAhead == direct, "whole chunks: chunkSize \(chunkSize), reads of \(chunk), limit \(maxRecordBytes), \(mode)")
        }
    }

    /// With whole chunks scanned ahead, the records of a well-formed file come from the read-ahead
    /// thread, except the one cut by each chunk's end; also where chunks begin inside quoted fields.
    @Test func theReadAheadThreadFindsMostRecords() throws {
        let sink = MemorySink()
        let writer = CSVWriter(sink: sink, guardsFormulas: false)
        for i in 1...5000 { try writer.write(record: ["ORD-\(i)", "Zoë, \"Z\" Brontë", "\(i % 7)", "two\nlines"]) }
        try writer.flush()
        var config = CSVConfiguration(hasHeader: false, encoding: .utf8, chunkSize: 4096)
        config.readAheadScansWholeChunks = true
        let reader = try CSVReader(source: MemorySource(sink.bytes), configuration: config)
        var records = 0
        while try reader.next() {
            #expect(reader.field(0) == "ORD-\(records + 1)")
            #expect(reader.field(1) == "Zoë, \"Z\" Brontë")
            records += 1
        }
        #expect(records == 5000)
        #expect(reader.scannedRecords == 5000)
        // The reader itself reads only the record each chunk cut (whether or not it was cut inside quotes).
        let chunks = (sink.bytes.count + 4095) / 4096
        #expect(reader.recordsFoundAhead >= 5000 - chunks)
    }

    /// Limits as large as `Int.max` (no limit at all) must not overflow the buffer arithmetic.
    @Test(arguments: [false, true]) func limitsOfIntMaxAreNoLimit(readsAhead: Bool) throws {
        let long = String(repeating: "x", count: 3000)
        let text = (1...200).map { "\($0),\"\(long)\"\n" }.joined()
        var config = CSVConfiguration(hasHeader: false, maxFieldBytes: .max, maxRecordBytes: .max, maxFieldCount: .max,
                                      chunkSize: 1024, readsAhead: readsAhead)
        config.readAheadScansWholeChunks = readsAhead
        let outcome = try readAll(text, config, chunk: 700)
        #expect(outcome.errors.isEmpty)
        #expect(outcome.records.count == 200)
        #expect(outcome.records.last == ["200", long])
    }

    @Test func countsBytesAcrossBlocksAndLaneLimits() {
        for length in [0, 1, 15, 16, 17, 255 * 16 - 1, 255 * 16, 255 * 16 + 17, 100_000] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 % 3 == 0 ? 0x22 : $0) }
            let expected = bytes.filter { $0 == 0x22 }.count
            #expect(bytes.withUnsafeBufferPointer { vb_count_byte($0.baseAddress, $0.count, 0x22) } == expected)
        }
    }

    @Test func transcodedFilesReadTheSame() throws {
        let text = (1...5000).map { "\($0),Zoë Brontë,\"Straße \($0), 1\"\r\n" }.joined()
        let latin1 = text.unicodeScalars.map { UInt8($0.value) }
        var outcomes: [[ReadEvent]] = []
        for readsAhead in [false, true] {
            let config = CSVConfiguration(hasHeader: false, encoding: .windows1252, chunkSize: 4096, readsAhead: readsAhead)
            outcomes.append(try readEvents(bytes: latin1, config, chunk: 777).events)
        }
        #expect(outcomes[0] == outcomes[1])
        #expect(outcomes[1].count == 5000)
        #expect(outcomes[1].last == .record(fields: ["5000", "Zoë Brontë", "Straße 5000, 1"], number: 5000, line: 5000))
    }

    /// A read that fails part-way (a dropped network mount, say) is reported once, and no record before
    /// or after it is lost or read twice: the reader keeps what it had and the next call reads on.
    @Test(arguments: [false, true]) func aFailedReadLosesNoRecord(readsAhead: Bool) throws {
        let lines = (1...20_000).map { "ORD-\($0),\($0 % 9)\n" }
        let source = FailingOnceSource(bytes: Array(lines.joined().utf8), failAt: 150_001)
        let config = CSVConfiguration(hasHeader: false, chunkSize: 4096, readsAhead: readsAhead)
        let reader = try CSVReader(source: source, configuration: config)
        var orders: [String] = []
        var failures = 0
        while true {
            do {
                guard try reader.next() else { break }
                orders.append(reader.field(0))
            } catch let error as CSVError {
                #expect(error.code == .io)
                failures += 1
            }
        }
        #expect(failures == 1)
        #expect(orders == (1...20_000).map { "ORD-\($0)" })
    }

    /// When the read-ahead queue has not begun a read by the time the reader needs it (all cores busy),
    /// the reader does it itself rather than wait; the queued work then leaves that request alone.
    @Test(.timeLimit(.minutes(1))) func aReadTheQueueHasNotBegunIsDoneByTheReader() throws {
        let ahead = ReadAhead(source: MemorySource("helloworld", chunkLimit: 5))
        let first = UnsafeMutableRawBufferPointer.allocate(byteCount: 5, alignment: 1)
        let second = UnsafeMutableRawBufferPointer.allocate(byteCount: 5, alignment: 1)
        defer {
            first.deallocate()
            second.deallocate()
        }
        ahead.queue.suspend()
        ahead.start(into: first)
        #expect(try ahead.wait().count == 5)  // with the queue suspended, only the caller could have read it
        #expect(Array(first) == Array("hello".utf8))
        first.initializeMemory(as: UInt8.self, repeating: 0)
        ahead.queue.resume()  // the stale work item runs now and must not take the next request
        ahead.start(into: second)
        #expect(try ahead.wait().count == 5)
        #expect(Array(second) == Array("world".utf8))
        #expect(first.allSatisfy { $0 == 0 })
        ahead.start(into: second)
        #expect(try ahead.wait().count == 0)
    }

    /// Dropping a reader while its read-ahead waits on an idle pipe must not block on the pipe.
    @Test(.timeLimit(.minutes(1))) func droppingAReaderDoesNotWaitForAnIdlePipe() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let readEnd = ends[0], writeEnd = ends[1]
        let written = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let records = (1...5000).map { "\($0),sku-\($0),1\n" }.joined()  // about 70 KB: more than one pipe's worth
        DispatchQueue.global().async {
            records.utf8.withContiguousStorageIfAvailable { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = write(writeEnd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n <= 0 { break }
                    offset += n
                }
            }
            written.signal()
            release.wait()  // the pipe stays open and idle until the reader is gone
            close(writeEnd)
        }
        do {
            // The source closes the pipe once the read pending on it is over (not before: another test
            // could be given the same descriptor number).
            let reader = try CSVReader(source: FileDescriptorSource(descriptor: readEnd, closeOnDeinit: true),
                                       configuration: .init(hasHeader: false))
            #expect(try reader.next())
            #expect(reader.field(1) == "sku-1")
            written.wait()
        }  // the reader is released here, with a read pending on the idle pipe
        release.signal()
    }
}

/// Serves `bytes`, and fails once when a read would start at or past `failAt`.
private struct FailingOnceSource: ByteSource {
    let bytes: [UInt8]
    let failAt: Int
    var offset = 0
    var failed = false

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !failed && offset >= failAt {
            failed = true
            throw CSVError(code: .io, message: "cannot read: Input/output error")
        }
        let n = min(buffer.count, bytes.count - offset, 1000)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
    }
}
