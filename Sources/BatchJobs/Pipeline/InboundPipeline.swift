import CSVKit
import Crypto
import FileTransport
import Foundation
import Logging

/// Warehouse → storefront: list → ready? → seen before? → download → parse and validate → apply →
/// report → archive → record.
///
/// A bad row never stops the good ones; a file that is not CSV at all is rejected whole. Records are
/// committed to the manifest in batches, each batch's keys in the same transaction as the file's
/// progress, so a run killed at any point and run again applies every record exactly once in effect.
public struct InboundPipeline {
    public var transport: any FileTransport
    public var manifest: Manifest
    public var folders: (outbox: String, archive: String, error: String)
    public var pickup: Pickup
    /// Local folder for downloads and error reports.
    public var workDirectory: String
    public var csv: CSVConfiguration

    /// `csv` with chunks of a quarter MiB at most: a reader's buffers and its read-ahead's arrays are sized by
    /// the chunk (6.5 MiB of a run's peak at the default 1 MiB, 1.6 MiB here), and the rows are applied far
    /// slower than the parser reads them (a 1,000,000-row stock import took as long either way).
    var readerConfiguration: CSVConfiguration {
        var configuration = csv
        configuration.chunkSize = min(configuration.chunkSize, 1 << 18)
        return configuration
    }
    public var logger: Logger
    /// How many applied records are committed together (with the file's progress, in one transaction).
    /// Larger batches mean fewer commits: 2,000 took a 1,000,000-row stock import from 13.4 s to 10.6 s
    /// against 200, and 10,000 a further ~6% (Benchmarks/README.md); a crash only redoes the uncommitted
    /// batches, which the storefront's look-first makes harmless. A flow may ask for smaller ones
    /// (``InboundFlow/recordsPerBatch``). Batches are applied on a worker thread while the next is read, and
    /// committed on another while the next is applied (``BatchWorker``), in order.
    public var batchSize = 10_000
    /// A file of at least this many bytes has its unique keys checked by a first pass over it
    /// (``DuplicateKeys``: memory that does not grow with the file); a smaller one's are remembered as its rows go by.
    public var duplicateScanThreshold = DuplicateKeys.threshold
    /// How transient transport failures are retried.
    public var retry = RetryPolicy()
    /// How retries wait (tests pass a recorder).
    public var sleep: (Double) -> Void = { Retry.sleep(seconds: $0) }
    /// Told how a file is moving (download bytes, rows processed), for a progress display.
    public var progress: ((PipelineProgress) -> Void)?
    /// Where a copy of each error report is kept for `voxbatch files show` (none when `nil`).
    public var reportsDirectory: String?
    /// Whether to stop before the next file (default: a SIGTERM was received).
    public var shouldStop: () -> Bool = { StopRequest.isRequested }
    /// Files from the warehouse are PGP files: each is decrypted and its signature verified before a row is
    /// read (when the settings say `inbound: encrypted`); error reports to the warehouse are encrypted too.
    public var pgp: OpenPGP?

    private var decrypts: Bool { pgp?.settings.decryptInbound == true }

    public init(transport: any FileTransport, manifest: Manifest, folders: (outbox: String, archive: String, error: String),
                pickup: Pickup, workDirectory: String, csv: CSVConfiguration = .init(),
                logger: Logger = Logger(label: "voxbatch.inbound")) {
        self.transport = transport
        self.manifest = manifest
        self.folders = folders
        self.pickup = pickup
        self.workDirectory = workDirectory
        self.csv = csv
        self.logger = logger
    }

