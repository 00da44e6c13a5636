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
    let reader = try CSVReader(source: MemorySource(bytes, chunkLimit: chunk), configuration: config)
    var outcome = Outcome()
    while true {
        do {
            guard try reader.next() else { break }
            outcome.records.append(reader.fields)
            outcome.lines.append(reader.line)
        } catch let error as CSVError {
            outcome.errors.append(error.code)
            if config.mode == .strict { break }
        }
    }
    return outcome
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
