import CCSVScan

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming RFC 4180 reader that yields one record at a time without loading the file.
///
/// The reader pulls large chunks from a ``ByteSource`` into a buffer and parses records in place:
/// unquoted fields and quoted fields without doubled quotes are views into that buffer, so reading a
/// field costs no allocation unless the caller asks for a `String`. Memory is bounded by
/// ``CSVConfiguration/maxRecordBytes`` whatever the file size. By default the next chunk is read, and
/// its records found, on a second core meanwhile (``CSVConfiguration/readsAhead``).
///
/// ```swift
/// let reader = try CSVReader(path: "orders.csv")
/// while try reader.next() {
///     let order = reader.field(named: "SalesOrderNumber")
/// }
/// ```
///
/// A malformed record makes ``next()`` throw a ``CSVError`` that carries the record's fields as far as
/// they could be read. In ``CSVConfiguration/Mode/lenient`` mode the caller may catch it and call
/// ``next()`` again to go on with the following record; in strict mode the reader stops.
///
/// Field accessors are valid until the next call to ``next()``.
public final class CSVReader {
    /// The configuration the reader was created with.
    public let configuration: CSVConfiguration
    /// The header, once read (only when ``CSVConfiguration/hasHeader`` is set).
    public var header: CSVHeader? { state.pointee.header }
    /// Bytes taken from the source so far (after transcoding), for progress displays.
    public var bytesRead: Int { state.pointee.bytesRead }
    /// The 1-based number of the current data record (the header is not counted).
    public var recordNumber: Int { state.pointee.recordNumber }
    /// The 1-based physical line on which the current record starts.
    public var line: Int { state.pointee.line }
    /// The encoding in use, after detection.
    public var encoding: CSVEncoding { state.pointee.encoding }

    private var source: any ByteSource
    /// Reads the next chunk on another thread while this one is parsed (``CSVConfiguration/readsAhead``);
    /// it then owns the source.
    private var readAhead: ReadAhead?
    /// Whether the SIMD scanner may try records first: not for delimiters it cannot tell apart from
    /// quotes and line breaks, nor for field limits under a block (it checks lengths per block).
    private let scans: Bool

    /// The reader's mutable state, kept behind a pointer: accesses through it are plain loads and
    /// stores, whereas each access to a stored `var` of a class pays a dynamic exclusivity check that
    /// costs more than parsing a field.
    @usableFromInline let state: UnsafeMutablePointer<State>

    @usableFromInline struct State {
        var header: CSVHeader?
        var recordNumber = 0
        var line = 0
        var encoding = CSVEncoding.utf8
        @usableFromInline var buffer: UnsafeMutablePointer<UInt8>
        var capacity: Int
        /// With read-ahead: the buffer the next chunk is read into, at `headroom`. The few bytes of a
        /// record cut by the chunk's end are copied in front of them, so records stay contiguous.
        var spare: UnsafeMutablePointer<UInt8>?
        var spareCapacity = 0
        var headroom = 0
        /// How many bytes each read asks for.
        var chunk: Int
        var head = 0
        var tail = 0
        var atEOF = false
        var finished = false
        var nextLine = 1
        var expectedFieldCount: Int?
        // Field bounds written by the careful parser, two per field. A start with `scratchFlag` set points
        // into `scratch`, which holds the unescaped text of quoted fields that contained doubled quotes.
        var bounds: UnsafeMutablePointer<Int>
        var boundsCapacity: Int
        @usableFromInline var count = 0
        @usableFromInline var scratch: UnsafeMutablePointer<UInt8>
        var scratchCapacity: Int
        var scratchCount = 0
        var issue: Issue?
        var bytesRead = 0
        /// The current record is known to be free of NUL and non-ASCII bytes (the fast path saw them all).
        var asciiOnly = false
        /// The current record's field bounds (same layout): `bounds`, or its slice of `batchBounds`.
        @usableFromInline var current: UnsafeMutablePointer<Int>
        // Records the SIMD scanner found ahead, and their fields' bounds: in `ownBounds` and `ownBatch`
        // when this thread scanned them, in `found` when the read-ahead thread did.
        var batchBounds: UnsafeMutablePointer<Int>
        var batch: UnsafeMutablePointer<vb_csv_record>
        var batchCount = 0
        var batchNext = 0
        var batchField = 0
        let ownBounds: UnsafeMutablePointer<Int>
        let ownBatch: UnsafeMutablePointer<vb_csv_record>
        /// With read-ahead and the scanner: what the read-ahead thread found in `buffer`, and the arrays
        /// it is filling for `spare`.
        var found: Found?
        var spareFound: Found?
        /// Where the records in `found` begin; -1 when there are none (or they cannot be used).
        var foundStart = -1
        var foundCount = 0
        /// Records the SIMD scanner parsed (the others went through ``parse()``), for tests.
        var scannedRecords = 0
        /// Records of those the read-ahead thread found, for tests.
        var recordsFoundAhead = 0
    }

