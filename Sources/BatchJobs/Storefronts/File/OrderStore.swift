import CSVKit
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The plain-file storefront's orders by number, for the writes that look them up (a despatch import, refunds):
/// each order's latest version is kept in a temporary file, not in memory, and read back when it is asked for.
///
/// Memory: 8 bytes a slot of the index (number hash → the order's ordinal) and 8 bytes an order (where its latest
/// record starts), plus the few orders last used (``cacheSize``); the orders themselves, with what the journals say
/// was fulfilled and refunded, are records in a file in the state's work folder, unlinked as soon as it is made (a
/// killed run leaves nothing behind). Holding 100,000 orders whole took ~85 MiB; here ~2 MiB. An order changed in
/// memory is written again, as a new record, when it leaves the cache; the index then points at the new record.
///
/// A slot holds 24 other bits of the number's hash beside the ordinal; a slot whose bits match is confirmed by the
/// number in its record, so two numbers with the same hash are both found.
final class OrderStore {
    /// How many orders are held decoded (the ones last used): a despatch import looks an order up and then
    /// changes it; the journals' rows at the start come grouped by order.
    static let cacheSize = 128

    /// 0: empty; else the number's hash's low 24 bits (the slot is picked by its top bits: these tell apart numbers
    /// that land near each other), then the ordinal + 1 in the low 40 bits.
    private var slots: [UInt64]
    /// By ordinal (first-seen order): where the order's latest record is (``SpillFile/Location``).
    private var offsets: [SpillFile.Location] = []
    private let spill: SpillFile
    private let hash: (String) -> UInt64

    /// Each cache entry's number's hash, by entry: scanned for a number before the index (128 comparisons cost less
    /// than a dictionary of numbers kept up to date as entries come and go).
    private var cachedHashes: [UInt64] = []
    private var entries: [Entry] = []
    private var hand = 0
    /// The entry last asked for (a despatch import asks for an order, then changes it).
    private var last = -1
    private struct Entry {
        var order: StorefrontOrder
        var ordinal: Int
        /// The export file the order's latest version was read from (-1: none).
        var file: Int
        /// Where the order's whole record is (its progress since is written apart).
        var base: SpillFile.Location
        var dirty = false
        /// Whether more than its progress changed (lines joined, a later version): written whole.
        var reshaped = false
    }

    /// A store with room for about `capacity` orders before its index grows; its records go to a file in
    /// `temporaryDirectory`. `hash` is for tests (numbers whose hashes collide).
    init(temporaryDirectory: String, capacity: Int = 16, hash: @escaping (String) -> UInt64 = KeyHash.of) throws {
        spill = try SpillFile(directory: temporaryDirectory)
        self.hash = hash
        slots = [UInt64](repeating: 0, count: Self.slotCount(for: capacity))
        offsets.reserveCapacity(capacity)
        entries.reserveCapacity(Self.cacheSize)
    }

    /// How many orders there are.
    var count: Int { offsets.count }

    private static func slotCount(for orders: Int) -> Int { max(16, orders + orders / 4) }

    @inline(__always)
    private func start(_ h: UInt64) -> Int {
        Int(truncatingIfNeeded: h.multipliedFullWidth(by: UInt64(slots.count)).high)
    }

    @inline(__always) private static func tag(_ h: UInt64) -> UInt64 { h & 0xFF_FFFF }
    private static let ordinalBits: UInt64 = 40
    private static let ordinalMask: UInt64 = (1 << 40) - 1

    // MARK: - Orders in, out and changed

    /// Adds an order read from the export file numbered `file`: one already read from the same file is the same
    /// order with its rows apart, and gets these lines too; one from an earlier file is replaced, keeping its place
    /// in the sequence.
    func add(_ order: consuming StorefrontOrder, file: Int) throws {
        let number = order.number
        let h = hash(number)
        if let e = try entry(number, hash: h) {
            if entries[e].file == file {
                entries[e].order.lines += order.lines
            } else {
                entries[e].order = order
                entries[e].file = file
            }
            entries[e].dirty = true
            entries[e].reshaped = true
            return
        }
        try makeRoomForOne()
        offsets.append(try spill.append(order, file: file))
        insertSlot(hash: h, ordinal: offsets.count - 1)
    }