    /// Processes every ready file of `flow`.
    public func run(_ flow: some InboundFlow, dryRun: Bool = false) throws -> RunSummary {
        var summary = RunSummary(job: "import-\(flow.name)", dryRun: dryRun)
        let runID = dryRun ? nil : try manifest.startRun(job: summary.job)
        do {
            let ready = try Retry.run(retry, operation: "list \(folders.outbox)", logger: logger, sleep: sleep) {
                // With PGP, `DESP_*.csv.pgp` — and plain `DESP_*.csv` too, to be refused rather than left lying.
                var files = try pickup.readyFiles(in: folders.outbox, matching: flow.filePattern)
                if let pgp, decrypts {
                    files += try pickup.readyFiles(in: folders.outbox, matching: flow.filePattern + pgp.settings.fileExtension)
                }
                return files.sorted { $0.name < $1.name }
            }
            if !ready.isEmpty && !dryRun { flow.willApplyFiles() }
            for file in ready {
                if shouldStop() {
                    logger.notice("stop requested: leaving the remaining files for the next run",
                                  metadata: ["job": "\(summary.job)"])
                    summary.stopped = true
                    break
                }
                summary.files.append(try process(file, flow: flow, runID: runID, dryRun: dryRun))
            }
        } catch {
            if let runID {
                try manifest.finishRun(runID, outcome: "failed", applied: summary.applied, skipped: summary.skipped,
                                       failed: summary.failed, error: "\(error)")
            }
            throw error
        }
        if let runID {
            let outcome = summary.failed + summary.exceptions > 0 ? "completed-with-exceptions" : "ok"
            try manifest.finishRun(runID, outcome: outcome, applied: summary.applied, skipped: summary.skipped,
                                   failed: summary.failed)
        }
        return summary
    }

