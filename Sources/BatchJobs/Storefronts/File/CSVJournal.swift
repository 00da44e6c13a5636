import CSVKit
import Foundation

/// An append-only CSV file that survives crashes: rows are buffered, then appended with one `write`
/// and made durable with `fsync`; a torn last line left by a crash is cut off when the journal is first used.
///
/// Nothing touches the file until then: a storefront is made before its job takes the job lock, and a run
/// that then finds the job held elsewhere must not write a header or cut a line another node is writing.
///
/// Values are written verbatim (no spreadsheet formula guard): the journals are read by machine, by the
/// shop's import and by the storefront itself when it reads its state back, and a `'` added before an
/// order number or SKU starting with `-` would make it another one.
final class CSVJournal {
    let path: String
    let header: [String]
    private let sink = MemorySink()
    private let writer: CSVWriter
    private var opened = false

    /// The journal at `path` (created with `header` on first use if it does not exist).
    init(path: String, header: [String]) {
        self.path = path
        self.header = header
        writer = Self.writer(sink)
    }

    /// Creates the file with its header, or cuts a torn last line off an existing one; once.
    private func open() throws {
        guard !opened else { return }
        if !FileManager.default.fileExists(atPath: path) {
            let first = MemorySink()
            let w = Self.writer(first)
            try w.write(record: header)
            try w.flush()
            try Self.append(first.bytes, to: path)
        } else {
            try repairTornTail()
        }
        opened = true
    }

    /// Calls `body` with each row, header excluded, where it is read: a journal grows with the shop's history, so
    /// its rows are never all held. The row gives the values of `columns`, by their place in that list (their
    /// places in the file looked up once, from its header).
    func forEachRow(columns: [String], _ body: (JournalLine) throws -> Void) throws {
        try open()
        let reader = try CSVReader(path: path)
        var line: JournalLine?
        while try reader.next() {
            guard let header = reader.header else { continue }
            if line == nil { line = JournalLine(reader: reader, places: columns.map { header.index(of: $0) ?? -1 }) }
            try body(line!)
        }
    }

    private static func writer(_ sink: MemorySink) -> CSVWriter {
        CSVWriter(sink: sink, lineEnding: .lf, guardsFormulas: false)
    }

    /// Buffers a row in the header's order, verbatim.
    func append(_ values: [String: String]) throws {
        try writer.write(record: header.map { values[$0] ?? "" })
    }

    /// Buffers a row given in the header's order (the hot paths: no dictionary per row).
    func append(row values: [String]) throws {
        precondition(values.count == header.count, "\(path): a row of \(values.count) values for \(header.count) columns")
        try writer.write(record: values)
    }

    /// Buffers a row that `fields` writes field by field, in the header's order (the hottest path: no array
    /// and no string per value); the row is ended here. The fields are gathered packed, and the row goes to the
    /// file the way a packed record does (``CSVWriter/write(packedRecords:fieldEnd:recordEnd:)``: one pass, where
    /// quoting each field looked at each byte); `fields` is run again, straight into the writer, when a value
    /// holds a packing separator or another control character.
    func append(_ fields: (any JournalRow) throws -> Void) throws {
        packed.removeAll()
        try fields(packed)
        packed.endRow()
        if packed.isOneRow(of: header.count) {
            try packed.withBytes { try writer.write(packedRecords: $0) }
        } else {
            try fields(writer)
            try writer.endRecord()
        }
    }

    private let packed = PackedRow()

    /// Appends the buffered rows and syncs.
    func flush() throws {
        try writer.flush()
        guard !sink.bytes.isEmpty else { return }
        try open()
        try Self.append(sink.bytes, to: path)
        // The same buffer for the next batch: a new one grew again from nothing each time, its pages faulted in anew.
        sink.removeAll()
    }