    /// Adds the orders of the export CSV file numbered `file` as ``add(_:file:)`` adds each group of its rows
    /// (``OrderExports/forEachGroup(in:_:)``), but writes a new order's record from the rows' bytes, without making
    /// the order and taking it apart again (a third of the time of reading 100,000 orders); a group whose number the
    /// store has already (a later version, rows apart) goes through ``add(_:file:)``. With `only`, an order whose
    /// number's ``KeyHash`` is not in it is passed over.
    func addGroups(ofCSV path: String, file: Int, only: KeySet? = nil) throws {
        var writing: (start: Int, linesAt: Int, lines: UInt32, hash: UInt64)?
        var other: StorefrontOrder?
        var passing = false  // over the rows of an order not asked for
        func finish() throws {
            if let record = writing.take() {
                spill.patch(record.lines, at: record.linesAt)
                spill.put(UInt32(0))  // no fulfilment ids
                spill.put(UInt32(0))  // no refund ids
                offsets.append(spill.endRecord(record.start))
                insertSlot(hash: record.hash, ordinal: offsets.count - 1)
            }
            if let order = other.take() { try add(order, file: file) }
        }
        try OrderExports.forEachOrderRow(in: path) { row, number, startsGroup in
            if startsGroup {
                try finish()
                if let only { passing = !only.contains(KeyHash.of(number)) }
                if passing { return }
                let h = hash(number)
                if try entry(number, hash: h) != nil {
                    other = row.order(number: number)
                } else {
                    try makeRoomForOne()  // before the record is begun: growing reads the records
                    let start = try spill.beginRecord(kind: SpillFile.wholeKind)
                    spill.put(UInt32(bitPattern: Int32(truncatingIfNeeded: file)))
                    spill.put(number)
                    row.withValue(.orderID) { $0.isEmpty ? spill.put(number) : spill.put($0) }
                    for column in Self.headColumns { row.withValue(column) { spill.put($0) } }
                    spill.put(UInt32(0))  // no currency
                    if row.extra.isEmpty { spill.put(UInt32(0)) } else { spill.put(row.extraFields()) }
                    writing = (start, spill.pendingCount, 0, h)
                    spill.put(UInt32(0))  // the line count, filled in at the end
                }
            }
            if passing { return }
            if other != nil {
                other!.lines.append(row.line)
                return
            }
            row.withValue(.sku) { spill.put($0) }
            row.withValue(.price) { spill.put($0) }
            spill.put(Int64(row.quantity))
            spill.put(Int64(0))  // fulfilled
            spill.put(Int64(0))  // refunded
            writing!.lines += 1
        }
        try finish()
    }

    /// The columns of an order's record after its number and id, in the record's order (``SpillFile/append(_:file:)``).
    private static let headColumns: [OrderColumn] = [.status, .createdAt, .email, .phone, .name, .company, .address1,
                                                     .address2, .city, .region, .postcode, .country, .service,
                                                     .shippingCost, .total, .customerNote]

    /// Runs `body` with the order `number`; `nil` when there is none.
    func withOrder<R>(_ number: String, _ body: (StorefrontOrder) throws -> R) throws -> R? {
        guard let e = try entry(number, hash: hash(number)) else { return nil }
        // Lent in place: an element read out of the array for the call is a copy, two dozen strings and arrays
        // retained and released again (8% of a despatch import's applying thread).
        return try Self.lend(&entries[e].order, body)
    }

    private static func lend<T, R>(_ value: inout T, _ body: (T) throws -> R) rethrows -> R {
        try body(value)
    }

    /// Changes the progress of the order `number`: its status, its lines' fulfilled and refunded quantities, its
    /// fulfilment and refund ids (what the journals record; nothing else may change). Written to the file when it
    /// leaves the cache; `nil` when there is no such order.
    func modify<R>(_ number: String, _ body: (inout StorefrontOrder) throws -> R) throws -> R? {
        guard let e = try entry(number, hash: hash(number)) else { return nil }
        entries[e].dirty = true
        return try body(&entries[e].order)
    }

    /// The order `number`, copied out.
    func order(_ number: String) throws -> StorefrontOrder? { try withOrder(number) { $0 } }

    /// Every order, in the order first seen, in its latest version.
    func forEachInSequence(_ body: (StorefrontOrder) throws -> Void) throws {
        var byOrdinal: [Int: Int] = [:]
        for (e, entry) in entries.enumerated() { byOrdinal[entry.ordinal] = e }
        for ordinal in offsets.indices {
            if let e = byOrdinal[ordinal] {
                try body(entries[e].order)
            } else if let found = try load(ordinal, number: nil) {
                try body(found.order)
            }
        }
    }

