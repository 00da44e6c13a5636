#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The records of a file whose unique key an earlier record already has, found by a first pass over the
/// file in memory that does not grow with it.
///
/// A validator that remembers every key as it goes holds the whole file's keys: 12 bytes a slot, so 24 MiB
/// for a million rows and 96 MiB for four million. This pass instead spreads each record's 64-bit key hash
/// (the same ``KeyHash`` the validator uses) and record number over ``partitionCount`` temporary files by the
/// hash's top bits, then reads the partitions back one at a time: only a partition's table (1/64th of the
/// keys) and the keys that repeat are ever in memory. The validator then checks each record against the
/// repeating keys alone.
///
/// The pass reads records exactly as the main pass will (same reader, same configuration), so record
/// numbers agree; malformed records are skipped here as they are there (they never hold a key). Two
/// different keys share a hash with a probability of about n²/2⁶⁵, as with the in-memory check.
public struct DuplicateKeys: Sendable {
    /// Repeating key hashes → the first record that had the key.
    private var firsts: KeyTable
    /// Records read by the pass.
    public let records: Int

    /// The partitions the hashes are spread over (a four-million-row file: about 62,500 keys, under 1.5 MiB
    /// of table, per partition).
    public static let partitionCount = KeyPartitions.count  // the same split as KeyPartitions (its top six bits)

    /// A file of at least this many bytes is checked by ``scan(path:configuration:template:temporaryDirectory:)``
    /// rather than by remembering its keys (about 180,000 stock rows: 6 MiB of key table).
    public static let threshold = 8 << 20

    /// How many keys repeat.
    public var count: Int { firsts.count }

    /// The first record with the key hashed to `hash`, when the key appears in more than one record.
    @inline(__always)
    public func firstRecord(_ hash: UInt64) -> Int32? {
        firsts.count == 0 ? nil : firsts.find(hash)
    }

    /// Reads the file at `path` once and finds its repeating keys (the template's ``CSVTemplate/uniqueKey``).
    ///
    /// - Returns: `nil` when there is nothing to check (no unique key, or a key column missing from the
    ///   header: the main pass reports that) or the header cannot be read (the main pass reports that too).
    /// - Throws: ``DuplicateKeysError`` when the temporary files cannot be written or read.
    public static func scan(
        path: String, configuration: CSVConfiguration, template: CSVTemplate, temporaryDirectory: String
    ) throws -> DuplicateKeys? {
        guard !template.uniqueKey.isEmpty else { return nil }
        let reader: CSVReader
        do { reader = try CSVReader(path: path, configuration: configuration) } catch is CSVError { return nil }
        var indexes: [Int]?
        let spill = try Spill(directory: temporaryDirectory)
        var records = 0
        while true {
            do {
                guard try reader.next() else { break }
            } catch let error as CSVError {
                if error.recordNumber == 0 { return nil }  // the header or the file itself: the main pass says so
                continue  // a malformed record has no key, here as in the main pass
            }
            if indexes == nil {
                let header = reader.header ?? CSVHeader(template.headerNames)
                let found = template.uniqueKey.compactMap { template.position(of: $0, in: header) }
                guard found.count == template.uniqueKey.count else { return nil }
                indexes = found
            }
            let hash = KeyHash.of(positions: indexes.unsafelyUnwrapped, fieldCount: reader.fieldCount) {
                reader.fieldBytes($0)
            }
            try spill.add(hash, record: Int32(truncatingIfNeeded: reader.recordNumber))
            records += 1
        }
        return DuplicateKeys(firsts: try spill.repeating(), records: records)
    }

    /// Hashes and record numbers spread over temporary files by the hash's top bits.
    private final class Spill {
        private struct Entry {
            var hash: UInt64
            var record: Int64
        }
        private let files: PartitionFiles<Entry>

        init(directory: String) throws {
            files = try PartitionFiles(count: DuplicateKeys.partitionCount, directory: directory, error: { DuplicateKeysError(path: $0, errno: $1) })
        }

        @inline(__always)
        func add(_ hash: UInt64, record: Int32) throws {
            try files.add(Entry(hash: hash, record: Int64(record)), to: KeyPartitions.partition(of: hash))
        }

        /// Each partition in turn: its keys in a table, the ones met twice kept with their first record.
        func repeating() throws -> KeyTable {
            var repeats = KeyTable()
            for p in 0..<DuplicateKeys.partitionCount {
                let total = files.count(of: p)
                guard total > 1 else { continue }
                var table = KeyTable(capacity: total * 4 / 3 + 1)
                for entry in try files.entries(of: p) {
                    if let first = table.insert(entry.hash, record: Int32(truncatingIfNeeded: entry.record)) {
                        _ = repeats.insert(entry.hash, record: first)
                    }
                }
            }
            return repeats
        }
    }
}

/// The first pass of ``DuplicateKeys`` could not write or read its temporary files (a full disk, ...).
public struct DuplicateKeysError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let errno: Int32

    public var description: String {
        let full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG
        return "cannot check the file's unique keys: \(path): \(String(cString: strerror(errno)))"
            + (full ? "; free space on the disk and run again (no row was applied)" : "")
    }
}