    private static func append(_ bytes: [UInt8], to path: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorefrontError(storefront: "file", message: "cannot open \(path): \(String(cString: strerror(errno)))", isTransient: false) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StorefrontError(storefront: "file", message: "cannot write \(path): \(String(cString: strerror(errno)))",
                                      isTransient: false)
            }
            offset += n
        }
        guard fsync(fd) == 0 else {
            throw StorefrontError(storefront: "file", message: "cannot sync \(path): \(String(cString: strerror(errno)))",
                                  isTransient: false)
        }
    }

    /// Cuts a partial last line (a crash mid-append) so the next append starts on a line of its own.
    private func repairTornTail() throws {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return }
        var end = size
        var byte: UInt8 = 0
        // Walk back to the last newline; rows are short, so this reads a few hundred bytes at most.
        while end > 0 {
            _ = pread(fd, &byte, 1, end - 1)
            if byte == UInt8(ascii: "\n") { break }
            end -= 1
        }
        if end < size { _ = ftruncate(fd, end) }
    }
}

/// A journal row as it is read (``CSVJournal/forEachRow(columns:_:)``).
struct JournalLine {
    let reader: CSVReader
    /// Each asked-for column's place in the file (-1: the file has no such column).
    let places: [Int]

    /// The value of the `n`th column asked for; `nil` when the file has no such column or the row is short.
    subscript(_ n: Int) -> String? {
        let place = places[n]
        guard place >= 0, place < reader.fieldCount else { return nil }
        return reader.field(place)
    }
}

/// Where a journal row's fields are written, in the header's order.
protocol JournalRow {
    func write(field: String) throws
    func write(fieldBytes: UnsafeBufferPointer<UInt8>) throws
    func write(integer: Int) throws
}

extension CSVWriter: JournalRow {}

/// A row's fields packed: each followed by a unit separator (0x1F), the row by a record separator (0x1E). The bytes
/// are kept in a buffer of its own, copied in with `memcpy` (an array's `append(contentsOf:)` cost ~170
/// instructions a field), its state behind a pointer (a class's `var` is checked for exclusive access on every use).
final class PackedRow: JournalRow {
    private struct State {
        var base = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        var capacity = 256
        var count = 0
        var ends: [Int32] = []

        /// Room for `more` bytes.
        mutating func reserve(_ more: Int) {
            guard count + more > capacity else { return }
            capacity = max(capacity * 2, count + more)
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            grown.update(from: base, count: count)
            base.deallocate()
            base = grown
        }

        mutating func put(_ byte: UInt8) {
            base[count] = byte
            count += 1
        }
    }
    private let state = UnsafeMutablePointer<State>.allocate(capacity: 1)

    init() { state.initialize(to: State()) }

    deinit {
        state.pointee.base.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    func removeAll() { state.pointee.count = 0 }

    func write(fieldBytes: UnsafeBufferPointer<UInt8>) {
        state.pointee.reserve(fieldBytes.count + 1)
        if let from = fieldBytes.baseAddress, !fieldBytes.isEmpty {
            (state.pointee.base + state.pointee.count).update(from: from, count: fieldBytes.count)
            state.pointee.count += fieldBytes.count
        }
        state.pointee.put(PackedSeparators.fieldEnd)
    }

    func write(field: String) {
        var field = field
        field.withUTF8 { write(fieldBytes: $0) }
    }

    func write(integer: Int) {
        state.pointee.reserve(21)
        state.pointee.count += writeDecimal(integer, to: state.pointee.base + state.pointee.count)
        state.pointee.put(PackedSeparators.fieldEnd)
    }

    func endRow() {
        state.pointee.reserve(1)
        state.pointee.put(PackedSeparators.rowEnd)
    }

    /// Whether the bytes are one row of `fields` fields: no value held a separator (or another control character).
    func isOneRow(of fields: Int) -> Bool {
        let bytes = UnsafeBufferPointer(start: state.pointee.base, count: state.pointee.count)
        guard let found = PackedSeparators.find(in: bytes, into: &state.pointee.ends) else { return false }
        return found.rows == 1 && found.count == fields + 1
    }

    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: state.pointee.base, count: state.pointee.count))
    }
}