    // MARK: - The index and the cache

    /// The cache entry holding the order `number`, read in from its record when it is not there; `nil` when the
    /// store has no such order.
    private func entry(_ number: String, hash h: UInt64) throws -> Int? {
        if last >= 0, entries[last].order.number == number { return last }
        let cachedAt: Int? = cachedHashes.withUnsafeBufferPointer { hashes in
            for e in hashes.indices where hashes[e] == h && entries[e].order.number == number { return e }
            return nil
        }
        if let e = cachedAt {
            last = e
            return e
        }
        let tag = Self.tag(h)
        var i = start(h)
        while true {
            let slot = slots[i]
            if slot == 0 { return nil }
            if slot >> Self.ordinalBits == tag {
                let ordinal = Int(slot & Self.ordinalMask) - 1
                // Not in the cache under this number: if it is cached, it is another number's, whose older record
                // still names it.
                if let found = try load(ordinal, number: number) {
                    last = try keep(Entry(order: found.order, ordinal: ordinal, file: found.file, base: found.base), hash: h)
                    return last
                }
            }
            i += 1
            if i == slots.count { i = 0 }
        }
    }

    /// The order of `ordinal` read from its records (its whole record, and its progress since when there is one);
    /// `nil` when `number` is given and is not the order's.
    private func load(_ ordinal: Int, number: String?)
        throws -> (order: StorefrontOrder, file: Int, base: SpillFile.Location)?
    {
        let latest = offsets[ordinal]
        enum Found { case whole(StorefrontOrder, Int), progress(SpillFile.Progress) }
        let found: Found? = try spill.read(at: latest) { record in
            if let number, !SpillFile.number(of: record, is: number) { return nil }
            if let progress = SpillFile.progress(record) { return .progress(progress) }
            let (order, file) = SpillFile.decode(record)
            return .whole(order, file)
        }
        switch found {
        case nil: return nil
        case .whole(let order, let file)?: return (order, file, latest)
        case .progress(let progress)?:
            var (order, file) = try spill.read(at: progress.base) { SpillFile.decode($0) }
            progress.apply(to: &order)
            return (order, file, progress.base)
        }
    }

    /// Puts an order read from its records in the cache, writing out the entry it takes the place of if that was
    /// changed.
    private func keep(_ fresh: consuming Entry, hash h: UInt64) throws -> Int {
        if entries.count < Self.cacheSize {
            entries.append(fresh)
            cachedHashes.append(h)
            return entries.count - 1
        }
        let e = hand
        hand = (hand + 1) % Self.cacheSize
        try writeOut(e)
        // Swapped in, so that the entry leaving is destroyed once and the one coming is not copied.
        var leaving = fresh
        swap(&entries[e], &leaving)
        cachedHashes[e] = h
        return e
    }

    /// Writes a changed cache entry to the file: its progress alone (a few dozen bytes, not the whole order) unless
    /// more changed; the index points at the new record.
    private func writeOut(_ e: Int) throws {
        guard entries[e].dirty else { return }
        assert(entries[e].reshaped || (try? onlyProgressChanged(e)) ?? true,
               "an order's fields other than its progress were changed in place")
        let spill = spill
        // The entry written where it is (read out of the array, it would be copied).
        let written = try Self.lend(&entries[e]) { entry in
            try entry.reshaped ? spill.append(entry.order, file: entry.file)
                               : spill.append(progressOf: entry.order, base: entry.base)
        }
        offsets[entries[e].ordinal] = written
        if entries[e].reshaped {
            entries[e].base = written
            entries[e].reshaped = false
        }
        entries[e].dirty = false
    }

    /// Whether the cache entry equals its whole record with its own progress (tests: debug builds check each time).
    private func onlyProgressChanged(_ e: Int) throws -> Bool {
        var (order, _) = try spill.read(at: entries[e].base) { SpillFile.decode($0) }
        guard order.lines.count == entries[e].order.lines.count else { return false }
        SpillFile.Progress(of: entries[e].order, base: entries[e].base).apply(to: &order)
        return order == entries[e].order
    }