    /// How many records and fields the SIMD scanner finds per call.
    static let batchRecords = 1024
    static let batchFields = 16 * 1024

    /// Arrays the read-ahead thread writes the records it finds in a chunk to.
    struct Found {
        let bounds: UnsafeMutablePointer<Int>
        let records: UnsafeMutablePointer<vb_csv_record>
        let boundsCapacity: Int
        let recordsCapacity: Int

        /// Room for about a chunk's worth of records.
        init(chunk: Int) {
            boundsCapacity = max(CSVReader.batchFields, chunk / 8)
            recordsCapacity = max(CSVReader.batchRecords, chunk / 64)
            bounds = .allocate(capacity: 2 * boundsCapacity)
            records = .allocate(capacity: recordsCapacity)
        }

        var memory: [UnsafeMutableRawPointer] { [UnsafeMutableRawPointer(bounds), UnsafeMutableRawPointer(records)] }
    }
    /// The most bytes of a cut record carried over in front of the next chunk (with read-ahead); a
    /// longer record has the chunk appended to it instead.
    static let headroom = 64 * 1024

    @usableFromInline var buffer: UnsafeMutablePointer<UInt8> {
        get { state.pointee.buffer }
        set { state.pointee.buffer = newValue }
    }
    private var capacity: Int {
        get { state.pointee.capacity }
        set { state.pointee.capacity = newValue }
    }
    private var head: Int {
        get { state.pointee.head }
        set { state.pointee.head = newValue }
    }
    private var tail: Int {
        get { state.pointee.tail }
        set { state.pointee.tail = newValue }
    }
    private var atEOF: Bool {
        get { state.pointee.atEOF }
        set { state.pointee.atEOF = newValue }
    }
    private var finished: Bool {
        get { state.pointee.finished }
        set { state.pointee.finished = newValue }
    }
    private var bounds: UnsafeMutablePointer<Int> {
        get { state.pointee.bounds }
        set { state.pointee.bounds = newValue }
    }
    private var boundsCapacity: Int {
        get { state.pointee.boundsCapacity }
        set { state.pointee.boundsCapacity = newValue }
    }
    private var count: Int {
        get { state.pointee.count }
        set { state.pointee.count = newValue }
    }
    private var scratch: UnsafeMutablePointer<UInt8> {
        get { state.pointee.scratch }
        set { state.pointee.scratch = newValue }
    }
    private var scratchCapacity: Int {
        get { state.pointee.scratchCapacity }
        set { state.pointee.scratchCapacity = newValue }
    }
    private var scratchCount: Int {
        get { state.pointee.scratchCount }
        set { state.pointee.scratchCount = newValue }
    }
    private var issue: Issue? {
        get { state.pointee.issue }
        set { state.pointee.issue = newValue }
    }
    @usableFromInline static let scratchFlag = 1 << 62

    @usableFromInline struct Issue {
        var code: CSVError.Code
        var column: Int
        var message: String
        var excerptStart: Int
    }

    private enum Step {
        case record(end: Int, newlines: Int)
        case blank(end: Int)
        case needMore
    }

    /// Creates a reader over any byte source.
    ///
    /// - Parameters:
    ///   - source: Where the bytes come from.
    ///   - configuration: Layout and limits.
    /// - Throws: ``CSVError`` when the first bytes cannot be read.
    public init(source: some ByteSource, configuration: CSVConfiguration = .init()) throws {
        self.configuration = configuration
        let chunk = max(256, min(configuration.chunkSize, configuration.maxRecordBytes))
        // With read-ahead, room in front of each chunk for the end of a record cut by the previous one.
        let headroom = configuration.readsAhead ? min(chunk, Self.headroom) : 0
        let capacity = headroom + chunk
        self.state = .allocate(capacity: 1)
        let bounds = UnsafeMutablePointer<Int>.allocate(capacity: 2 * 64)
        let ownBounds = UnsafeMutablePointer<Int>.allocate(capacity: 2 * Self.batchFields)
        let ownBatch = UnsafeMutablePointer<vb_csv_record>.allocate(capacity: Self.batchRecords)
        state.initialize(to: State(
            buffer: .allocate(capacity: capacity), capacity: capacity, headroom: headroom, chunk: chunk,
            bounds: bounds, boundsCapacity: 64,
            scratch: .allocate(capacity: 4096), scratchCapacity: 4096, current: bounds,
            batchBounds: ownBounds, batch: ownBatch, ownBounds: ownBounds, ownBatch: ownBatch))
        self.source = source
        let d = configuration.delimiter
        self.scans = configuration.usesScanner && d != 0x22 && d != 0x0A && d != 0x0D && d < 0x80
            && configuration.maxFieldBytes >= 64
        try detectEncoding()
        if configuration.readsAhead {
            let ahead = ReadAhead(source: self.source, countsQuotes: scans)
            self.source = HandedOverSource()
            let spare = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            state.pointee.spare = spare
            state.pointee.spareCapacity = capacity
            if scans {
                state.pointee.found = Found(chunk: chunk)
                state.pointee.spareFound = Found(chunk: chunk)
            }
            ahead.waitsForWholeScan = configuration.readAheadScansWholeChunks
            readAhead = ahead
            startReadingAhead()
        }
    }

