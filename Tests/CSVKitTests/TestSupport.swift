@testable import CSVKit

/// Reads every record of `text`, collecting fields or errors, through chunks of `chunk` bytes.
struct Outcome: Equatable {
    var records: [[String]] = []
    var errors: [CSVError.Code] = []
    var lines: [Int] = []
}

func readAll(_ text: String, _ config: CSVConfiguration = .init(hasHeader: false), chunk: Int = .max) throws -> Outcome {
    try readAll(bytes: Array(text.utf8), config, chunk: chunk)
}

func readAll(bytes: [UInt8], _ config: CSVConfiguration = .init(hasHeader: false), chunk: Int = .max) throws
    -> Outcome
{
    var outcome = Outcome()
    for event in try readEvents(bytes: bytes, config, chunk: chunk).events {
        switch event {
        case .record(let fields, _, let line):
            outcome.records.append(fields)
            outcome.lines.append(line)
        case .error(let code, _, _, _, _):
            outcome.errors.append(code)
        }
    }
    return outcome
}

/// Everything a reader reports, in order.
enum ReadEvent: Equatable, CustomStringConvertible {
    case record(fields: [String], number: Int, line: Int)
    case error(CSVError.Code, number: Int, line: Int, column: Int?, excerpt: String)

    var description: String {
        switch self {
        case .record(let fields, let number, let line): "record \(number) line \(line): \(fields)"
        case .error(let code, let number, let line, let column, let excerpt):
            "error \(code) record \(number) line \(line) column \(String(describing: column)) '\(excerpt)'"
        }
    }
}

/// Reads every record of `bytes` through chunks of `chunk` bytes (going on after errors in lenient
/// mode), and how many records the SIMD scanner parsed.
func readEvents(bytes: [UInt8], _ config: CSVConfiguration, chunk: Int) throws -> (events: [ReadEvent], scanned: Int) {
    let reader = try CSVReader(source: MemorySource(bytes, chunkLimit: chunk), configuration: config)
    var events: [ReadEvent] = []
    while true {
        do {
            guard try reader.next() else { break }
            events.append(.record(fields: reader.fields, number: reader.recordNumber, line: reader.line))
        } catch let error as CSVError {
            events.append(.error(error.code, number: error.recordNumber, line: error.line, column: error.column,
                                 excerpt: error.excerpt))
            if config.mode == .strict { break }
        }
    }
    return (events, reader.scannedRecords)
}

/// The first error reading `text`, if any.
func firstError(_ text: String, _ config: CSVConfiguration = .init(hasHeader: false)) throws -> CSVError? {
    let reader = try CSVReader(source: MemorySource(text), configuration: config)
    while true {
        do {
            guard try reader.next() else { return nil }
        } catch let error as CSVError {
            return error
        }
    }
}

/// A source that produces `records` generated rows without holding them in memory.
struct GeneratedSource: ByteSource {
    let records: Int
    var produced = 0
    var pending: [UInt8] = []
    var offset = 0

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if offset >= pending.count {
            guard produced < records else { return 0 }
            pending = Array("ORD-\(produced),\"Line, with comma\",\(produced % 7),\"say \"\"hi\"\"\"\r\n".utf8)
            offset = 0
            produced += 1
        }
        let n = min(buffer.count, pending.count - offset)
        pending.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
    }
}