    private func insertSlot(hash h: UInt64, ordinal: Int) {
        precondition(UInt64(ordinal + 1) <= Self.ordinalMask, "too many orders for the store's index")
        var i = start(h)
        while slots[i] != 0 {
            i += 1
            if i == slots.count { i = 0 }
        }
        slots[i] = Self.tag(h) << Self.ordinalBits | UInt64(ordinal + 1)
    }

    /// Doubles the index when one more order would fill it past four fifths.
    private func makeRoomForOne() throws {
        if (offsets.count + 1) * 5 > slots.count * 4 { try grow() }
    }

    /// Doubles the index: each order's number is hashed again from its record.
    private func grow() throws {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        for ordinal in offsets.indices {
            let number = try spill.read(at: offsets[ordinal]) { SpillFile.number(of: $0) }
            insertSlot(hash: hash(number), ordinal: ordinal)
        }
    }

    /// Makes room for about `count` orders in all (the index grown once rather than doubling as it fills).
    func reserveCapacity(_ count: Int) {
        guard Self.slotCount(for: count) > slots.count else { return }
        offsets.reserveCapacity(count)
        if offsets.isEmpty {
            slots = [UInt64](repeating: 0, count: Self.slotCount(for: count))
        }
    }
}

/// Order records appended to an unlinked temporary file, through a buffer; read back from the buffer or the file.
///
/// A record starts with its length (4 bytes) and its kind (1): an order whole (the export file it came from, 4
/// bytes, then its fields), or its progress since a whole record (where that is, 8 bytes, then its number, status,
/// each line's fulfilled and refunded quantities and its fulfilment and refund ids). Each text is its length (4)
/// and UTF-8 bytes, each number 8 bytes, little-endian.
final class SpillFile {
    /// Where a record starts in the file, shifted up 20 bits, and its length below them (0 for a record of 1 MiB or
    /// more, whose length is read first), so that a record is read in one call.
    typealias Location = Int

    private let fd: Int32
    private let directory: String
    /// Bytes not yet written to the file (they start at `written`), behind a pointer: each field put is then a
    /// plain store, where an array in a stored `var` of a class paid a dynamic exclusivity check and a generic append
    /// (a third of the time of reading 100,000 orders into the store).
    private let out: UnsafeMutablePointer<Pending>
    private struct Pending {
        var bytes: UnsafeMutableRawPointer
        var count = 0
        var capacity: Int
        /// How many bytes the file has.
        var written = 0
    }
    private var written: Int { out.pointee.written }
    private var scratch: [UInt8] = []
    /// The block of the file last read (``blockBytes`` from `blockStart`, `blockCount` of them read): orders are
    /// mostly asked for in about the order they were written, so one read serves the next few hundred.
    private var block: UnsafeMutableRawBufferPointer
    private var blockStart = -1, blockCount = 0
    private static let blockBytes = 64 << 10
    private static let bufferBytes = 1 << 20
    private static let lengthBits = 20
    static let wholeKind: UInt8 = 0, progressKind: UInt8 = 1