    private func process<F: InboundFlow>(_ file: RemoteFile, flow: F, runID: Int64?, dryRun: Bool) throws
        -> RunSummary.FileSummary
    {
        var result = RunSummary.FileSummary(name: file.name, outcome: "")
        let local = workDirectory + "/" + file.name
        var sha: String
        do {
            sha = try download(file, to: decrypts ? local + ".sealed" : local)
        } catch let error as TransportError where error.code == .noSuchFile {
            // Gone between the listing and the download (the warehouse took it back, or another client
            // moved it): nothing to record; if it comes back it is a new file to the manifest.
            unlink(local)
            logger.notice("file vanished before it could be downloaded", metadata: ["file": "\(file.name)"])
            result.outcome = "vanished"
            return result
        }
        defer { unlink(local) }
        if let pgp, decrypts {
            defer { unlink(local + ".sealed") }
            do {
                let verified = try pgp.decrypt(local + ".sealed", to: local)
                logger.info("file decrypted and verified", metadata: ["file": "\(file.name)", "signer": "\(verified.signer ?? "-")"])
            } catch let error as PGPError {
                // Not one row of it is read: to error/, with the reason, for ops (and the warehouse) to fix and
                // re-drop. Nothing is recorded against its content, so the same file is taken again once fixed.
                result.outcome = "rejected"
                result.failed = 1
                if !dryRun {
                    try manifest.raise(kind: error.code.rawValue, reference: file.name,
                                       message: "\(file.name) was not applied: \(error.message)", owner: .operations)
                    try move(file, to: folders.error)
                }
                logger.error("PGP file refused", metadata: ["file": "\(file.name)", "reason": "\(error.code.rawValue)",
                                                            "detail": "\(error.message)"])
                return result
            }
            // The manifest knows a file by its content, not by its wrapping: a re-encrypted copy is a duplicate.
            sha = try Self.sha256(ofFile: local)
        }

        var resumed: FileEntry?
        let earlierWithSameContent = try manifest.file(flow: flow.name, sha256: sha)
        if let earlier = earlierWithSameContent, earlier.status == .processing {
            // An earlier run died while processing this very file: carry on with it. Records it already
            // committed are skipped below; records applied but not committed are applied again, which the
            // flow's idempotent apply makes harmless.
            logger.notice("resuming a file an interrupted run left unfinished", metadata: ["file": "\(file.name)"])
            resumed = earlier
        } else if let earlier = earlierWithSameContent {
            result.outcome = "duplicate"
            logger.notice("duplicate file skipped", metadata: ["file": "\(file.name)", "same_as": "\(earlier.name)"])
            if !dryRun {
                _ = try manifest.addFile(flow: flow.name, name: file.name, size: file.size, modified: file.modified,
                                         sha256: sha, status: .duplicate, runID: runID)
                try move(file, to: folders.archive)
            }
            return result
        }
        let fileID = dryRun ? 0 : try resumed?.id ?? manifest.addFile(flow: flow.name, name: file.name, size: file.size,
                                                                       modified: file.modified, sha256: sha,
                                                                       status: .processing, runID: runID)
        if !dryRun { try manifest.supersede(flow: flow.name, name: file.name, before: fileID) }

        let reportPath = workDirectory + "/" + Self.errorReportName(file.name)
        let reportSink = try FileDescriptorSink(path: reportPath)
        let report = ErrorReport(sink: reportSink)
        let batchSize = min(self.batchSize, flow.recordsPerBatch)
        var batch = ApplyBatch<F>(flow: flow, manifest: manifest, fileID: fileID, fileName: file.name, dryRun: dryRun,
                                  capacity: batchSize)
        // Batches are applied to the storefront on a worker thread while the next one is read, and committed to
        // the manifest on a second while the next one is applied: three stages, each in file order. The counts
        // they add up are the applier's until it has finished. The committer takes one batch at a time: it is the
        // slower stage, and a batch waiting for it as well (records, their rows laid out, their pending keys) put
        // import-stock's peak past 64 MiB on a 4,000,000-row file once applying got faster than committing.
        let applier = BatchWorker(), committer = BatchWorker(slots: 1)
        // The committer is the file's critical path: SQLite's checkpoints go beside it while the batches go in.
        manifest.checkpointInBackground(true)
        defer { manifest.checkpointInBackground(false) }
        let pending = PendingRecords()
        let counts = AppliedCounts(result)
        func submit(_ full: ApplyBatch<F>) throws {
            // Handed over in a box the worker empties: the batch's records are then held by `apply` alone and go
            // when it has read them, not when the closure ends (after waiting for the committer's slot).
            let handed = Handed(full)
            try applier.submit {
                var full = handed.take()
                var tally = counts.value
                let commit = try full.apply(into: &tally, pending: pending)
                counts.value = tally
                try committer.submit { try commit.write(pending: pending) }
            }
        }
        var validation: ValidationSummary
        // After the catch's drain too: nothing is applying the file's rows any more.
        defer { if !dryRun { flow.didApplyRows() } }
        do {
            // A large file's unique keys are checked by a first pass over it, in memory that does not grow with
            // the file; a small one's are remembered as the rows go by.
            var localSize = stat()
            let duplicates = stat(local, &localSize) == 0 && Int(localSize.st_size) >= duplicateScanThreshold
                ? try DuplicateKeys.scan(path: local, configuration: readerConfiguration, template: flow.template,
                                         temporaryDirectory: workDirectory)
                : nil
            if !dryRun {
                try flow.willApplyRows(ofFile: local, configuration: readerConfiguration, temporaryDirectory: workDirectory)
            }
            let reader = try CSVReader(path: local, configuration: readerConfiguration)
            var decode: ((CSVReader) -> F.Record)?
            let context = InboundFile(name: file.name, modified: file.modified)
            validation = try FileValidation.run(reader: reader, template: flow.template, report: report,
                                                duplicates: duplicates) { row in
                // Bound once per file. (Re-assigning `decode ?? ...` on every row would wrap the closure in one
                // more reabstraction thunk per row: a chain as long as the file.)
                if decode == nil {
                    decode = flow.decoder(for: context, header: row.header ?? CSVHeader(flow.template.headerNames))
                }
                let record = decode.unsafelyUnwrapped(row)
                if let progress, row.recordNumber % 5000 == 0 {
                    progress(PipelineProgress(file: file.name, phase: .rows, done: Int64(row.bytesRead), total: file.size,
                                              rows: row.recordNumber))
                }
                // Flush between groups only, so the lines of one package are applied together.
                if batch.count >= batchSize, let last = batch.last, !flow.sameGroup(record, last) { try submit(batch.take()) }
                batch.add(record, key: flow.key(of: record), fingerprint: flow.fingerprint(of: record) ?? Self.hash(row))
            }
            try submit(batch.take())
            try applier.finish()
            try committer.finish()
            counts.copy(to: &result)
        } catch let error as CSVError {
            applier.drain()
            committer.drain()
            // Not CSV at all (unreadable, a bad header, binary): the whole file is rejected.
            result.outcome = "rejected"
            result.failed = 1
            if !dryRun {
                try manifest.finishFile(fileID, status: .rejected, applied: 0, skipped: 0, failed: 1,
                                        errorReport: nil)
                try manifest.raise(kind: "rejected-file", reference: file.name,
                                   message: "\(file.name) was rejected as a whole: \(error)", owner: .operations)
                try move(file, to: folders.error)
            }
            return result
        } catch {
            applier.drain()  // nothing may still be writing when the error leaves this file
            committer.drain()
            throw error
        }
        result.failed = validation.invalid
        if !validation.fileAccepted { result.failed = max(result.failed, validation.rows, 1) }

        let status: FileStatus
        if result.failed == 0 {
            status = .applied
        } else if result.applied + result.skipped > 0 {
            status = .partiallyApplied
        } else {
            status = .rejected
        }
        result.outcome = status.rawValue
        if !dryRun {
            if result.failed > 0 {
                var remote = folders.error + "/" + Self.errorReportName(file.name)
                var dropped = reportPath
                if let pgp, pgp.settings.encryptsOutbound {
                    // The rows it quotes are the warehouse's data: encrypted at rest like every file sent there.
                    dropped = reportPath + pgp.settings.fileExtension
                    remote += pgp.settings.fileExtension
                    try pgp.encrypt(reportPath, to: dropped)
                }
                defer { if dropped != reportPath { unlink(dropped) } }
                try Retry.run(retry, operation: "drop \(remote)", logger: logger, sleep: sleep) {
                    try AtomicDrop(transport: transport).drop(localPath: dropped, to: remote, overwrite: true)
                }
                result.errorReport = remote
                try manifest.raise(kind: "rejected-rows", reference: file.name,
                                   message: "\(result.failed) row(s) of \(file.name) were rejected; fix them from "
                                    + "\(remote) and re-drop the file under the same name", owner: .operations)
            }
            try manifest.finishFile(fileID, status: status, applied: result.applied, skipped: result.skipped,
                                    failed: result.failed, errorReport: result.errorReport)
            try move(file, to: status == .rejected ? folders.error : folders.archive)
        }
        if let reportsDirectory, result.failed > 0, !dryRun {
            try? FileManager.default.createDirectory(atPath: reportsDirectory, withIntermediateDirectories: true)
            let kept = reportsDirectory + "/" + Self.errorReportName(file.name)
            unlink(kept)
            rename(reportPath, kept)
        }
        unlink(reportPath)
        logger.info("file processed", metadata: [
            "flow": "\(flow.name)", "file": "\(file.name)", "outcome": "\(result.outcome)",
            "applied": "\(result.applied)", "skipped": "\(result.skipped)", "failed": "\(result.failed)",
        ])
        return result
    }

