#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The 64-bit key hashes (``KeyHash``) of a large set of keys, spread over ``count`` temporary files by the
/// hash's top bits, so that two such sets can be compared a partition at a time: the memory of the
/// comparison is a partition's (1/64th of the keys), not a whole set's.
///
/// A catalogue of four million SKUs held as a ``KeySet`` is 40 MiB; here it is 32 MB of temporary files
/// (the page cache's, not the process's) and a 512 KiB write buffer. The files are unlinked as soon as
/// they are created: a killed run leaves none behind.
public final class KeyPartitions {
    /// The partitions (the top six bits of a hash).
    public static let count = 64
    private let files: PartitionFiles<UInt64>
    /// How many hashes were added.
    public private(set) var total = 0

    /// - Throws: ``KeyPartitionsError`` when the temporary files cannot be created in `temporaryDirectory`.
    public init(temporaryDirectory: String) throws {
        files = try PartitionFiles(count: Self.count, directory: temporaryDirectory, error: { KeyPartitionsError(path: $0, errno: $1) })
    }

    /// The partition of `hash`.
    @inline(__always)
    public static func partition(of hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 58) }

    /// Adds `hash` (a hash added twice is kept twice).
    @inline(__always)
    public func add(_ hash: UInt64) throws {
        try files.add(hash, to: Self.partition(of: hash))
        total += 1
    }

    /// The hashes of partition `p` (`0..<count`), in the order they were added; they can be read any number
    /// of times.
    public func hashes(in p: Int) throws -> [UInt64] {
        try files.entries(of: p)
    }
    /// The hashes added here that `other` lacks, found a partition at a time: the memory is one partition of
    /// `other` as a set, and the result.
    public func subtracting(_ other: KeyPartitions) throws -> KeySet {
        var missing = KeySet()
        for p in 0..<Self.count {
            let here = try hashes(in: p)
            guard !here.isEmpty else { continue }
            let there = try other.hashes(in: p)
            // A partition's hashes share their top bits, which pick a ``KeySet`` slot: rotated, they spread over
            // the set (left as they are, they would all start in 1/64th of it and probe the rest in line).
            var set = KeySet(capacity: there.count)
            for hash in there { set.insert(hash.rotated) }
            for hash in here where !set.contains(hash.rotated) { missing.insert(hash) }
        }
        return missing
    }
}

extension UInt64 {
    /// The bits turned by the partition's six: the top bits become the bottom ones.
    fileprivate var rotated: UInt64 { self << 6 | self >> 58 }
}

/// ``KeyPartitions`` could not write or read its temporary files (a full disk, ...).
public struct KeyPartitionsError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let errno: Int32

    public var description: String {
        let full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG
        return "cannot check the file's keys against the catalogue: \(path): \(String(cString: strerror(errno)))"
            + (full ? "; free space on the disk and run again (no row was applied)" : "")
    }
}

/// Fixed-size entries spread over temporary files, one a partition, each unlinked as soon as it is created;
/// a partition is read back whole. (``DuplicateKeys``' first pass and ``KeyPartitions``.) A file that cannot be
/// created, written or read throws the error `error` makes of the directory and `errno`.
final class PartitionFiles<Entry> {
    private static var bufferEntries: Int { 1024 }
    private var descriptors: [Int32] = []
    private var buffers: [[Entry]]
    private var written: [Int]
    private let directory: String
    private let error: (String, Int32) -> any Error

    init(count: Int, directory: String, error: @escaping (String, Int32) -> any Error) throws {
        self.directory = directory
        self.error = error
        buffers = Array(repeating: [], count: count)
        written = Array(repeating: 0, count: count)
        for _ in 0..<count {
            switch UnlinkedFile.create(in: directory, prefix: ".voxbatch-keys") {
            case .success(let fd): descriptors.append(fd)
            case .failure(let failure):
                for fd in descriptors { close(fd) }
                throw error(directory, failure.errno)
            }
        }
        for i in buffers.indices { buffers[i].reserveCapacity(Self.bufferEntries) }
    }

    deinit { for fd in descriptors { close(fd) } }

    /// How many entries partition `p` has.
    func count(of p: Int) -> Int { written[p] + buffers[p].count }

    @inline(__always)
    func add(_ entry: Entry, to p: Int) throws {
        buffers[p].append(entry)
        if buffers[p].count == Self.bufferEntries { try flush(p) }
    }

    private func flush(_ p: Int) throws {
        do {
            try buffers[p].withUnsafeBytes { bytes in
                try UnlinkedFile.write(descriptors[p], bytes, at: written[p] * MemoryLayout<Entry>.stride)
            }
        } catch let failure as UnlinkedFileError {
            throw error(directory, failure.errno)
        }
        written[p] += buffers[p].count
        buffers[p].removeAll(keepingCapacity: true)
    }

    /// The entries of partition `p`, in the order they were added.
    func entries(of p: Int) throws -> [Entry] {
        var entries: [Entry] = []
        if written[p] > 0 {
            var failure: Int32 = EIO  // a file shorter than what was written to it
            entries = [Entry](unsafeUninitializedCapacity: written[p] + buffers[p].count) { buffer, initialized in
                let bytes = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)
                    .prefix(written[p] * MemoryLayout<Entry>.stride))
                do throws(UnlinkedFileError) {
                    initialized = try UnlinkedFile.read(descriptors[p], into: bytes, at: 0) / MemoryLayout<Entry>.stride
                } catch {
                    failure = error.errno
                    initialized = 0
                }
            }
            guard entries.count == written[p] else { throw error(directory, failure) }
        }
        entries += buffers[p]
        return entries
    }
}