    init(directory: String) throws {
        self.directory = directory
        // A folder that cannot be made is told by the file's own error, naming it.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        switch UnlinkedFile.create(in: directory, prefix: ".voxbatch-orders") {
        case .success(let fd): self.fd = fd
        case .failure(let error): throw OrderStoreError(path: directory, errno: error.errno)
        }
        out = .allocate(capacity: 1)
        out.initialize(to: Pending(bytes: .allocate(byteCount: Self.bufferBytes + 4096, alignment: 16),
                                   capacity: Self.bufferBytes + 4096))
        block = .allocate(byteCount: Self.blockBytes, alignment: 16)
    }

    deinit {
        close(fd)
        block.deallocate()
        out.pointee.bytes.deallocate()
        out.deinitialize(count: 1)
        out.deallocate()
    }

    /// Appends the order's whole record; returns where it is.
    func append(_ order: StorefrontOrder, file: Int) throws -> Location {
        try record(kind: Self.wholeKind) {
            put(UInt32(bitPattern: Int32(truncatingIfNeeded: file)))
            put(order.number)
            put(order.id)
            put(order.status)
            put(order.createdAt)
            put(order.email)
            put(order.phone)
            put(order.shipping.name)
            put(order.shipping.company)
            put(order.shipping.line1)
            put(order.shipping.line2)
            put(order.shipping.city)
            put(order.shipping.region)
            put(order.shipping.postcode)
            put(order.shipping.country)
            put(order.service)
            put(order.shippingCost)
            put(order.total)
            put(order.customerNote)
            put(order.currency)
            put(order.fields)
            put(UInt32(order.lines.count))
            for line in order.lines {
                put(line.sku)
                put(line.price)
                put(Int64(line.quantity))
                put(Int64(line.fulfilled))
                put(Int64(line.refunded))
            }
            putIDs(order)
        }
    }

    /// Appends the order's progress since its whole record at `base`; returns where it is.
    func append(progressOf order: StorefrontOrder, base: Location) throws -> Location {
        try record(kind: Self.progressKind) {
            put(Int64(base))
            put(order.number)
            put(order.status)
            put(UInt32(order.lines.count))
            for line in order.lines {
                put(Int64(line.fulfilled))
                put(Int64(line.refunded))
            }
            putIDs(order)
        }
    }

    private func putIDs(_ order: StorefrontOrder) {
        put(UInt32(order.fulfilmentIDs.count))
        for id in order.fulfilmentIDs { put(id) }
        put(UInt32(order.refundIDs.count))
        for id in order.refundIDs { put(id) }
    }

    /// Appends a record of `kind` whose fields `fields` puts; returns where it is.
    private func record(kind: UInt8, _ fields: () -> Void) throws -> Location {
        let start = try beginRecord(kind: kind)
        fields()
        return endRecord(start)
    }

    /// Starts a record of `kind`, whose fields are then put one by one; ``endRecord(_:)`` with what this returns
    /// ends it. Nothing else is appended meanwhile.
    func beginRecord(kind: UInt8) throws -> Int {
        if out.pointee.count >= Self.bufferBytes { try flush() }
        let start = out.pointee.count
        put(UInt32(0))  // the length, filled in at the end
        reserve(1)
        out.pointee.bytes.storeBytes(of: kind, toByteOffset: out.pointee.count, as: UInt8.self)
        out.pointee.count += 1
        return start
    }

    /// Ends the record begun at `start`; returns where it is.
    func endRecord(_ start: Int) -> Location {
        let length = out.pointee.count - start
        patch(UInt32(length), at: start)
        return (written + start) << Self.lengthBits | (length < 1 << Self.lengthBits ? length : 0)
    }

    /// How many bytes are waiting to be written (where the next field goes, for ``patch(_:at:)``).
    var pendingCount: Int { out.pointee.count }

    /// Writes `value` over the four bytes at `index` of the bytes waiting to be written.
    func patch(_ value: UInt32, at index: Int) {
        precondition(index >= 0 && index + 4 <= out.pointee.count)
        out.pointee.bytes.storeBytes(of: value.littleEndian, toByteOffset: index, as: UInt32.self)
    }

    /// Room for `n` more bytes waiting (a record larger than the buffer grows it).
    @inline(__always) private func reserve(_ n: Int) {
        guard out.pointee.count + n > out.pointee.capacity else { return }
        let capacity = max(out.pointee.capacity * 2, out.pointee.count + n)
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        bytes.copyMemory(from: out.pointee.bytes, byteCount: out.pointee.count)
        out.pointee.bytes.deallocate()
        out.pointee.bytes = bytes
        out.pointee.capacity = capacity
    }

    @inline(__always) func put(_ value: UInt32) {
        reserve(4)
        out.pointee.bytes.storeBytes(of: value.littleEndian, toByteOffset: out.pointee.count, as: UInt32.self)
        out.pointee.count += 4
    }

    @inline(__always) func put(_ value: Int64) {
        reserve(8)
        out.pointee.bytes.storeBytes(of: value.littleEndian, toByteOffset: out.pointee.count, as: Int64.self)
        out.pointee.count += 8
    }

    @inline(__always) func put(_ text: String) {
        var text = text
        text.withUTF8 { put($0) }
    }

    /// A text given as its UTF-8 bytes.
    @inline(__always) func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        put(UInt32(bytes.count))
        guard let from = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (out.pointee.bytes + out.pointee.count).copyMemory(from: from, byteCount: bytes.count)
        out.pointee.count += bytes.count
    }

    func put(_ fields: [String: String]) {
        put(UInt32(fields.count))
        for (name, value) in fields {
            put(name)
            put(value)
        }
    }

    private func flush() throws {
        let count = out.pointee.count
        do throws(UnlinkedFileError) {
            try UnlinkedFile.write(fd, UnsafeRawBufferPointer(start: out.pointee.bytes, count: count), at: out.pointee.written)
        } catch {
            throw OrderStoreError(path: directory, errno: error.errno)
        }
        out.pointee.written += count
        out.pointee.count = 0
    }

    /// Runs `body` with the record at `location` (valid only during the call).
    func read<R>(at location: Location, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let offset = location >> Self.lengthBits
        var length = location & (1 << Self.lengthBits - 1)
        if offset >= written {
            let from = offset - written
            let bytes = UnsafeRawBufferPointer(start: out.pointee.bytes, count: out.pointee.count)
            length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: from, as: UInt32.self)))
            return try body(UnsafeRawBufferPointer(rebasing: bytes[from..<from + length]))
        }
        if length > 0 && length <= Self.blockBytes / 2 {  // from the block that holds it, read when it is not the last
            if offset < blockStart || offset + length > blockStart + blockCount {
                blockStart = offset
                blockCount = try readFile(at: offset, upTo: min(Self.blockBytes, written - offset), into: block)
                guard blockCount >= length else { throw OrderStoreError(path: directory, errno: EIO) }
            }
            return try body(UnsafeRawBufferPointer(rebasing: block[offset - blockStart..<offset - blockStart + length]))
        }
        if length == 0 {  // 1 MiB or more: its length first
            guard try readFile(at: offset, upTo: 4) == 4 else { throw OrderStoreError(path: directory, errno: EIO) }
            length = scratch.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        }
        if length > scratch.count { scratch = [UInt8](repeating: 0, count: length) }
        guard try readFile(at: offset, upTo: length) == length else { throw OrderStoreError(path: directory, errno: EIO) }
        return try scratch.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
    }

    /// Reads up to `count` bytes of the file at `offset` into the scratch buffer: how many the file had.
    private func readFile(at offset: Int, upTo count: Int) throws -> Int {
        if count > scratch.count { scratch = [UInt8](repeating: 0, count: count) }
        return try scratch.withUnsafeMutableBytes { try readFile(at: offset, upTo: count, into: $0) }
    }

    /// Reads up to `count` bytes of the file at `offset` into `bytes`: how many the file had.
    private func readFile(at offset: Int, upTo count: Int, into bytes: UnsafeMutableRawBufferPointer) throws -> Int {
        do throws(UnlinkedFileError) {
            return try UnlinkedFile.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes.prefix(count)), at: offset)
        } catch {
            throw OrderStoreError(path: directory, errno: error.errno)
        }
    }

    /// The order number a record holds.
    static func number(of record: UnsafeRawBufferPointer) -> String {
        var reader = RecordReader(record)
        return reader.text()
    }

    /// Whether the record holds the order `number` (compared as bytes, no string made).
    static func number(of record: UnsafeRawBufferPointer, is number: String) -> Bool {
        var reader = RecordReader(record)
        let bytes = reader.bytes()
        var number = number
        return number.withUTF8 { $0.count == bytes.count && memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }
    }

    /// An order's progress since its whole record: what the journals change.
    struct Progress {
        var base: Location
        var status: String
        var quantities: [(fulfilled: Int, refunded: Int)]
        var fulfilmentIDs: Set<String>
        var refundIDs: Set<String>

        init(of order: StorefrontOrder, base: Location) {
            self.base = base
            status = order.status
            quantities = order.lines.map { ($0.fulfilled, $0.refunded) }
            fulfilmentIDs = order.fulfilmentIDs
            refundIDs = order.refundIDs
        }

        fileprivate init(base: Location, status: String, quantities: [(fulfilled: Int, refunded: Int)],
                         fulfilmentIDs: Set<String>, refundIDs: Set<String>) {
            self.base = base
            self.status = status
            self.quantities = quantities
            self.fulfilmentIDs = fulfilmentIDs
            self.refundIDs = refundIDs
        }

        /// The order of the whole record, brought up to this progress.
        func apply(to order: inout StorefrontOrder) {
            precondition(order.lines.count == quantities.count, "an order's progress does not match its lines")
            order.status = status
            for (i, q) in quantities.enumerated() {
                order.lines[i].fulfilled = q.fulfilled
                order.lines[i].refunded = q.refunded
            }
            order.fulfilmentIDs = fulfilmentIDs
            order.refundIDs = refundIDs
        }
    }

    /// The progress a record holds; `nil` for an order's whole record.
    static func progress(_ record: UnsafeRawBufferPointer) -> Progress? {
        guard record[4] == progressKind else { return nil }
        var r = RecordReader(record)
        let base = r.int(at: 5)
        _ = r.bytes()  // the number
        let status = r.text()
        let lineCount = r.count()
        var quantities: [(fulfilled: Int, refunded: Int)] = []
        quantities.reserveCapacity(lineCount)
        for _ in 0..<lineCount { quantities.append((r.int(), r.int())) }
        let (fulfilmentIDs, refundIDs) = r.ids()
        return Progress(base: base, status: status, quantities: quantities, fulfilmentIDs: fulfilmentIDs,
                        refundIDs: refundIDs)
    }

    /// The order a whole record holds, and the export file it came from.
    static func decode(_ record: UnsafeRawBufferPointer) -> (order: StorefrontOrder, file: Int) {
        precondition(record[4] == wholeKind, "not an order's whole record")
        var r = RecordReader(record)
        let file = Int(Int32(bitPattern: r.u32(at: 5)))
        let number = r.text(), id = r.text(), status = r.text(), createdAt = r.text(), email = r.text()
        let phone = r.text()
        let shipping = Address(name: r.text(), company: r.text(), line1: r.text(), line2: r.text(), city: r.text(),
                               region: r.text(), postcode: r.text(), country: r.text())
        let service = r.text(), shippingCost = r.text(), total = r.text(), customerNote = r.text()
        let currency = r.text()
        var fields: [String: String] = [:]
        let fieldCount = r.count()
        if fieldCount > 0 {
            fields.reserveCapacity(fieldCount)
            for _ in 0..<fieldCount {
                let name = r.text()
                fields[name] = r.text()
            }
        }
        let lineCount = r.count()
        var lines: [StorefrontOrder.Line] = []
        lines.reserveCapacity(lineCount)
        for _ in 0..<lineCount {
            var line = StorefrontOrder.Line(sku: r.text(), quantity: 0, price: r.text())
            line.quantity = r.int()
            line.fulfilled = r.int()
            line.refunded = r.int()
            lines.append(line)
        }
        var order = StorefrontOrder(
            id: id, number: number, status: status, createdAt: createdAt, email: email, phone: phone,
            shipping: shipping, service: service, shippingCost: shippingCost, total: total, customerNote: customerNote,
            fields: fields, lines: lines)
        order.currency = currency
        (order.fulfilmentIDs, order.refundIDs) = r.ids()
        return (order, file)
    }

    /// Reads a record's fields in turn, from the number on.
    private struct RecordReader {
        let base: UnsafeRawBufferPointer
        var at: Int

        /// Past the length, the kind, and the file (a whole record) or where the whole record is (progress).
        init(_ base: UnsafeRawBufferPointer) {
            self.base = base
            at = base[4] == SpillFile.wholeKind ? 9 : 13
        }

        func u32(at offset: Int) -> UInt32 {
            UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        }

        func int(at offset: Int) -> Int {
            Int(Int64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
        }

        mutating func count() -> Int {
            defer { at += 4 }
            return Int(u32(at: at))
        }

        mutating func int() -> Int {
            defer { at += 8 }
            return int(at: at)
        }

        mutating func bytes() -> UnsafeRawBufferPointer {
            let n = count()
            defer { at += n }
            return UnsafeRawBufferPointer(rebasing: base[at..<at + n])
        }

        mutating func text() -> String { String(decoding: bytes(), as: UTF8.self) }

        mutating func texts() -> Set<String> {
            let n = count()
            var set = Set<String>(minimumCapacity: n)
            for _ in 0..<n { set.insert(text()) }
            return set
        }

        mutating func ids() -> (fulfilment: Set<String>, refund: Set<String>) {
            let fulfilment = texts()
            return (fulfilment, texts())
        }
    }
}

/// The shop's orders could not be kept in the work folder's temporary file (a full disk, a folder that cannot be
/// made, ...).
public struct OrderStoreError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let errno: Int32

    public var description: String {
        let full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG
        return "cannot keep the shop's orders for look-ups in \(path): \(String(cString: strerror(errno)))"
            + (full ? "; free space on the disk and run again" : "")
    }
}