    /// Downloads to the work folder, hashing as the bytes arrive; a cut transfer starts again.
    private func download(_ file: RemoteFile, to local: String) throws -> String {
        try Retry.run(retry, operation: "download \(file.path)", logger: logger, sleep: sleep) {
            let sink = try FileDescriptorSink(path: local)
            var hasher = SHA256()
            let report: TransferProgress? = progress.map { progress in
                { done, total in progress(PipelineProgress(file: file.name, phase: .download, done: done,
                                                           total: total ?? file.size, rows: 0)) }
            }
            try transport.download(file.path, progress: report) { chunk in
                hasher.update(bufferPointer: chunk)
                try sink.write(chunk)
            }
            // Not synced to the disk: the copy is read back from the page cache and removed once the file is
            // done, and a run after a crash downloads the file again (it stays in the outbox until archived).
            // Syncing forced a 30 MB despatch file out before its first row was read (15 ms here; far more when
            // the disk is busy).
            return hasher.finalize().hex
        }
    }

    /// Moves a processed file; a same-named older file in the target is replaced (it is recorded in the
    /// manifest already). A retried move whose first attempt went through is recognised.
    private func move(_ file: RemoteFile, to folder: String) throws {
        let target = folder + "/" + file.name
        try Retry.run(retry, operation: "move \(file.path)", logger: logger, sleep: sleep) {
            do {
                try transport.rename(file.path, to: target, overwrite: true)
            } catch let error as TransportError where error.code == .noSuchFile {
                guard try transport.stat(file.path) == nil, try transport.stat(target) != nil else { throw error }
            }
        }
    }

