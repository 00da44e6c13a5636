import CCSVScan
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the next chunk from a source on another thread while the reader parses the current one.
///
/// Reading a file copies every byte from the kernel's page cache, which on its own takes about a
/// fifth of the time the reader needs to parse those bytes. Done on a second core, that copy leaves
/// the parsing thread's critical path.
///
/// The reader hands its source over and never touches it again. It asks for one read at a time
/// (``start(into:then:)``) into a buffer it does not touch until ``wait()`` has returned. A read the queue
/// has not begun when the reader needs it is done by the reader itself, in ``wait()``: on a machine
/// whose cores are all busy, the reader then reads as if there were no read-ahead instead of waiting
/// for a thread. Either way the source is called one read at a time and in order, so it needs no
/// locking of its own.
///
/// After a read, the thread also finds records in the new chunk with the SIMD scanner (a
/// ``ScanJob``), until the reader needs the chunk: then both cores share the scanning. Where the
/// first record of the chunk starts depends on whether the chunk begins inside a quoted field. In
/// well-formed CSV it does exactly when the input so far holds an odd number of quotes, which the
/// thread counts; it starts after the first line break outside quotes. The reader checks that against
/// the record the chunk cut, and uses those records only when they agree and it reaches that very
/// offset itself.
final class ReadAhead: @unchecked Sendable {
    /// Where reads run (internal so that tests can suspend it).
    let queue = DispatchQueue(label: "voxbatch.csvkit.read-ahead", qos: .userInitiated)
    private let done = DispatchSemaphore(value: 0)
    /// Used by whoever claimed the current request.
    private var source: any ByteSource
    /// Written on `queue` before `done` is signalled, read by the reader after waiting for it.
    private var result: Result<Int, any Error> = .success(0)
    private var scanned = Scanned()
    /// Whether the bytes read so far hold an odd number of quotes (counted only when `countsQuotes`).
    private var oddQuotes = false
    private let countsQuotes: Bool
    /// Set when the reader needs the chunk: the thread stops scanning after its current batch.
    private let hurry = Atomic<Bool>(false)
    /// Tests: the reader always waits for the thread, and lets it scan the whole chunk.
    var waitsForWholeScan = false
    /// An error the source threw after some bytes of a request had been read: those bytes are handed
    /// over first, and the error is thrown by the next request, where a direct read would throw it.
    private var deferredError: (any Error)?
    /// The current request: its number times four, plus who claimed it (0 nobody, 1 the queue, 2 the reader).
    private let claim = Atomic<Int>(0)
    /// The last request the queue finished (set just before `done` is signalled).
    private let finished = Atomic<Int>(0)
    private var request = 0
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Whether a read was started and its result not yet taken (the reader's thread only).
    private(set) var pending = false

    /// - Parameter countsQuotes: Whether scan jobs will follow reads (the quotes read are then counted).
    init(source: any ByteSource, countsQuotes: Bool = false) {
        self.source = source
        self.countsQuotes = countsQuotes
    }

    /// Records found in a chunk after a read.
    struct Scanned {
        /// The offset of the first one (where the reader must be to use them).
        var start = 0
        var records = 0
        /// Whether the thread took the chunk to begin inside a quoted field.
        var startsQuoted = false
    }

    /// Records to look for after a read, and where to write them. The arrays, like the buffer, belong
    /// to this object until ``wait()`` returns.
    struct ScanJob: @unchecked Sendable {
        /// The start of the buffer (offsets are from here); the read lands at `from`.
        let base: UnsafePointer<UInt8>
        let from: Int
        let delimiter: UInt8
        let maxFieldBytes: Int
        let maxFieldCount: Int
        let maxRecordBytes: Int
        let bounds: UnsafeMutablePointer<Int>
        let boundsCapacity: Int
        let records: UnsafeMutablePointer<vb_csv_record>
        let recordsCapacity: Int
    }

    /// Starts reading into `buffer`, which belongs to this object until ``wait()`` returns, and then
    /// scanning the new bytes for records if there is a `job`.
    func start(into buffer: UnsafeMutableRawBufferPointer, then job: ScanJob? = nil) {
        precondition(!pending, "one read at a time")
        pending = true
        request += 1
        self.buffer = buffer
        let queued = request << 2
        hurry.store(false, ordering: .relaxed)
        claim.store(queued, ordering: .releasing)
        let target = Target(buffer: buffer)
        queue.async { [self] in
            guard claim.compareExchange(expected: queued, desired: queued | 1, ordering: .acquiring).exchanged
            else { return }  // the reader did it
            let startsQuoted = oddQuotes
            result = Result { try fill(target.buffer) }
            scanned = Scanned()
            if case .success(let count) = result, count > 0, let job {
                scanned = scan(job, count: count, startsQuoted: startsQuoted)
            }
            finished.store(queued >> 2, ordering: .releasing)
            done.signal()
        }
    }

    /// Returns the number of bytes the current request read (0 at the end) and the records found in
    /// them, reading them now (and finding none) if the queue has not begun.
    ///
    /// - Throws: What the source threw.
    func wait() throws -> (count: Int, scanned: Scanned) {
        precondition(pending, "no read in flight")
        pending = false
        let queued = request << 2
        if !waitsForWholeScan {
            hurry.store(true, ordering: .relaxed)
            if claim.compareExchange(expected: queued, desired: queued | 2, ordering: .acquiring).exchanged {
                return (try fill(buffer), Scanned())
            }
        }
        // The queue is busy with this request: it is usually a batch away from done, sooner than a
        // thread can be put to sleep and woken again.
        var spins = 0
        while finished.load(ordering: .acquiring) != request && spins < Self.spinLimit { spins += 1 }
        done.wait()
        return (try result.get(), scanned)
    }

    /// Finds records in the `count` bytes read, in batches, until done or hurried.
    private func scan(_ job: ScanJob, count: Int, startsQuoted: Bool) -> Scanned {
        let end = job.from + count
        guard let first = Self.firstLineEnd(job.base, from: job.from, to: end, quoted: startsQuoted) else {
            return Scanned()
        }
        var position = first
        var records = 0
        var fields = 0
        while records < job.recordsCapacity && !hurry.load(ordering: .relaxed) {
            let found = vb_csv_scan_records(
                job.base, position, CSVReader.offset(position, plus: job.maxRecordBytes, atMost: end), job.delimiter,
                job.maxFieldBytes,
                job.maxFieldCount, job.bounds + 2 * fields, job.boundsCapacity - fields, job.records + records,
                min(Self.scanBatch, job.recordsCapacity - records))
            guard found > 0 else { break }
            for index in records..<records + found { fields += job.records[index].fields }
            records += found
            position = job.records[records - 1].end
        }
        return Scanned(start: first, records: records, startsQuoted: startsQuoted)
    }

    /// Records per scanner call on the thread: how long the reader may wait when it hurries it.
    static let scanBatch = 64
    /// How long the reader polls for the request to finish before it sleeps (a few microseconds); not at
    /// all on a single CPU, where the queue cannot finish while the reader polls.
    static let spinLimit = sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 ? 20_000 : 0

    /// The offset just past the first line break outside quotes in `base[from ..< end]`, where `from`
    /// is inside quotes if `quoted`; `nil` if there is none (or a CR ends the bytes: is an LF next?).
    static func firstLineEnd(_ base: UnsafePointer<UInt8>, from: Int, to end: Int, quoted: Bool) -> Int? {
        var quoted = quoted
        var i = from
        while i < end {
            switch base[i] {
            case 0x22: quoted.toggle()
            case 0x0A where !quoted: return i + 1
            case 0x0D where !quoted:
                guard i + 1 < end else { return nil }
                return base[i + 1] == 0x0A ? i + 2 : i + 1
            default: break
            }
            i += 1
        }
        return nil
    }

    /// Reads until `buffer` holds at least ``minimumFill`` bytes (or is full), or the source ends: a
    /// source that returns a few bytes per call (a pipe, a generator) would otherwise pay a handover
    /// between threads for each of them.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let error = deferredError {
            deferredError = nil
            throw error
        }
        var filled = 0
        let wanted = min(buffer.count, Self.minimumFill)
        while filled < wanted {
            let n: Int
            do {
                n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            } catch where filled > 0 {
                deferredError = error
                break
            }
            if n == 0 { break }
            filled += n
        }
        if countsQuotes, let start = buffer.baseAddress {
            if vb_count_byte(start.assumingMemoryBound(to: UInt8.self), filled, 0x22) % 2 == 1 { oddQuotes.toggle() }
        }
        return filled
    }

    /// The fewest bytes handed over at a time, unless the source ends first. A slow stream's records
    /// therefore arrive in batches of this size.
    static let minimumFill = 64 * 1024

    /// Frees what a request may be writing once the request in flight, if any, is done with it,
    /// without waiting for it: a reader dropped early must not block on a slow pipe.
    func deallocateAfterPendingRead(_ memory: [UnsafeMutableRawPointer]) {
        hurry.store(true, ordering: .relaxed)
        let owned = Owned(pointers: memory)
        queue.async { for pointer in owned.pointers { pointer.deallocate() } }
    }

    /// Memory handed to the queue to free: the reader is gone.
    private struct Owned: @unchecked Sendable {
        let pointers: [UnsafeMutableRawPointer]
    }

    /// A buffer handed to the queue: the reader does not touch it meanwhile.
    private struct Target: @unchecked Sendable {
        let buffer: UnsafeMutableRawBufferPointer
    }
}

/// Stands in for a source handed over to a ``ReadAhead``.
struct HandedOverSource: ByteSource {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        preconditionFailure("the source belongs to the read-ahead queue")
    }
}