    /// Creates a reader over a file.
    ///
    /// - Throws: ``CSVError`` (`.io`) when the file cannot be opened.
    public convenience init(path: String, configuration: CSVConfiguration = .init()) throws {
        try self.init(source: FileDescriptorSource(path: path), configuration: configuration)
    }

    deinit {
        if let spare = state.pointee.spare {
            let memory = [UnsafeMutableRawPointer(spare)] + (state.pointee.spareFound?.memory ?? [])
            if let readAhead, readAhead.pending {
                readAhead.deallocateAfterPendingRead(memory)
            } else {
                for pointer in memory { pointer.deallocate() }
            }
        }
        for pointer in state.pointee.found?.memory ?? [] { pointer.deallocate() }
        buffer.deallocate()
        bounds.deallocate()
        scratch.deallocate()
        state.pointee.ownBounds.deallocate()
        state.pointee.ownBatch.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    // MARK: - Reading records

    /// Advances to the next data record.
    ///
    /// - Returns: `true` when a record is available through the field accessors, `false` at the end.
    /// - Throws: ``CSVError`` for a malformed record; in lenient mode the next call continues after it.
    public func next() throws -> Bool {
        while !finished {
            if head >= tail {
                if atEOF {
                    finished = true
                    return false
                }
                try refill()
                continue
            }
            let start = head
            switch (scans ? nextScannedRecord() : nil) ?? parse() {
            case .needMore:
                try refill()
            case .blank(let end):
                head = end
                state.pointee.nextLine += 1
            case .record(let end, let newlines):
                head = end
                state.pointee.line = state.pointee.nextLine
                state.pointee.nextLine += 1 + newlines
                if configuration.hasHeader && header == nil {
                    try readHeader(recordStart: start)
                    continue
                }
                state.pointee.recordNumber += 1
                try checkRecord(recordStart: start, recordEnd: end)
                return true
            }
        }
        return false
    }

    /// The SIMD variant the record scanner uses on this CPU: `avx2`, `sse2` or `scalar`.
    public static var scannerKind: String { String(cString: vb_csv_scan_kind()) }

    /// How many records the SIMD scanner parsed so far (the rest went the careful way).
    var scannedRecords: Int { state.pointee.scannedRecords }
    /// How many of those the read-ahead thread found.
    var recordsFoundAhead: Int { state.pointee.recordsFoundAhead }

    /// The size of the read buffers, which grow only for records longer than a chunk.
    var bufferCapacity: Int { capacity + state.pointee.spareCapacity }

    /// The number of fields in the current record.
    @inlinable public var fieldCount: Int { state.pointee.count }

    /// Calls `body` with the bytes of field `index` (UTF-8, unescaped), without allocating.
    ///
    /// - Precondition: `index < fieldCount`.
    @inlinable @inline(__always)
    public func withFieldBytes<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        precondition(index >= 0 && index < state.pointee.count, "field index \(index) out of range")
        return try body(fieldBytes(index))
    }

    /// The text of field `index`.
    public func field(_ index: Int) -> String {
        String(decoding: fieldBytes(index), as: UTF8.self)
    }

    /// The text of the column called `name` (looked up in the header), or `nil` if there is no such
    /// column or the record is too short.
    public func field(named name: String) -> String? {
        guard let i = header?.index(of: name), i < count else { return nil }
        return field(i)
    }

    /// All fields of the current record as strings.
    public var fields: [String] { (0..<count).map(field) }

    @inlinable @inline(__always)
    func fieldBytes(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        let bounds = state.pointee.current
        let s = bounds[2 * index]
        let e = bounds[2 * index + 1]
        if s & CSVReader.scratchFlag != 0 {
            let off = s & ~CSVReader.scratchFlag
            return UnsafeBufferPointer(start: state.pointee.scratch + off, count: e - off)
        }
        return UnsafeBufferPointer(start: state.pointee.buffer + s, count: e - s)
    }