    /// A local file's SHA-256, read in chunks.
    static func sha256(ofFile path: String) throws -> String {
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? reader.close() }
        var hasher = SHA256()
        while let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().hex
    }

    /// The error report's name for a file: `DESP_1.csv` (or `DESP_1.csv.pgp`) → `DESP_1.errors.csv`.
    public static func errorReportName(_ name: String) -> String {
        var name = name
        for ext in [".pgp", ".gpg", ".asc"] where name.hasSuffix(ext) { name = String(name.dropLast(ext.count)) }
        let base = name.hasSuffix(".csv") ? String(name.dropLast(4)) : name
        return base + ".errors.csv"
    }

    /// A record's content hash: its fields, unambiguously separated.
    static func hash(_ record: CSVReader) -> String {
        var hasher = SHA256()
        // The fields and their separators go to the hash in one update where they fit (an update per field
        // and per separator cost more than the hashing of a short row).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { buffer in
            var used = 0
            for i in 0..<record.fieldCount {
                record.withFieldBytes(i) { field in
                    if used + field.count + 1 > buffer.count {
                        hasher.update(bufferPointer: UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<used])))
                        used = 0
                    }
                    if field.count + 1 > buffer.count {  // a field longer than the buffer: on its own
                        hasher.update(bufferPointer: UnsafeRawBufferPointer(field))
                    } else {
                        _ = UnsafeMutableBufferPointer(rebasing: buffer[used...]).initialize(fromContentsOf: field)
                        used += field.count
                    }
                    buffer[used] = 0x1F
                    used += 1
                }
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<used])))
        }
        return hasher.finalize().withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0.prefix(16)).hex }
    }
}

/// Valid records waiting to be applied: looked up in the manifest together, applied together, and
/// committed with the file's progress in one transaction.
struct ApplyBatch<F: InboundFlow> {
    let flow: F
    let manifest: Manifest
    let fileID: Int64
    let fileName: String
    let dryRun: Bool
    private var records: [F.Record] = []
    private var keys: [String] = []
    private var fingerprints: [String] = []
    /// Room made for this many records each time the batch starts again (a batch is flushed at the first group
    /// boundary from its size on: a few more). Arrays grown by doubling took 16,384 records' room for 10,000, and
    /// were copied at each doubling.
    private let capacity: Int

    init(flow: F, manifest: Manifest, fileID: Int64, fileName: String, dryRun: Bool, capacity: Int = 0) {
        self.flow = flow
        self.manifest = manifest
        self.fileID = fileID
        self.fileName = fileName
        self.dryRun = dryRun
        self.capacity = capacity > 0 ? capacity + 64 : 0
        reserve()
    }

    private mutating func reserve() {
        records.reserveCapacity(capacity)
        keys.reserveCapacity(capacity)
        fingerprints.reserveCapacity(capacity)
    }

    var count: Int { records.count }

    /// The record added last.
    var last: F.Record? { records.last }

    /// This batch's records, leaving it empty (to be filled again while they are applied).
    mutating func take() -> ApplyBatch {
        let full = self
        records = []
        keys = []
        fingerprints = []
        reserve()
        return full
    }

