import Dispatch
import Synchronization

/// Reads the next chunk from a source on another thread while the reader parses the current one.
///
/// Reading a file copies every byte from the kernel's page cache, which on its own takes about a
/// fifth of the time the reader needs to parse those bytes. Done on a second core, that copy leaves
/// the parsing thread's critical path.
///
/// The reader hands its source over and never touches it again. It asks for one read at a time
/// (``start(into:)``) into a buffer it does not touch until ``wait()`` has returned. A read the queue
/// has not begun when the reader needs it is done by the reader itself, in ``wait()``: on a machine
/// whose cores are all busy, the reader then reads as if there were no read-ahead instead of waiting
/// for a thread. Either way the source is called one read at a time and in order, so it needs no
/// locking of its own.
final class ReadAhead: @unchecked Sendable {
    /// Where reads run (internal so that tests can suspend it).
    let queue = DispatchQueue(label: "voxbatch.csvkit.read-ahead", qos: .userInitiated)
    private let done = DispatchSemaphore(value: 0)
    /// Used by whoever claimed the current request.
    private var source: any ByteSource
    /// Written on `queue` before `done` is signalled, read by the reader after waiting for it.
    private var result: Result<Int, any Error> = .success(0)
    /// An error the source threw after some bytes of a request had been read: those bytes are handed
    /// over first, and the error is thrown by the next request, where a direct read would throw it.
    private var deferredError: (any Error)?
    /// The current request: its number times four, plus who claimed it (0 nobody, 1 the queue, 2 the reader).
    private let claim = Atomic<Int>(0)
    private var request = 0
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Whether a read was started and its result not yet taken (the reader's thread only).
    private(set) var pending = false

    init(source: any ByteSource) {
        self.source = source
    }

    /// Starts reading into `buffer`, which belongs to this object until ``wait()`` returns.
    func start(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(!pending, "one read at a time")
        pending = true
        request += 1
        self.buffer = buffer
        let queued = request << 2
        claim.store(queued, ordering: .releasing)
        let target = Target(buffer: buffer)
        queue.async { [self] in
            guard claim.compareExchange(expected: queued, desired: queued | 1, ordering: .acquiring).exchanged
            else { return }  // the reader did it
            result = Result { try fill(target.buffer) }
            done.signal()
        }
    }

    /// Returns the number of bytes the current request read (0 at the end), reading them now if the
    /// queue has not begun.
    ///
    /// - Throws: What the source threw.
    func wait() throws -> Int {
        precondition(pending, "no read in flight")
        pending = false
        let queued = request << 2
        if claim.compareExchange(expected: queued, desired: queued | 2, ordering: .acquiring).exchanged {
            return try fill(buffer)
        }
        done.wait()
        return try result.get()
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
        return filled
    }

    /// The fewest bytes handed over at a time, unless the source ends first. A slow stream's records
    /// therefore arrive in batches of this size.
    static let minimumFill = 64 * 1024

    /// Frees `buffer` once the read in flight, if any, is done with it, without waiting for it: a
    /// reader dropped early must not block on a slow pipe.
    func deallocateAfterPendingRead(_ buffer: UnsafeMutablePointer<UInt8>) {
        let target = Target(buffer: UnsafeMutableRawBufferPointer(start: buffer, count: 0))
        queue.async { target.buffer.baseAddress?.deallocate() }
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
