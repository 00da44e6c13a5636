import CCSVScan

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

/// UTF-8 checks for encoding detection and for finding where a record's text is wrong (the
/// validator itself is in C, shared with the reader's check of whole records).
enum UTF8Check {
    /// The offset of the first invalid UTF-8 sequence, or `nil` if all bytes are valid.
    ///
    /// - Parameter allowTruncatedEnd: Accept an incomplete sequence at the very end (a chunk boundary).
    static func firstInvalid(in bytes: UnsafeBufferPointer<UInt8>, allowTruncatedEnd: Bool = false) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let offset = vb_utf8_first_invalid(base, bytes.count, allowTruncatedEnd ? 1 : 0, 0)
        return offset < 0 ? nil : offset
    }
}
