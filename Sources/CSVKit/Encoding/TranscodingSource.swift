/// Converts a byte stream in a single-byte or UTF-16 encoding to UTF-8 as it is read.
struct TranscodingSource: ByteSource {
    private var inner: any ByteSource
    private let encoding: CSVEncoding
    private var input: [UInt8]
    private var pending: [UInt8] = []  // converted bytes not yet handed out
    private var pendingOffset = 0
    private var carry: [UInt8] = []  // an odd byte or a lone high surrogate from the previous chunk
    private var finished = false

    init(_ inner: any ByteSource, encoding: CSVEncoding, chunkSize: Int = 1 << 18) {
        self.inner = inner
        self.encoding = encoding
        self.input = [UInt8](repeating: 0, count: chunkSize)
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while pendingOffset >= pending.count {
            if finished { return 0 }
            pending.removeAll(keepingCapacity: true)
            pendingOffset = 0
            let n = try input.withUnsafeMutableBytes { try inner.read(into: $0) }
            if n == 0 {
                finished = true
                if !carry.isEmpty {
                    throw CSVError(
                        code: .invalidEncoding,
                        message: "the file ends in the middle of a \(encoding.rawValue) character")
                }
                return 0
            }
            try convert(count: n)
        }
        let n = min(buffer.count, pending.count - pendingOffset)
        pending.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + pendingOffset, byteCount: n)
        }
        pendingOffset += n
        return n
    }

    private mutating func convert(count n: Int) throws {
        switch encoding {
        case .windows1252, .iso88591:
            let table = encoding == .windows1252 ? Windows1252.table : nil
            for i in 0..<n {
                let b = input[i]
                if b < 0x80 {
                    pending.append(b)
                } else {
                    let scalar = table.map { $0[Int(b) - 0x80] } ?? UInt32(b)
                    appendUTF8(scalar)
                }
            }
        case .utf16LE, .utf16BE:
            var units = carry
            carry.removeAll()
            units.append(contentsOf: input[0..<n])
            var i = 0
            while i + 1 < units.count {
                let unit = encoding == .utf16LE
                    ? UInt16(units[i]) | UInt16(units[i + 1]) << 8
                    : UInt16(units[i]) << 8 | UInt16(units[i + 1])
                if (0xD800...0xDBFF).contains(unit) {
                    guard i + 3 < units.count else { break }  // the pair continues in the next chunk
                    let low = encoding == .utf16LE
                        ? UInt16(units[i + 2]) | UInt16(units[i + 3]) << 8
                        : UInt16(units[i + 2]) << 8 | UInt16(units[i + 3])
                    guard (0xDC00...0xDFFF).contains(low) else { throw invalidUTF16() }
                    appendUTF8(0x10000 + (UInt32(unit - 0xD800) << 10) + UInt32(low - 0xDC00))
                    i += 4
                } else if (0xDC00...0xDFFF).contains(unit) {
                    throw invalidUTF16()
                } else {
                    appendUTF8(UInt32(unit))
                    i += 2
                }
            }
            carry.append(contentsOf: units[i...])
        case .auto, .utf8:
            pending.append(contentsOf: input[0..<n])
        }
    }

    private func invalidUTF16() -> CSVError {
        CSVError(code: .invalidEncoding, message: "the file is not valid \(encoding.rawValue): a lone surrogate")
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            pending.append(UInt8(scalar))
        case 0x80..<0x800:
            pending.append(UInt8(0xC0 | (scalar >> 6)))
            pending.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            pending.append(UInt8(0xE0 | (scalar >> 12)))
            pending.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            pending.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            pending.append(UInt8(0xF0 | (scalar >> 18)))
            pending.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            pending.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            pending.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}

/// Windows-1252's mapping of bytes 0x80–0x9F; 0xA0–0xFF are the same as Latin-1.
enum Windows1252 {
    static let table: [UInt32] = {
        let c1: [UInt32] = [
            0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152,
            0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122,
            0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
        ]
        return c1 + (0xA0...0xFF).map { UInt32($0) }
    }()
}