    mutating func add(_ record: F.Record, key: String, fingerprint: String) {
        records.append(record)
        keys.append(key)
        fingerprints.append(fingerprint)
    }

    /// Applies what is waiting to the storefront and returns what the manifest must then record (with the
    /// file's counts), for ``BatchCommit/write()`` — on another thread, while the next batch is applied.
    ///
    /// `pending` holds what batches applied before this one have yet to commit: it stands in for the manifest
    /// for those keys, so a record is judged against the version in effect whether or not its commit landed.
    mutating func apply(into result: inout RunSummary.FileSummary, pending: PendingRecords) throws -> BatchCommit {
        defer {  // let go (emptied in place, an array still shared with the batch's sender was copied first)
            records = []
            keys = []
            fingerprints = []
        }
        var toApply: [Int] = []
        // What is pending is taken before the manifest is read: a batch whose commit lands in between is then
        // still in hand (read after, it would be gone from both).
        let waiting = pending.waiting()
        var known = records.isEmpty ? [:] : try manifest.appliedHashes(flow: flow.name, keys: keys)
        waiting.overlay(&known, keys: keys)
        for i in records.indices {
            if !dryRun, known[keys[i]] == fingerprints[i] {
                result.skipped += 1  // applied before with this very content
            } else {
                toApply.append(i)
            }
        }
        var commit = BatchCommit(manifest: manifest, flow: flow.name, fileID: fileID, dryRun: dryRun)
        if !toApply.isEmpty {
            // Most often every record: then the batch's own array, not a copy of each record.
            let chosen = toApply.count == records.count ? records : toApply.map { records[$0] }
            let outcomes = try flow.apply(chosen, previous: toApply.map { known[keys[$0]] },
                                          dryRun: dryRun, finance: &commit.finance)
            precondition(outcomes.count == toApply.count, "\(flow.name): apply must return one outcome per record")
            commit.records.reserveCapacity(toApply.count)
            var applied: [Int] = []
            applied.reserveCapacity(toApply.count)
            for (i, outcome) in zip(toApply, outcomes) {
                switch outcome {
                case .applied:
                    result.applied += 1
                    commit.records.append((keys[i], fingerprints[i]))
                    applied.append(i)
                case .unchanged:
                    result.skipped += 1
                    commit.records.append((keys[i], fingerprints[i]))
                case .skipped:
                    result.skipped += 1
                case .exception(let kind, let reference, let message, let owner):
                    result.exceptions += 1
                    commit.exceptions.append((kind, reference, message, owner))
                }
            }
            commit.events = flow.events(for: applied.count == records.count ? records : applied.map { records[$0] },
                                        file: fileName)
        }
        commit.counts = (result.applied, result.skipped, result.failed)
        if !dryRun {
            commit.sequence = pending.add(commit.records)
            commit.prepared = Manifest.prepare(records: commit.records, events: commit.events, finance: commit.finance,
                                               flow: flow.name, fileID: fileID)
        }
        return commit
    }
}

/// A batch handed to the applying thread, taken out once.
private final class Handed<Batch>: @unchecked Sendable {
    private var batch: Batch?

    init(_ batch: Batch) { self.batch = batch }

    func take() -> Batch { batch.take()! }
}

/// What one applied batch leaves for the manifest: its records, order events, finance lines and exceptions, and
/// the file's counts after it — written in one transaction (the exceptions just before).
struct BatchCommit: @unchecked Sendable {
    let manifest: Manifest
    let flow: String
    let fileID: Int64
    let dryRun: Bool
    var records: [(key: String, hash: String)] = []
    var events: [OrderEvent] = []
    var exceptions: [(kind: String, reference: String, message: String, owner: OwnerTeam)] = []
    var finance: [FinanceLine] = []
    var counts = (applied: 0, skipped: 0, failed: 0)
    /// Its place among the batches waiting in ``PendingRecords``.
    var sequence = 0
    /// What the manifest's commit works out first, worked out on the applying thread (the committing one is the
    /// file's critical path).
    var prepared: Manifest.CommitPreparation?