    // MARK: - Buffer management

    /// Reads more bytes after `tail`, keeping those from `head` on, or sets `atEOF` at the end of the
    /// input; a record longer than the limit is skipped (and reported) instead.
    private func refill() throws {
        if tail - head >= configuration.maxRecordBytes {
            try skipOversizedRecord()
            return
        }
        try pull()
    }

    private func pull() throws {
        state.pointee.batchCount = 0  // offsets move
        state.pointee.batchNext = 0
        if let readAhead {
            try pullAhead(readAhead)
            return
        }
        compact()
        if tail == capacity { grow(to: min(capacity * 2, configuration.maxRecordBytes)) }
        let n = try source.read(into: UnsafeMutableRawBufferPointer(start: buffer + tail, count: capacity - tail))
        if n == 0 { atEOF = true } else { tail += n; state.pointee.bytesRead += n }
    }

    /// Where records starting at `head` are looked for: at most ``CSVConfiguration/maxRecordBytes`` on.
    /// Without read-ahead the buffer never holds more; with it, a record longer than the limit must not
    /// be read either: it is found incomplete in the window, and ``refill()`` skips and reports it.
    private var recordWindowEnd: Int { Self.offset(head, plus: configuration.maxRecordBytes, atMost: tail) }

    /// `start + count`, or `limit` if that is smaller; no overflow for limits such as `Int.max`.
    static func offset(_ start: Int, plus count: Int, atMost limit: Int) -> Int {
        limit - start <= count ? limit : start + count
    }

    /// Takes the chunk read ahead into `spare` and starts reading the next one into the buffer it leaves.
    private func pullAhead(_ readAhead: ReadAhead) throws {
        let s = state
        s.pointee.foundStart = -1
        guard readAhead.pending else {  // the end was reached before
            atEOF = true
            return
        }
        let n: Int
        let scanned: ReadAhead.Scanned
        do {
            (n, scanned) = try readAhead.wait()
        } catch {
            // Like a direct read: the next call tries the source again.
            startReadingAhead()
            throw error
        }
        guard n > 0 else {
            atEOF = true
            return
        }
        state.pointee.bytesRead += n
        let headroom = s.pointee.headroom
        let spare = s.pointee.spare!
        let carried = tail - head
        if carried <= headroom {
            // The usual case: the cut record's start goes in front of the new chunk, and the buffers swap.
            (spare + headroom - carried).update(from: buffer + head, count: carried)
            // The read-ahead thread's records are right if it knew whether the chunk began inside quotes.
            if scanned.records > 0 && (vb_count_byte(buffer + head, carried, 0x22) % 2 == 1) == scanned.startsQuoted {
                s.pointee.foundStart = scanned.start
                s.pointee.foundCount = scanned.records
            }
            s.pointee.spare = buffer
            let spareCapacity = s.pointee.spareCapacity
            s.pointee.spareCapacity = capacity
            capacity = spareCapacity
            buffer = spare
            let found = s.pointee.found
            s.pointee.found = s.pointee.spareFound
            s.pointee.spareFound = found
            head = headroom - carried
            tail = headroom + n
        } else {
            // A record longer than the headroom: the new chunk is appended to it (copying n bytes, not
            // the whole record again for every chunk), and what the thread found there is of no use.
            compact()
            if tail + n > capacity {
                let most = Self.offset(configuration.maxRecordBytes, plus: s.pointee.chunk, atMost: .max)
                grow(to: max(tail + n, min(capacity * 2, most)))
            }
            (buffer + tail).update(from: spare + headroom, count: n)
            tail += n
        }
        startReadingAhead()
    }

    /// Asks the read-ahead thread for the next chunk, in `spare`, and for the records in it.
    private func startReadingAhead() {
        let s = state
        let spare = s.pointee.spare!
        let headroom = s.pointee.headroom
        let job = s.pointee.spareFound.map { found in
            ReadAhead.ScanJob(
                base: spare, from: headroom, delimiter: configuration.delimiter,
                maxFieldBytes: configuration.maxFieldBytes, maxFieldCount: configuration.maxFieldCount,
                maxRecordBytes: configuration.maxRecordBytes, bounds: found.bounds,
                boundsCapacity: found.boundsCapacity, records: found.records, recordsCapacity: found.recordsCapacity)
        }
        readAhead!.start(into: UnsafeMutableRawBufferPointer(start: spare + headroom, count: s.pointee.chunk), then: job)
    }

    /// Moves the bytes from `head` on to the start of the buffer.
    private func compact() {
        guard head > 0 else { return }
        if tail > head { memmove(buffer, buffer + head, tail - head) }
        tail -= head
        head = 0
    }

