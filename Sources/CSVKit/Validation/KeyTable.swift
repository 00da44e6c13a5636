/// The unique-key index of a file being validated: 64-bit key hashes (already well mixed) → the record
/// number that first had the key, in one open-addressed table with linear probing.
///
/// A `Dictionary` would hash the hash again with a seeded SipHash and keep its buckets apart from its
/// keys and values; here a look-up is a multiply-free index and, mostly, one cache line — the check runs
/// once per row of every file. 12 bytes a slot, at most three quarters full.
struct KeyTable {
    private var hashes: [UInt64]
    private var records: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity { size <<= 1 }
        hashes = [UInt64](repeating: 0, count: size)
        records = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    /// Records `hash` for `record`, or returns the record that had it first.
    mutating func insert(_ hash: UInt64, record: Int32) -> Int32? {
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

    /// Empties the table, keeping its size.
    mutating func removeAll() {
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
