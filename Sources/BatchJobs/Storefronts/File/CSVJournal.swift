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

    /// Every row, header excluded, as `[column: value]`.
    func rows() throws -> [[String: String]] {
        try open()
        let reader = try CSVReader(path: path)
        var rows: [[String: String]] = []
        while try reader.next() {
            guard let names = reader.header?.names else { continue }
            var row: [String: String] = [:]
            for (i, name) in names.enumerated() where i < reader.fieldCount { row[name] = reader.field(i) }
            rows.append(row)
        }
        return rows
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
    /// and no string per value); the row is ended here.
    func append(_ fields: (CSVWriter) throws -> Void) throws {
        try fields(writer)
        try writer.endRecord()
    }

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