    /// Moves the buffer's bytes into a larger one.
    private func grow(to newCapacity: Int) {
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: buffer, count: tail)
        buffer.deallocate()
        buffer = grown
        capacity = newCapacity
    }

    /// Discards a record longer than the limit, tracking quotes to find where it ends.
    private func skipOversizedRecord() throws {
        let startLine = state.pointee.nextLine
        if configuration.mode == .strict {
            // Strict mode stops here: no need to read the rest of a record that may be gigabytes long.
            state.pointee.recordNumber += 1
            state.pointee.line = startLine
            count = 0
            finished = true
            throw CSVError(code: .recordTooLarge, recordNumber: recordNumber, line: startLine,
                           message: "record is longer than the limit of \(configuration.maxRecordBytes) bytes; reading "
                               + "stopped (strict mode)")
        }
        var inQuotes = false
        var newlines = 0
        var i = head
        while true {
            if i >= tail {
                head = tail  // what was read of the record is dropped
                try pull()
                i = head
                if atEOF { break }
                continue
            }
            let b = buffer[i]
            i += 1
            if b == 0x22 {
                inQuotes.toggle()
            } else if b == 0x0A {
                if !inQuotes { break }
                newlines += 1
            }
        }
        head = i
        state.pointee.nextLine += 1 + newlines
        state.pointee.recordNumber += 1
        state.pointee.line = startLine
        count = 0
        throw CSVError(
            code: .recordTooLarge, recordNumber: recordNumber, line: startLine,
            message: "record is longer than the limit of \(configuration.maxRecordBytes) bytes and was skipped"
                + (inQuotes ? " (a quote is never closed)" : ""))
    }

    private func detectEncoding() throws {
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        // Read enough of the file to recognise a byte-order mark and to sniff the encoding.
        while head.count < 64 * 1024 {
            let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            head.append(contentsOf: chunk[0..<n])
        }
        let (detected, bom) = EncodingSniffer.detect(head, configured: configuration.encoding)
        state.pointee.encoding = detected
        let rest = PrefixedSource(prefix: Array(head.dropFirst(bom)), rest: source)
        switch detected {
        case .utf8, .auto: source = rest
        default: source = TranscodingSource(rest, encoding: detected)
        }
    }

    // MARK: - Parsing

    private func ensureFieldCapacity(_ needed: Int) {
        guard needed > boundsCapacity else { return }
        let newCapacity = max(needed, boundsCapacity * 2)
        let grown = UnsafeMutablePointer<Int>.allocate(capacity: 2 * newCapacity)
        grown.update(from: bounds, count: 2 * count)
        bounds.deallocate()
        bounds = grown
        boundsCapacity = newCapacity
    }

    /// Stores a field's bounds; the slow path of ``parse()``'s inline append (limits and growth).
    private func appendFieldSlowly(start: Int, end: Int) {
        if count >= configuration.maxFieldCount {
            if issue == nil {
                issue = Issue(
                    code: .tooManyFields, column: count + 1,
                    message: "record has more than \(configuration.maxFieldCount) fields", excerptStart: start)
            }
            return
        }
        if count == boundsCapacity { ensureFieldCapacity(count + 1) }
        bounds[2 * count] = start
        bounds[2 * count + 1] = end
        count += 1
        let inScratch = start & CSVReader.scratchFlag != 0
        let length = inScratch ? end - (start & ~CSVReader.scratchFlag) : end - start
        if length > configuration.maxFieldBytes && issue == nil {
            issue = Issue(
                code: .fieldTooLarge, column: count,
                message: "field is \(length) bytes long, over the limit of \(configuration.maxFieldBytes)",
                excerptStart: inScratch ? -1 : start)
        }
    }

    /// Copies a quoted field's content into scratch, turning each doubled quote into one, and returns
    /// the field's bounds in scratch.
    private func unescape(from start: Int, to end: Int) -> (start: Int, end: Int) {
        let needed = scratchCount + (end - start)
        if needed > scratchCapacity {
            let newCapacity = max(needed, scratchCapacity * 2)
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            grown.update(from: scratch, count: scratchCount)
            scratch.deallocate()
            scratch = grown
            scratchCapacity = newCapacity
        }
        let fieldStart = scratchCount
        var i = start
        var o = scratchCount
        while i < end {
            let b = buffer[i]
            scratch[o] = b
            o += 1
            i += (b == 0x22) ? 2 : 1
        }
        scratchCount = o
        return (fieldStart | CSVReader.scratchFlag, o)
    }

    private func noteIssue(_ code: CSVError.Code, column: Int, at position: Int, _ message: String) {
        if issue == nil { issue = Issue(code: code, column: column, message: message, excerptStart: position) }
    }

    /// The fast path: takes the next record the SIMD scanner (CCSVScan) found, scanning ahead when
    /// none is left. `nil` when the record needs ``parse()``: not complete in the buffer, or anything
    /// unusual (malformed quotes, limits, a CR inside quotes), which the careful parser reads and
    /// reports exactly.
    @inline(__always)
    private func nextScannedRecord() -> Step? {
        let s = state
        if s.pointee.batchNext == s.pointee.batchCount {
            s.pointee.batchNext = 0
            s.pointee.batchField = 0
            var end = recordWindowEnd
            if s.pointee.foundStart >= 0 {
                if head == s.pointee.foundStart, let found = s.pointee.found {
                    // The read-ahead thread's records start here: take them.
                    s.pointee.batchBounds = found.bounds
                    s.pointee.batch = found.records
                    s.pointee.batchCount = s.pointee.foundCount
                    s.pointee.recordsFoundAhead += s.pointee.foundCount
                    s.pointee.foundStart = -1
                    return takeScannedRecord()
                }
                if head > s.pointee.foundStart {
                    s.pointee.foundStart = -1  // not a record start after all
                } else {
                    end = min(end, s.pointee.foundStart)  // scan only up to them
                }
            }
            s.pointee.batchBounds = s.pointee.ownBounds
            s.pointee.batch = s.pointee.ownBatch
            s.pointee.batchCount = vb_csv_scan_records(
                s.pointee.buffer, s.pointee.head, end, configuration.delimiter, configuration.maxFieldBytes,
                configuration.maxFieldCount, s.pointee.batchBounds, Self.batchFields, s.pointee.batch,
                Self.batchRecords)
            if s.pointee.batchCount == 0 { return nil }
        }
        return takeScannedRecord()
    }

    /// Makes the next record of the batch the current one.
    @inline(__always)
    private func takeScannedRecord() -> Step {
        let s = state
        let record = s.pointee.batch[s.pointee.batchNext]
        s.pointee.batchNext += 1
        if record.fields == 0 { return .blank(end: record.end) }
        s.pointee.current = s.pointee.batchBounds + 2 * s.pointee.batchField
        s.pointee.batchField += record.fields
        s.pointee.count = record.fields
        s.pointee.scannedRecords += 1
        s.pointee.scratchCount = 0
        s.pointee.issue = nil
        s.pointee.asciiOnly = record.flags & Int32(VB_CSV_CHECK_TEXT) == 0
        if record.flags & Int32(VB_CSV_HAS_ESCAPES) != 0 { unescapeMarkedFields() }
        return .record(end: record.end, newlines: Int(record.newlines))
    }

    /// Moves the fields the scanner marked as holding doubled quotes into scratch, unescaped.
    private func unescapeMarkedFields() {
        let fields = state.pointee.current
        for index in 0..<count {
            let start = fields[2 * index]
            guard start & VB_CSV_ESCAPED_FIELD != 0 else { continue }
            let (s, e) = unescape(from: start & ~VB_CSV_ESCAPED_FIELD, to: fields[2 * index + 1])
            fields[2 * index] = s
            fields[2 * index + 1] = e
        }
    }

    /// Parses one record starting at `head`. Restarts from the record's start after a refill, so a
    /// record split across reads is always parsed from contiguous bytes.
    ///
    /// The hot state (field count, bounds) lives in locals and is written back once, which keeps the
    /// per-field cost to a few instructions (no exclusivity checks on class properties in the loop).
    private func parse() -> Step {
        let base = buffer
        let end = recordWindowEnd
        let eof = atEOF && end == tail
        let delimiter = configuration.delimiter
        let maxFieldBytes = configuration.maxFieldBytes
        let maxFieldCount = configuration.maxFieldCount
        var i = head
        var fields = 0
        var bnd = bounds
        var bcap = boundsCapacity
        var newlines = 0
        scratchCount = 0
        issue = nil
        state.pointee.asciiOnly = false
        state.pointee.batchCount = 0  // quotes may be read differently from here on: scan afresh
        state.pointee.batchNext = 0
        defer {
            count = fields
            state.pointee.current = bounds
        }

        @inline(__always) func append(_ start: Int, _ stop: Int) {
            if fields < bcap && fields < maxFieldCount && stop - start <= maxFieldBytes && start & CSVReader.scratchFlag == 0 {
                bnd[2 * fields] = start
                bnd[2 * fields + 1] = stop
                fields += 1
                return
            }
            count = fields
            appendFieldSlowly(start: start, end: stop)
            fields = count
            bnd = bounds
            bcap = boundsCapacity
        }

        // Blank lines separate nothing; skip them.
        if base[i] == 0x0A { return .blank(end: i + 1) }
        if base[i] == 0x0D {
            if i + 1 < end { return .blank(end: base[i + 1] == 0x0A ? i + 2 : i + 1) }
            return eof ? .blank(end: i + 1) : .needMore
        }

        while true {
            if i >= end {
                if !eof { return .needMore }
                append(i, i)
                return .record(end: i, newlines: newlines)
            }
            var fieldEnd: Int
            if base[i] == 0x22 {
                let open = i
                let contentStart = i + 1
                var hasEscapes = false
                var contentEnd = -1
                i = contentStart
                while true {
                    guard let q = memchr(base + i, 0x22, end - i) else {
                        if !eof { return .needMore }
                        noteIssue(.unterminatedQuote, column: fields + 1, at: open, "a quoted field is never closed")
                        contentEnd = end
                        i = end
                        break
                    }
                    let qi = base.distance(to: q.assumingMemoryBound(to: UInt8.self))
                    if qi + 1 >= end && !eof { return .needMore }
                    if qi + 1 < end && base[qi + 1] == 0x22 {
                        hasEscapes = true
                        i = qi + 2
                        continue
                    }
                    contentEnd = qi
                    i = qi + 1
                    break
                }
                newlines += Self.countLineBreaks(base, from: contentStart, to: contentEnd)
                if i < end, base[i] != delimiter, base[i] != 0x0A, base[i] != 0x0D {
                    // Text after the closing quote: keep the raw text up to the next separator.
                    noteIssue(.unexpectedQuote, column: fields + 1, at: open,
                              "text follows the closing quote of a quoted field")
                    let stop = Self.scanTerminator(base, from: i, to: end, delimiter: delimiter)
                    if stop == end && !eof { return .needMore }
                    append(open, stop)
                    i = stop
                } else if hasEscapes {
                    let (s, e) = unescape(from: contentStart, to: contentEnd)
                    append(s, e)
                } else {
                    append(contentStart, contentEnd)
                }
                fieldEnd = i
            } else {
                let start = i
                var stop = Self.scanSpecial(base, from: i, to: end, delimiter: delimiter)
                if stop < end && base[stop] == 0x22 {
                    noteIssue(.unexpectedQuote, column: fields + 1, at: start,
                              "a quote inside an unquoted field (quote the field and double the quote)")
                    stop = Self.scanTerminator(base, from: stop + 1, to: end, delimiter: delimiter)
                }
                if stop == end && !eof { return .needMore }
                append(start, stop)
                fieldEnd = stop
            }
            if fieldEnd >= end {
                if !eof { return .needMore }
                return .record(end: end, newlines: newlines)
            }
            let c = base[fieldEnd]
            if c == delimiter {
                i = fieldEnd + 1
                continue
            }
            if c == 0x0A { return .record(end: fieldEnd + 1, newlines: newlines) }
            // CR or CRLF
            if fieldEnd + 1 < end {
                return .record(end: base[fieldEnd + 1] == 0x0A ? fieldEnd + 2 : fieldEnd + 1, newlines: newlines)
            }
            return eof ? .record(end: fieldEnd + 1, newlines: newlines) : .needMore
        }
    }

    /// Counts line breaks (LF, CRLF or a lone CR) inside a quoted field.
    private static func countLineBreaks(_ base: UnsafeMutablePointer<UInt8>, from start: Int, to end: Int) -> Int {
        var n = 0
        var i = start
        while i < end {
            let b = base[i]
            if b == 0x0A {
                n += 1
            } else if b == 0x0D {
                if i + 1 >= end || base[i + 1] != 0x0A { n += 1 }
            }
            i += 1
        }
        return n
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    @inline(__always)
    private static func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }

    /// The position of the first delimiter, quote, CR or LF at or after `i`, or `end`.
    ///
    /// Looks at eight bytes per step (SWAR): the lowest flagged byte of each "has zero byte" mask is
    /// exact, so the lowest bit of their union is the first special byte.
    @inline(__always)
    private static func scanSpecial(
        _ base: UnsafeMutablePointer<UInt8>, from start: Int, to end: Int, delimiter: UInt8
    ) -> Int {
        var i = start
        let raw = UnsafeRawPointer(base)
        let d = UInt64(delimiter) &* ones
        let q = 0x22 &* ones
        let cr = 0x0D &* ones
        let lf = 0x0A &* ones
        while i + 8 <= end {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let m = zeroBytes(w ^ d) | zeroBytes(w ^ q) | zeroBytes(w ^ cr) | zeroBytes(w ^ lf)
            if m != 0 { return i + (m.trailingZeroBitCount >> 3) }
            i += 8
        }
        while i < end {
            let b = base[i]
            if b == delimiter || b == 0x22 || b == 0x0D || b == 0x0A { return i }
            i += 1
        }
        return end
    }

    /// The position of the first delimiter, CR or LF at or after `i` (quotes taken literally), or `end`.
    private static func scanTerminator(
        _ base: UnsafeMutablePointer<UInt8>, from start: Int, to end: Int, delimiter: UInt8
    ) -> Int {
        var i = start
        while i < end {
            let b = base[i]
            if b == delimiter || b == 0x0D || b == 0x0A { return i }
            i += 1
        }
        return end
    }

    // MARK: - Record checks

    private func readHeader(recordStart: Int) throws {
        if recordNeedsCheck, let error = recordError(recordStart: recordStart, recordEnd: head) {
            finished = true
            throw CSVError(
                code: error.code, recordNumber: 0, line: error.line, column: error.column, excerpt: error.excerpt,
                message: "header: " + error.message, fields: error.fields)
        }
        let names = fields.map { $0.trimmingSpaces() }
        state.pointee.header = CSVHeader(names)
        state.pointee.expectedFieldCount = count
    }

    @inline(__always)
    private func checkRecord(recordStart: Int, recordEnd: Int) throws {
        let s = state
        if recordNeedsCheck, let error = recordError(recordStart: recordStart, recordEnd: recordEnd) {
            if configuration.mode == .strict { finished = true }
            throw error
        }
        guard configuration.requiresUniformFieldCount else { return }
        guard let expected = s.pointee.expectedFieldCount else {
            s.pointee.expectedFieldCount = count
            return
        }
        if count != expected { try fieldCountMismatch(expected: expected) }
    }

    private func fieldCountMismatch(expected: Int) throws {
        if configuration.mode == .strict { finished = true }
        let excerpt = count > expected ? CSVError.excerpt(fieldBytes(expected)) : ""
        throw CSVError(
            code: .fieldCountMismatch, recordNumber: recordNumber, line: line,
            column: count > expected ? expected + 1 : count, excerpt: excerpt,
            message: "record has \(count) fields, expected \(expected)" + (count > expected
                ? " (an unquoted delimiter in a value?)" : " (a missing delimiter or a cut line?)"),
            fields: fields)
    }

    /// Whether the record just parsed may hold a problem: the common one (no parse issue, all ASCII, as
    /// the scanner saw it) is passed without a call to ``recordError(recordStart:recordEnd:)``.
    @inline(__always)
    private var recordNeedsCheck: Bool { state.pointee.issue != nil || !state.pointee.asciiOnly }

    /// The first problem with the record just parsed, asked only when ``recordNeedsCheck``: a parse
    /// issue, a NUL byte or invalid UTF-8.
    private func recordError(recordStart: Int, recordEnd: Int) -> CSVError? {
        if let issue {
            let excerpt: String
            if issue.excerptStart >= 0 {
                let from = issue.excerptStart
                excerpt = CSVError.excerpt(UnsafeBufferPointer(start: buffer + from, count: max(0, recordEnd - from)))
            } else {
                excerpt = ""
            }
            return CSVError(
                code: issue.code, recordNumber: recordNumber, line: line, column: issue.column, excerpt: excerpt,
                message: issue.message, fields: fields)
        }
        // Delimiters and quotes are ASCII, so the record's raw bytes are valid exactly when every field is:
        // check the whole record once and look field by field only when something is wrong.
        if vb_utf8_first_invalid(buffer + recordStart, recordEnd - recordStart, 0, 1) < 0 { return nil }
        for index in 0..<count {
            let bytes = fieldBytes(index)
            if let nul = bytes.firstIndex(of: 0) {
                return CSVError(
                    code: .nulByte, recordNumber: recordNumber, line: line, column: index + 1,
                    excerpt: CSVError.excerpt(UnsafeBufferPointer(rebasing: bytes[max(0, nul - 10)...])),
                    message: "field contains a NUL byte (a binary file, or UTF-16 read as UTF-8?)", fields: fields)
            }
            if let bad = UTF8Check.firstInvalid(in: bytes) {
                let hex = bytes[bad..<min(bytes.count, bad + 4)].map { String($0, radix: 16, uppercase: true) }
                return CSVError(
                    code: .invalidEncoding, recordNumber: recordNumber, line: line, column: index + 1,
                    excerpt: CSVError.excerpt(UnsafeBufferPointer(rebasing: bytes[max(0, bad - 10)..<bad])),
                    message: "invalid UTF-8 (bytes \(hex.joined(separator: " "))) at byte \(bad + 1) of the field;"
                        + " is the file Windows-1252? try --encoding windows-1252",
                    fields: fields)
            }
        }
        return nil
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars
        while let f = scalars.first, f == " " || f == "\t" { scalars.removeFirst() }
        while let l = scalars.last, l == " " || l == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
