import Foundation

/// Runs batches of work on a thread of its own, in order, while the caller prepares the next one.
///
/// At most one batch waits while another is worked on. The inbound pipeline chains two workers — one applies
/// batches to the storefront, the next commits them to the manifest — so a file never has more than five
/// batches in memory (the one being filled, and one waiting and one in hand at each stage); the outbound
/// pipeline sends files on one while it collects the next page. Batches run strictly one after another in the
/// order submitted — the manifest sees the same sequence of commits as without the worker — and the first
/// error stops the rest: it is thrown to the caller at its next ``submit(_:)`` or at ``finish()``.
final class BatchWorker: @unchecked Sendable {
    private let queue = DispatchQueue(label: "voxbatch.apply")
    private let slots: DispatchSemaphore

    /// A worker that holds `slots` batches at most: the one worked on and `slots - 1` waiting.
    init(slots: Int = 2) { self.slots = DispatchSemaphore(value: slots) }
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var failure: (any Error)?

    /// Queues `work` after what was submitted before; waits while the worker's slots are all taken.
    ///
    /// - Throws: The error an earlier batch failed with (this one is then not queued).
    func submit(_ work: @escaping () throws -> Void) throws {
        try rethrow()
        slots.wait()
        group.enter()
        let box = UncheckedWork(work)
        queue.async { [self] in
            defer {
                slots.signal()
                group.leave()
            }
            guard lock.withLock({ failure == nil }) else { return }
            do { try box.work() } catch { lock.withLock { if failure == nil { failure = error } } }
        }
    }

    /// Waits for every queued batch.
    ///
    /// - Throws: The first error a batch failed with.
    func finish() throws {
        group.wait()
        try rethrow()
    }

    /// Waits for every queued batch and drops their error (the pipeline is already failing for another).
    func drain() {
        group.wait()
    }

    private func rethrow() throws {
        if let error = lock.withLock({ failure }) { throw error }
    }
}

/// A closure handed to another thread. The caller never touches what it captures (the flow, the storefront,
/// the batch) while it runs; what both use (the manifest, the pending records) is locked.
private struct UncheckedWork: @unchecked Sendable {
    let work: () throws -> Void
    init(_ work: @escaping () throws -> Void) { self.work = work }
}

/// A value computed on a thread of its own while the caller goes on; ``wait()`` returns it (or its error).
final class BackgroundResult<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<Value, any Error>?

    init(_ compute: @escaping () throws -> Value) {
        let work = UncheckedWork { [self] in
            result = Result { try compute() }
            done.signal()
        }
        Thread.detachNewThread { try? work.work() }
    }

    /// Waits for the value; once only.
    func wait() throws -> Value {
        done.wait()
        return try result!.get()
    }
}
