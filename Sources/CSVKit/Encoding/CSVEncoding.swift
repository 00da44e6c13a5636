/// The text encodings voxbatch reads.
///
/// Everything is converted to UTF-8 before parsing, so the parser and validators work on one encoding.
public enum CSVEncoding: String, Sendable, Hashable, CaseIterable {
    /// Byte-order mark if there is one, otherwise UTF-8 if the start of the file is valid UTF-8,
    /// otherwise Windows-1252 (what spreadsheet exports on Windows produce).
    case auto
    /// UTF-8, with or without a byte-order mark; invalid sequences are reported, never replaced.
    case utf8 = "utf-8"
    /// Windows code page 1252 (Western European), a superset of ISO-8859-1's printable characters.
    case windows1252 = "windows-1252"
    /// ISO-8859-1 (Latin-1).
    case iso88591 = "iso-8859-1"
    /// UTF-16 little endian (with or without byte-order mark).
    case utf16LE = "utf-16le"
    /// UTF-16 big endian (with or without byte-order mark).
    case utf16BE = "utf-16be"

    /// Parses a name as users write it (`utf8`, `UTF-8`, `cp1252`, `latin1`, ...).
    public init?(name: String) {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        switch key {
        case "auto": self = .auto
        case "utf-8", "utf8": self = .utf8
        case "windows-1252", "cp1252", "win1252", "windows1252": self = .windows1252
        case "iso-8859-1", "latin1", "latin-1", "iso8859-1": self = .iso88591
        case "utf-16le", "utf16le", "utf-16", "utf16": self = .utf16LE
        case "utf-16be", "utf16be": self = .utf16BE
        default: return nil
        }
    }
}

private extension String {
    func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}

/// Works out a file's encoding from its first bytes.
enum EncodingSniffer {
    /// The encoding and the number of byte-order-mark bytes to skip.
    static func detect(_ head: [UInt8], configured: CSVEncoding) -> (CSVEncoding, bomLength: Int) {
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { return (.utf8, 3) }
        if head.starts(with: [0xFF, 0xFE]) { return (.utf16LE, 2) }
        if head.starts(with: [0xFE, 0xFF]) { return (.utf16BE, 2) }
        guard configured == .auto else { return (configured, 0) }
        let valid = head.withUnsafeBufferPointer { UTF8Check.firstInvalid(in: $0, allowTruncatedEnd: true) == nil }
        return (valid ? .utf8 : .windows1252, 0)
    }
}

/// UTF-8 checks for the slow path (finding where a record's text is wrong) and encoding detection.
enum UTF8Check {
    /// The offset of the first invalid UTF-8 sequence, or `nil` if all bytes are valid.
    ///
    /// - Parameter allowTruncatedEnd: Accept an incomplete sequence at the very end (a chunk boundary).
    static func firstInvalid(in bytes: UnsafeBufferPointer<UInt8>, allowTruncatedEnd: Bool = false) -> Int? {
        var i = 0
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        while i < n {
            // ASCII runs, eight bytes at a time.
            while i + 8 <= n && raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < n else { break }
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return i
            }
            for k in 1..<length {
                if i + k >= n { return allowTruncatedEnd ? nil : i }
                let c = bytes[i + k]
                let lo: UInt8 = k == 1 ? lower : 0x80
                let hi: UInt8 = k == 1 ? upper : 0xBF
                if c < lo || c > hi { return i }
            }
            i += length
        }
        return nil
    }
}