    init(manifest: Manifest, flow: String, fileID: Int64, dryRun: Bool) {
        self.manifest = manifest
        self.flow = flow
        self.fileID = fileID
        self.dryRun = dryRun
    }

    /// Records the batch in the manifest, then lets `pending` forget it.
    func write(pending: PendingRecords) throws {
        guard !dryRun else { return }
        for e in exceptions { try manifest.raise(kind: e.kind, reference: e.reference, message: e.message, owner: e.owner) }
        try manifest.commit(file: (fileID, counts.applied, counts.skipped, counts.failed), flow: flow,
                            records: records, events: events, finance: finance, prepared: prepared)
        pending.remove(sequence: sequence)
    }
}

/// The records of batches applied to the storefront whose manifest commit has not landed yet: what a later
/// batch of the same file looks up reads through them, so its `previous` is the version in effect.
///
/// Each waiting batch keeps its keys' 64-bit hashes in a ``KeyTable`` (a hit is confirmed on the key itself):
/// a look-up costs a hash and a probe per key, and a committed batch is dropped whole.
final class PendingRecords: @unchecked Sendable {
    struct Batch {
        let sequence: Int
        let records: [(key: String, hash: String)]
        var index: KeyTable
        /// Keys whose hash another key of the batch had first (about n²/2⁶⁵ likely): looked up exactly.
        var collided: [String: String] = [:]
    }

    /// The batches waiting at one moment.
    struct Waiting {
        let batches: [Batch]

        /// Replaces what the manifest said for `keys` with what is pending for them (the latest batch first).
        func overlay(_ known: inout [String: String], keys: [String]) {
            guard !batches.isEmpty else { return }
            for key in keys {
                let hash = KeyHash.of(key)
                for batch in batches.reversed() {
                    if let i = batch.index.find(hash), batch.records[Int(i)].key == key {
                        known[key] = batch.records[Int(i)].hash
                        break
                    }
                    if !batch.collided.isEmpty, let hash = batch.collided[key] {
                        known[key] = hash
                        break
                    }
                }
            }
        }
    }
    private let lock = NSLock()
    private var batches: [Batch] = []
    private var next = 0

    /// Notes a batch's records as in effect; returns the batch's sequence number.
    func add(_ records: [(key: String, hash: String)]) -> Int {
        var index = KeyTable(capacity: records.count * 4 / 3 + 1)
        var collided: [String: String] = [:]
        for (i, r) in records.enumerated() {
            let hash = KeyHash.of(r.key)
            guard let first = index.insert(hash, record: Int32(i)) else { continue }
            if records[Int(first)].key == r.key {
                index.replace(hash, record: Int32(i))  // a key twice in one batch: the later version is in effect
            } else {
                collided[r.key] = r.hash
            }
        }
        return lock.withLock {
            next += 1
            batches.append(Batch(sequence: next, records: records, index: index, collided: collided))
            return next
        }
    }

    /// Forgets a committed batch.
    func remove(sequence: Int) {
        lock.withLock { batches.removeAll { $0.sequence == sequence } }
    }

    /// The batches waiting now: take them before reading the manifest.
    func waiting() -> Waiting { lock.withLock { Waiting(batches: batches) } }
}

/// What the applied batches of a file added up to, kept by the worker thread and read once it finished.
final class AppliedCounts: @unchecked Sendable {
    var value: RunSummary.FileSummary

    init(_ start: RunSummary.FileSummary) { value = start }

    /// Hands the batches' applied, skipped and exception counts back to `result`.
    func copy(to result: inout RunSummary.FileSummary) {
        result.applied = value.applied
        result.skipped = value.skipped
        result.exceptions = value.exceptions
    }
}

/// How far a pipeline is with a file.
public struct PipelineProgress: Sendable {
    public enum Phase: Sendable { case download, rows }
    public var file: String
    public var phase: Phase
    /// Bytes downloaded, or read by the parser.
    public var done: Int64
    public var total: Int64?
    public var rows: Int
}
