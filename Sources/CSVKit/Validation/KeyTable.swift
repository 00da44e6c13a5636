/// The unique-key index of a file being validated: 64-bit key hashes (already well mixed) → the record
/// number that first had the key, in one open-addressed table with linear probing.
///
/// A `Dictionary` would hash the hash again with a seeded SipHash and keep its buckets apart from its
/// keys and values; here a look-up is a multiply-free index and, mostly, one cache line — the check runs
/// once per row of every file. 12 bytes a slot, at most three quarters full. Two different keys share a
/// hash with a probability of about n²/2⁶⁵: callers that must be exact compare the keys on a hit.
public struct KeyTable: Sendable {
    private var hashes: [UInt64]
    private var records: [Int32]
    private var mask: Int
    public private(set) var count = 0

    public init(capacity: Int = 16) {
        var size = 16
        while size < capacity { size <<= 1 }
        hashes = [UInt64](repeating: 0, count: size)
        records = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    /// Records `hash` for `record`, or returns the record that had it first.
    public mutating func insert(_ hash: UInt64, record: Int32) -> Int32? {
        let h = hash == 0 ? 1 : hash  // 0 marks an empty slot
        if (count + 1) * 4 > hashes.count * 3 { grow() }
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let found = hashes[i]
            if found == 0 {
                hashes[i] = h
                records[i] = record
                count += 1
                return nil
            }
            if found == h { return records[i] }
            i = (i + 1) & mask
        }
    }

    /// Points `hash`, inserted before, at `record` instead.
    public mutating func replace(_ hash: UInt64, record: Int32) {
        let h = hash == 0 ? 1 : hash
        var i = Int(truncatingIfNeeded: h) & mask
        while hashes[i] != 0 {
            if hashes[i] == h {
                records[i] = record
                return
            }
            i = (i + 1) & mask
        }
    }

    /// The record `hash` was inserted for, if it was.
    public func find(_ hash: UInt64) -> Int32? {
        let h = hash == 0 ? 1 : hash
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let found = hashes[i]
            if found == 0 { return nil }
            if found == h { return records[i] }
            i = (i + 1) & mask
        }
    }

    /// Empties the table, keeping its size.
    public mutating func removeAll() {
        guard count > 0 else { return }
        hashes.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        count = 0
    }

    private mutating func grow() {
        let oldHashes = hashes, oldRecords = records
        hashes = [UInt64](repeating: 0, count: oldHashes.count * 2)
        records = [Int32](repeating: 0, count: oldHashes.count * 2)
        mask = hashes.count - 1
        count = 0
        for (h, r) in zip(oldHashes, oldRecords) where h != 0 { _ = insert(h, record: r) }
    }
}

/// A key's 64-bit hash for a ``KeyTable``: FNV-1a over its bytes (parts separated by 0x1F), then a 64-bit
/// finaliser so that the low bits, which pick the slot, depend on every byte.
public struct KeyHash {
    private var state: UInt64 = 0xCBF2_9CE4_8422_2325
    private var parts = 0

    public init() {}

    /// The hash of one key of one part.
    public static func of(_ key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { of($0) }
    }

    /// The hash of one key of one part, given as its UTF-8 bytes (the same as of the string).
    public static func of(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash = KeyHash()
        hash.add(bytes)
        return hash.value
    }

    /// The hash of a record's unique key: the fields at `positions` in order, a position past the record's
    /// `fieldCount` counting as empty. The validator and ``DuplicateKeys`` hash keys here, so they agree.
    public static func of(
        positions: [Int], fieldCount: Int, _ field: (Int) -> UnsafeBufferPointer<UInt8>
    ) -> UInt64 {
        var hash = KeyHash()
        for i in positions { hash.add(i < fieldCount ? field(i) : UnsafeBufferPointer(start: nil, count: 0)) }
        return hash.value
    }

    /// Adds the next part of the key.
    public mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        if parts > 0 { state = (state ^ 0x1F) &* 0x0000_0100_0000_01B3 }
        parts += 1
        for byte in bytes { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    }

    /// The hash of the parts added.
    public var value: UInt64 {
        var hash = state
        hash = (hash ^ (hash >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        hash = (hash ^ (hash >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return hash ^ (hash >> 33)
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// The bytes without the spaces and tabs around them.
    @inlinable
    public var trimmingSpacesAndTabs: UnsafeBufferPointer<UInt8> {
        var start = 0, end = count
        while start < end, self[start] == 0x20 || self[start] == 0x09 { start += 1 }
        while end > start, self[end - 1] == 0x20 || self[end - 1] == 0x09 { end -= 1 }
        return UnsafeBufferPointer(rebasing: self[start..<end])
    }
}

/// A set of 64-bit key hashes (``KeyHash``), 8 bytes a slot, in one open-addressed table with linear probing
/// sized to any slot count (not only powers of two), so a set sized from an estimate wastes little.
///
/// For membership tests that may answer "present" wrongly with the probability of a 64-bit collision (about
/// n/2⁶⁴ per look-up of an absent key: 5·10⁻¹⁴ in a million-key set).
public struct KeySet: Sendable {
    private var slots: [UInt64]
    public private(set) var count = 0

    /// A set with room for about `capacity` keys before it grows.
    public init(capacity: Int = 16) {
        slots = [UInt64](repeating: 0, count: max(16, capacity + capacity / 4))
    }

    @inline(__always)
    private func start(_ h: UInt64) -> Int {
        Int(truncatingIfNeeded: h.multipliedFullWidth(by: UInt64(slots.count)).high)
    }

    /// Adds `hash`; returns whether it was new.
    @discardableResult
    public mutating func insert(_ hash: UInt64) -> Bool {
        let h = hash == 0 ? 1 : hash  // 0 marks an empty slot
        if (count + 1) * 5 > slots.count * 4 { grow() }
        var i = start(h)
        while true {
            let found = slots[i]
            if found == 0 {
                slots[i] = h
                count += 1
                return true
            }
            if found == h { return false }
            i += 1
            if i == slots.count { i = 0 }
        }
    }

    /// Whether `hash` was added.
    @inline(__always)
    public func contains(_ hash: UInt64) -> Bool {
        let h = hash == 0 ? 1 : hash
        var i = start(h)
        while true {
            let found = slots[i]
            if found == h { return true }
            if found == 0 { return false }
            i += 1
            if i == slots.count { i = 0 }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        count = 0
        for h in old where h != 0 { insert(h) }
    }
}
