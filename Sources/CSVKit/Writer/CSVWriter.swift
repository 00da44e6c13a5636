import CCSVScan

/// Writes RFC 4180 CSV, quoting only when needed and guarding against spreadsheet formula injection.
///
/// A text field that starts with `=`, `+`, `-`, `@`, tab or CR would be run as a formula by Excel and
/// similar tools when a person opens the file; by default such a field is written with a leading
/// apostrophe. Numbers (`-12.50`) are left alone, and the guard can be turned off per column for
/// columns that must keep their exact bytes.
public final class CSVWriter {
    /// How records end.
    public enum LineEnding: String, Sendable {
        /// `\r\n`, as RFC 4180 and Windows tools expect.
        case crlf
        /// `\n`.
        case lf

        var bytes: [UInt8] { self == .crlf ? [0x0D, 0x0A] : [0x0A] }
    }

    private var sink: any ByteSink
    private let delimiter: UInt8
    private let lineEnding: [UInt8]
    private let guardsFormulas: Bool
    private let unguardedColumns: Set<Int>
    /// What changes as fields are written, behind a pointer: a class's `var` is checked for exclusive access
    /// at run time on every use (about 7% of an export's time went to those checks, a few per field); a
    /// `let` pointer's target is not.
    private struct State {
        var buffer: [UInt8] = []
        /// Where plain packed records are written before they join `buffer` (a plain allocation: appended from a
        /// pointer, they are one `memcpy`).
        var scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 1024)
        var scratchCapacity = 1024
        var copiesWide = true
        var column = 0
        var recordCount = 0
    }
    private let state: UnsafeMutablePointer<State>
    private let flushThreshold = 256 * 1024
    /// Whether plain packed records are copied with AVX2 where the CPU has it (tests turn it off to run the byte loop).
    var copiesWide: Bool {
        get { state.pointee.copiesWide }
        set { state.pointee.copiesWide = newValue }
    }
    /// The number of records written so far.
    public var recordCount: Int { state.pointee.recordCount }

    /// Creates a writer.
    ///
    /// - Parameters:
    ///   - sink: Where the bytes go.
    ///   - delimiter: The field separator.
    ///   - lineEnding: CRLF (default) or LF.
    ///   - guardsFormulas: Whether to neutralise formula-like text fields (default on).
    ///   - unguardedColumns: 0-based columns written verbatim even when guarding is on.
    public init(
        sink: some ByteSink, delimiter: UInt8 = UInt8(ascii: ","), lineEnding: LineEnding = .crlf,
        guardsFormulas: Bool = true, unguardedColumns: Set<Int> = []
    ) {
        self.sink = sink
        self.delimiter = delimiter
        self.lineEnding = lineEnding.bytes
        self.guardsFormulas = guardsFormulas
        self.unguardedColumns = unguardedColumns
        state = .allocate(capacity: 1)
        state.initialize(to: State())
        state.pointee.buffer.reserveCapacity(16 * 1024)  // grows to the flush threshold only when a file is that big
    }

    deinit {
        state.pointee.scratch.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Writes one field of the current record.
    public func write(field: String) throws {
        var text = field
        text.withUTF8 { appendField($0) }
        if state.pointee.buffer.count >= flushThreshold { try flush() }
    }

    /// Writes one field given as UTF-8 bytes.
    public func write(fieldBytes: UnsafeBufferPointer<UInt8>) throws {
        appendField(fieldBytes)
        if state.pointee.buffer.count >= flushThreshold { try flush() }
    }

    /// Writes one field holding an integer, in decimal, without making a string of it.
    public func write(integer: Int) throws {
        if state.pointee.column > 0 { state.pointee.buffer.append(delimiter) }
        state.pointee.column += 1
        var magnitude = integer.magnitude
        if integer < 0 { state.pointee.buffer.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits, filled from the end
        withUnsafeMutableBytes(of: &digits) { raw in
            var end = raw.count
            repeat {
                end -= 1
                raw[end] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            state.pointee.buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[end...]))
        }
        if state.pointee.buffer.count >= flushThreshold { try flush() }
    }

    /// Ends the current record.
    public func endRecord() throws {
        state.pointee.buffer.append(contentsOf: lineEnding)
        state.pointee.column = 0
        state.pointee.recordCount += 1
        if state.pointee.buffer.count >= flushThreshold { try flush() }
    }

    /// Writes a whole record.
    public func write(record: some Sequence<String>) throws {
        for field in record { try write(field: field) }
        try endRecord()
    }

    /// Writes whole records given packed: each field's bytes followed by `fieldEnd`, each record's fields followed
    /// by `recordEnd` (two bytes no field holds). The bytes are those of writing each field and ending each
    /// record; records none of whose fields needs quotes or a formula guard are copied as they are, with the
    /// delimiter and line ends put in (in one pass, SIMD where the CPU has it), rather than field by field.
    public func write(packedRecords bytes: UnsafeBufferPointer<UInt8>, fieldEnd: UInt8 = 0x1F,
                      recordEnd: UInt8 = 0x1E) throws {
        precondition(state.pointee.column == 0, "packed records start a record")
        let n = bytes.count
        var start = 0
        while start < n {
            // The records that need neither quotes nor the guard, in one pass (SIMD where the CPU has it).
            start += writePlain(UnsafeBufferPointer(rebasing: bytes[start...]), fieldEnd: fieldEnd, recordEnd: recordEnd)
            if state.pointee.buffer.count >= flushThreshold { try flush() }
            guard start < n else { break }
            // The next record needs quotes or the guard: field by field.
            var end = start
            while end < n && bytes[end] != recordEnd { end += 1 }
            precondition(end < n, "a packed record ends with its record separator")
            var fieldStart = start
            for k in start..<end where bytes[k] == fieldEnd {
                appendField(UnsafeBufferPointer(rebasing: bytes[fieldStart..<k]))
                fieldStart = k + 1
            }
            try endRecord()
            start = end + 1
        }
    }

    /// Writes the leading packed records of `bytes` that need no quotes and no formula guard; returns the bytes used.
    private func writePlain(_ bytes: UnsafeBufferPointer<UInt8>, fieldEnd: UInt8, recordEnd: UInt8) -> Int {
        let room = bytes.count * (1 + lineEnding.count)
        if state.pointee.scratchCapacity < room {
            state.pointee.scratch.deallocate()
            state.pointee.scratchCapacity = max(room, state.pointee.scratchCapacity * 2)
            state.pointee.scratch = .allocate(capacity: state.pointee.scratchCapacity)
        }
        let out = state.pointee.scratch
        var written = 0, records = 0
        let used = lineEnding.withUnsafeBufferPointer { eol in
            vb_packed_write_plain(bytes.baseAddress, bytes.count, fieldEnd, recordEnd, delimiter, guardsFormulas ? 1 : 0,
                                  eol.baseAddress, eol.count, out, &written, &records, state.pointee.copiesWide ? 1 : 0)
        }
        state.pointee.buffer.append(contentsOf: UnsafeBufferPointer(start: out, count: written))
        state.pointee.recordCount += records
        return used
    }

    /// Sends buffered bytes to the sink. Call before closing the sink.
    public func flush() throws {
        guard !state.pointee.buffer.isEmpty else { return }
        try state.pointee.buffer.withUnsafeBytes { try sink.write($0) }
        state.pointee.buffer.removeAll(keepingCapacity: true)
    }

    private func appendField(_ bytes: UnsafeBufferPointer<UInt8>) {
        if state.pointee.column > 0 { state.pointee.buffer.append(delimiter) }
        let guarded = guardsFormulas && Self.looksLikeFormula(bytes) && !unguardedColumns.contains(state.pointee.column)  // cheapest first
        state.pointee.column += 1
        var needsQuotes = guarded && bytes.first == 0x0D
        if !needsQuotes {
            for b in bytes where b == delimiter || b == 0x22 || b == 0x0A || b == 0x0D {
                needsQuotes = true
                break
            }
        }
        if !needsQuotes && !guarded {
            state.pointee.buffer.append(contentsOf: bytes)
            return
        }
        if needsQuotes { state.pointee.buffer.append(0x22) }
        if guarded { state.pointee.buffer.append(UInt8(ascii: "'")) }
        for b in bytes {
            if b == 0x22 { state.pointee.buffer.append(0x22) }
            state.pointee.buffer.append(b)
        }
        if needsQuotes { state.pointee.buffer.append(0x22) }
    }

    /// Whether a field would be taken as a formula by a spreadsheet: it starts with `=`, `+`, `-`, `@`,
    /// tab or CR, and is not a plain number such as `-12.50` or `+44`.
    public static func looksLikeFormula(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first else { return false }
        switch first {
        case UInt8(ascii: "="), UInt8(ascii: "@"), 0x09, 0x0D:
            return true
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            return !isPlainNumber(bytes)
        default:
            return false
        }
    }

    private static func isPlainNumber(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var digits = 0
        var dots = 0
        for (i, b) in bytes.enumerated() {
            if i == 0 && (b == UInt8(ascii: "+") || b == UInt8(ascii: "-")) { continue }
            if b >= 0x30 && b <= 0x39 {
                digits += 1
            } else if b == UInt8(ascii: ".") {
                dots += 1
            } else {
                return false
            }
        }
        return digits > 0 && dots <= 1
    }
}
