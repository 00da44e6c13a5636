import CSVKit
import Crypto
import FileTransport
import Foundation
import Logging

/// One record to send: an order with its lines, an item, a cancellation.
///
/// Its rows are rendered when asked for, not kept: a run with 100,000 orders holds the orders, not
/// three million cells.
public struct OutboundRecord: Sendable {
    /// The idempotency key (the storefront order id, the SKU...).
    public var key: String
    /// What people call it (the order number), for exceptions.
    public var reference: String
    /// Why it must not be sent now (a failed pre-flight check), if so: it becomes an exception and is
    /// tried again on the next run.
    public var problem: OutboundProblem?
    /// What sending it charges (sales orders: their lines at their prices), recorded with it.
    public var finance: [FinanceLine] = []
    private let render: @Sendable () -> [[String]]
    private let renderPacked: (@Sendable () -> PackedRows)?

    /// Its rows, in the template's column order.
    public var rows: [[String]] { render() }

    /// Its rows packed (``OutboundPipeline/pack(_:)``): rendered straight to bytes when the flow can, else packed
    /// from ``rows``.
    public var packedRows: PackedRows {
        if let renderPacked { return renderPacked() }
        let rows = rows
        return PackedRows(bytes: OutboundPipeline.pack(rows), rows: rows.count, fieldCount: rows.reduce(0) { $0 + $1.count })
    }

    public init(key: String, reference: String? = nil, rows: @autoclosure @escaping @Sendable () -> [[String]],
                problem: OutboundProblem? = nil) {
        self.key = key
        self.reference = reference ?? key
        self.render = rows
        self.renderPacked = nil
        self.problem = problem
    }

    /// A record that renders its packed rows itself (the same bytes as packing `rows`, which are rendered only
    /// to name a field a check refuses).
    public init(key: String, reference: String? = nil, rows: @escaping @Sendable () -> [[String]],
                packedRows: @escaping @Sendable () -> PackedRows, problem: OutboundProblem? = nil) {
        self.key = key
        self.reference = reference ?? key
        self.render = rows
        self.renderPacked = packedRows
        self.problem = problem
    }
}

/// A record's rows packed (``OutboundPipeline/pack(_:)``), with what its separators must count: one per field and
/// one per row, when no field holds one.
public struct PackedRows: Sendable {
    public var bytes: [UInt8]
    public var rows: Int
    public var fieldCount: Int

    public init(bytes: [UInt8], rows: Int, fieldCount: Int) {
        self.bytes = bytes
        self.rows = rows
        self.fieldCount = fieldCount
    }
}

/// A reason a record cannot be sent, for a person.
public struct OutboundProblem: Sendable, Hashable {
    public var kind: String
    public var message: String
    public var owner: OwnerTeam

    public init(kind: String, message: String, owner: OwnerTeam) {
        self.kind = kind
        self.message = message
        self.owner = owner
    }
}

/// One flow from the storefront to the warehouse (sales orders, items, cancellations).
public protocol OutboundFlow {
    /// The flow's name in the manifest (`sales-orders`).
    var name: String { get }
    /// The layout of the file written.
    var template: CSVTemplate { get }
    /// The file-name template: `{timestamp}` (UTC, `20261124T081500Z`) and `{sequence}` (0001...).
    var fileNamePattern: String { get }
    /// Whether a record sent before is sent again when its content changed (items: yes; orders: never).
    var resendsChanged: Bool { get }
    /// The exception kinds a record's successful send closes (its earlier pre-flight failures).
    var problemKinds: [String] { get }
    /// Whether records are orders whose history should show this send.
    var recordsOrderEvents: Bool { get }
    /// The job's name in the manifest's runs (`export-orders`).
    var jobName: String { get }
    /// Whether a full file may be written, reserved, dropped and confirmed on a thread of its own while the
    /// next page is collected: only for a flow whose ``sent(keys:references:in:)`` leaves the storefront
    /// alone (collecting reads it meanwhile). Default: no.
    var sendsWhileCollecting: Bool { get }
    /// What is ready to send now (records already sent are filtered out by the pipeline).
    func collect() throws -> [OutboundRecord]
    /// The same, a page at a time: the pipeline sends each page's records before the next page is read,
    /// so a flow over a large set (sales orders) never has the whole set in memory. By default, one page.
    func collect(pages body: ([OutboundRecord]) throws -> Void) throws
    /// Called once a file with these records is confirmed on the server. `references` are the records'
    /// references in the same order, or `nil` when an interrupted run's file is confirmed later (the
    /// manifest keeps only keys).
    func sent(keys: [String], references: [String]?, in file: String) throws
}

extension OutboundFlow {
    public var resendsChanged: Bool { false }
    public var problemKinds: [String] { [] }
    public var recordsOrderEvents: Bool { false }
    public var jobName: String { "export-\(name)" }
    public var sendsWhileCollecting: Bool { false }
    public func sent(keys: [String], references: [String]?, in file: String) throws {}
    public func collect(pages body: ([OutboundRecord]) throws -> Void) throws { try body(try collect()) }

    /// Every page of ``collect(pages:)`` in one array, for a flow whose `collect()` is paged underneath.
    public func allPages() throws -> [OutboundRecord] {
        var all: [OutboundRecord] = []
        try collect { all += $0 }
        return all
    }
}

/// Thrown through a flow's page reading to end it when a stop is requested.
private struct StopRequested: Error {}

/// The files of a run being sent: their sequence numbers, the keys of those not finished yet (the collecting
/// thread counts them as sent) and the summaries of those finished, in order.
private final class SendingFiles: @unchecked Sendable {
    private let lock = NSLock()
    private var inFlight: [Int: [String]] = [:]
    /// The keys of `inFlight`, kept as files start and finish (a snapshot is then a copy-on-write handle).
    private var inFlightKeys: Set<String> = []
    private var started = 0
    private var finishedFiles: [RunSummary.FileSummary] = []
    /// The next file-name sequence number (the sending thread's alone).
    private(set) var sequence = 1

    /// Notes a file's keys as being sent; returns its number.
    func started(keys: [String]) -> Int {
        lock.withLock {
            started += 1
            inFlight[started] = keys
            inFlightKeys.formUnion(keys)
            return started
        }
    }

    /// The next sequence number, used up.
    func nextSequence() -> Int {
        defer { sequence += 1 }
        return sequence
    }

    /// The file is out and recorded in the manifest.
    func finished(_ number: Int, _ file: RunSummary.FileSummary) {
        lock.withLock {
            for key in inFlight.removeValue(forKey: number) ?? [] { inFlightKeys.remove(key) }
            finishedFiles.append(file)
        }
    }

    /// The keys of files handed over but not finished.
    func keysInFlight() -> Set<String> {
        lock.withLock { inFlightKeys }
    }

    var files: [RunSummary.FileSummary] { lock.withLock { finishedFiles } }
}

/// Storefront → warehouse: collect → validate → write CSV → reserve in the manifest → drop atomically →
/// confirm.
///
/// A record's key is reserved for its file in the same transaction that records the file, before the
/// drop; so a record is never in two files. A run that dies between the reservation and the
/// confirmation finds the file `prepared` next time: if the server has it, it is confirmed; if not, the
/// same file is dropped again under the same name.
public struct OutboundPipeline {
    public var transport: any FileTransport
    public var manifest: Manifest
    /// The folder the warehouse reads from.
    public var inbox: String
    /// Local folder where files wait until confirmed.
    public var workDirectory: String
    public var maxRecordsPerFile: Int
    public var logger: Logger
    public var clock: () -> Date
    /// Whether formula-like values get a leading `'` (`files.guard_formulas`; off: the warehouse's files
    /// carry the shop's values verbatim).
    public var guardsFormulas = false
    /// How transient transport failures are retried.
    public var retry = RetryPolicy()
    /// How retries wait (tests pass a recorder).
    public var sleep: (Double) -> Void = { Retry.sleep(seconds: $0) }
    /// Whether to stop before the next file (default: a SIGTERM was received).
    public var shouldStop: () -> Bool = { StopRequest.isRequested }
    /// Records held by a pre-flight problem are looked at again with backoff: attempt n waits
    /// `retryBackoffMinutes × 2^(n−1)` (at most a day) after the last; at `retryAttempts` an
    /// `order-retries-exhausted` exception — an incident for the alerting — names the record and the error.
    public var retryAttempts = 5
    public var retryBackoffMinutes = 15
    /// Files to the warehouse are encrypted to its keys (and signed) when the settings name keys: the name
    /// gains the extension (`SO_….csv.pgp`); the manifest keeps the hash of the plain content.
    public var pgp: OpenPGP?

    public init(transport: any FileTransport, manifest: Manifest, inbox: String, workDirectory: String,
                maxRecordsPerFile: Int = 500, logger: Logger = Logger(label: "voxbatch.outbound"),
                clock: @escaping () -> Date) {
        self.transport = transport
        self.manifest = manifest
        self.inbox = inbox
        self.workDirectory = workDirectory
        self.maxRecordsPerFile = maxRecordsPerFile
        self.logger = logger
        self.clock = clock
    }

    /// Sends what is ready; with `dryRun`, only says what would be sent.
    public func run(_ flow: some OutboundFlow, dryRun: Bool = false) throws -> RunSummary {
        let runID = dryRun ? nil : try manifest.startRun(job: flow.jobName)
        do {
            return try run(flow, runID: runID, dryRun: dryRun)
        } catch {
            if let runID { try manifest.finishRun(runID, outcome: "failed", applied: 0, skipped: 0, failed: 0, error: "\(error)") }
            throw error
        }
    }

    private func run(_ flow: some OutboundFlow, runID: Int64?, dryRun: Bool) throws -> RunSummary {
        var summary = RunSummary(job: flow.jobName, dryRun: dryRun)
        if !dryRun { try recover(flow) }

        let header = CSVHeader(flow.template.headerNames)
        let validator = TemplateValidator(template: flow.template, header: header)
        // What this run holds, whatever the number of records: one page, the file being filled, and the
        // keys of both (a key sent in an earlier file is found in the manifest, which reserved it).
        // The records of the file being filled: their keys, hashes and finance lines; their rows, rendered once, go
        // straight to the file (``FillingFile``), so a file of 5,000 orders is not held in memory twice over while
        // the one before it is sent.
        var batch: [PackedRecord] = []
        var filling: FillingFile?  // nil in a dry run: nothing is written
        var fillings = 0
        defer { filling?.discard() }  // a file left unsent (an error, a stop): its records go in the next run
        if !dryRun {
            // What a killed run was filling is never sent: its records were not reserved, and are collected again.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: workDirectory)) ?? []
            where name.hasPrefix(FillingFile.prefix(flow: flow.name)) {
                unlink(workDirectory + "/" + name)
            }
        }
        var inFile: Set<String> = []  // keys in the file being filled
        var handedOver: Set<String> = []  // keys of files handed to the sender since this page's look-up
        // Keys held back this run (pre-flight or template), by hash: usually few, but every order of the shop on a day
        // its SKUs are unknown to the warehouse.
        var held = KeySet()
        var previewed: Set<String> = []  // dry run only: nothing is reserved, so keys are remembered
        var separators: [Int32] = []  // a packed record's separators, found to validate it
        var skipped = 0
        var invalid = 0
        var heldCount = 0  // failed a pre-flight check: an exception, tried again next run
        var holds: [(kind: String, reference: String, message: String, owner: OwnerTeam)] = []  // this page's
        // Files are named, written, reserved, dropped and confirmed in order — on a thread of their own while
        // the next page is collected, when the flow allows it (the sender then has the transport to itself).
        let sender = flow.sendsWhileCollecting && !dryRun ? BatchWorker(slots: 1) : nil
        let sending = SendingFiles()

        func sendBatch() throws {
            guard !batch.isEmpty else { return }
            if shouldStop() {
                logger.notice("stop requested: the remaining records go in the next run", metadata: ["job": "\(summary.job)"])
                summary.stopped = true
                throw StopRequested()
            }
            let full = batch
            batch.removeAll(keepingCapacity: true)
            let rows = filling
            filling = nil
            handedOver.formUnion(inFile)
            inFile.removeAll(keepingCapacity: true)
            // The template's unique keys (an order number and item code) are checked within each file:
            // remembering every key of the run would grow with it.
            validator.forgetSeenKeys()
            let number = sending.started(keys: full.map(\.key))
            let work = { [self] in
                // A name is used once, ever: a run in the same second as an earlier one (a rerun after a crash, a
                // pattern without {sequence}) moves on to the next free sequence number.
                var name = fileName(flow.fileNamePattern, sequence: sending.nextSequence())
                while try manifest.latestFile(name: name) != nil || (!dryRun && transport.stat(inbox + "/" + name) != nil) {
                    let next = fileName(flow.fileNamePattern, sequence: sending.nextSequence())
                    name = next != name ? next : Self.suffixed(name, sending.sequence)
                }
                var file = RunSummary.FileSummary(name: name, outcome: dryRun ? "would-send" : "sent")
                file.applied = full.count
                if !dryRun, let rows { try send(full, rows: rows, as: name, flow: flow, runID: runID) }
                sending.finished(number, file)
            }
            if let sender { try sender.submit(work) } else { try work() }
        }

        do {
            defer { sender?.drain() }
            try flow.collect { records in
                // Keys of files still being sent are not in the manifest yet: they count as sent. (Files that
                // finished before the look-up are found in it.)
                let sendingKeys = sending.keysInFlight()
                let known = try manifest.appliedHashes(flow: flow.name, keys: records.map(\.key))
                handedOver.removeAll(keepingCapacity: true)
                for record in records {
                    if inFile.contains(record.key) || handedOver.contains(record.key) || sendingKeys.contains(record.key)
                        || held.contains(KeyHash.of(record.key)) || (dryRun && previewed.contains(record.key)) {
                        skipped += 1  // the storefront returned it twice: one sales order only
                        continue
                    }
                    // Hashed here only to compare with a version sent before; otherwise by the sender. Rendered
                    // only past that comparison: a record already sent (most of a busy shop's ready orders, run
                    // after run) is never rendered again.
                    var hash: String?
                    var packed: PackedRows?
                    if let previous = known[record.key] {
                        if flow.resendsChanged {
                            packed = record.packedRows
                            hash = Self.digest(packed!.bytes)
                        }
                        if !flow.resendsChanged || previous == hash {
                            skipped += 1  // already sent: never twice
                            continue
                        }
                    }
                    if let problem = record.problem {
                        heldCount += 1
                        held.insert(KeyHash.of(record.key))
                        if !dryRun { holds.append((problem.kind, record.reference, problem.message, problem.owner)) }
                        continue
                    }
                    // Checked on the packed bytes it will be written from (no second copy of its fields).
                    let packedRows = packed ?? record.packedRows
                    var errors: [FieldError] = []
                    if !Self.validate(packed: packedRows, with: validator, ends: &separators, into: &errors) {
                        // A control character somewhere (rare): checked field by field, to name it.
                        for (i, row) in record.rows.enumerated() {
                            validator.validate(fields: row, recordNumber: i + 1, into: &errors)
                            Self.checkControlCharacters(row, header: header, into: &errors)
                        }
                    }
                    guard errors.isEmpty else {
                        invalid += 1
                        held.insert(KeyHash.of(record.key))
                        let reasons = errors.map { "\($0.column) \($0.value.isEmpty ? "" : "\"\($0.value)\" ")\($0.message)" }
                        if !dryRun {
                            try manifest.raise(kind: "invalid-\(flow.name)", reference: record.reference,
                                               message: "\(record.reference) was not sent: " + reasons.joined(separator: "; "),
                                               owner: .operations)
                        }
                        continue
                    }
                    if !dryRun {
                        if filling == nil {
                            fillings += 1
                            filling = try FillingFile(path: workDirectory + "/" + FillingFile.prefix(flow: flow.name)
                                                        + String(fillings), header: flow.template.headerNames,
                                                      guardsFormulas: guardsFormulas)
                        }
                        try filling!.append(packedRows.bytes)
                    }
                    batch.append(PackedRecord(key: record.key, reference: record.reference, finance: record.finance,
                                              hash: hash ?? (dryRun ? "" : Self.digest(packedRows.bytes))))
                    inFile.insert(record.key)
                    if dryRun { previewed.insert(record.key) }
                    if batch.count >= maxRecordsPerFile { try sendBatch() }
                }
                try hold(holds, flow: flow)
                holds.removeAll(keepingCapacity: true)
            }
            try sendBatch()
            try sender?.finish()
        } catch is StopRequested {
            try sender?.finish()  // the files already handed over are sent whole
            try hold(holds, flow: flow)  // the stopped page's records held so far
        }
        summary.files = sending.files

        if var first = summary.files.first {
            first.skipped = skipped
            first.failed = invalid
            first.exceptions = heldCount + invalid
            summary.files[0] = first
        } else if skipped + invalid + heldCount > 0 {
            summary.files.append(.init(name: "", outcome: "nothing-to-send", skipped: skipped, failed: invalid,
                                       exceptions: heldCount + invalid))
        }
        if let runID {
            try manifest.finishRun(runID, outcome: invalid + heldCount > 0 ? "completed-with-exceptions" : "ok",
                                   applied: summary.applied, skipped: skipped, failed: invalid + heldCount)
        }
        return summary
    }

    /// A control character (other than tab, CR and LF, which quoting carries) is never sent: the WMS
    /// could store it or cut the value at it, and nobody would see why. The record is held with an
    /// exception naming the column and the character, like any value the template refuses.
    static func checkControlCharacters(_ row: [String], header: CSVHeader, into errors: inout [FieldError]) {
        for (i, var value) in row.enumerated() {
            let found = value.withUTF8 { bytes in
                bytes.first { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F }
            }
            guard let found else { continue }
            let shown = value.unicodeScalars.map {
                $0.value < 0x20 || $0.value == 0x7F ? String(format: "\\u%04X", $0.value) : String($0)
            }.joined()
            errors.append(FieldError(column: i < header.names.count ? header.names[i] : "column \(i + 1)",
                                     columnNumber: i + 1, value: shown, rule: "control-character",
                                     message: "contains the control character U+\(String(format: "%04X", found)), "
                                         + "which is never sent to the warehouse: remove it in the shop"))
        }
    }

    /// A record's content hash: its fields, unambiguously separated.
    static func hash(_ rows: [[String]]) -> String {
        digest(pack(rows))
    }

    /// A record's rows as the bytes its hash is taken over: each field ended by a unit separator (0x1F), each
    /// row by a record separator (0x1E). Those two never reach a file (``checkControlCharacters`` holds back
    /// every control character but tab, CR and LF), so the packing is unambiguous; and it is how a file's
    /// records wait to be written: one allocation a record instead of one per row and per long field.
    static func pack(_ rows: [[String]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        for row in rows {
            for field in row {
                bytes.append(contentsOf: field.utf8)
                bytes.append(0x1F)
            }
            bytes.append(0x1E)
        }
        return bytes
    }

    /// Validates each row of a packed record (rows numbered from 1 within the record, as before), split by
    /// ``PackedSeparators`` (`ends`: room for the separators' offsets, kept between records). Returns `false`,
    /// having validated nothing, when the record is not cleanly packed: it holds a control character a file must not
    /// carry (anything below 0x20 but tab, LF, CR and the packing's own separators, or DEL), or a separator inside a
    /// field (its separators are not exactly one per field and one per row).
    static func validate(packed: PackedRows, with validator: TemplateValidator, ends: inout [Int32],
                         into errors: inout [FieldError]) -> Bool {
        packed.bytes.withUnsafeBufferPointer { bytes in
            guard let found = separators(of: packed, bytes, into: &ends) else { return false }
            ends.withUnsafeBufferPointer { ends in
                var rowStart = 0, first = 0, row = 0
                for j in 0..<found where bytes[Int(ends[j])] == PackedSeparators.rowEnd {
                    row += 1
                    validator.validate(bytes: bytes, start: rowStart, fieldEnds: UnsafeBufferPointer(rebasing: ends[first..<j]),
                                       recordNumber: row, into: &errors)
                    rowStart = Int(ends[j]) + 1
                    first = j + 1
                }
            }
            return true
        }
    }

    /// The separators of `packed` (its `bytes`) in `ends`, and how many there are, when it is cleanly packed.
    private static func separators(of packed: PackedRows, _ bytes: UnsafeBufferPointer<UInt8>,
                                   into ends: inout [Int32]) -> Int? {
        guard let found = PackedSeparators.find(in: bytes, into: &ends), found.rows == packed.rows,
              found.count - found.rows == packed.fieldCount else { return nil }
        return found.count
    }

    /// The hash of packed rows (hashed in one call: one digest update per field cost more than the hashing).
    static func digest(_ packed: [UInt8]) -> String {
        SHA256.hash(data: packed).prefix(16).hex
    }

    /// Writes packed rows (``pack(_:)``) as CSV records.
    static func write(packed: [UInt8], to writer: CSVWriter) throws {
        try packed.withUnsafeBufferPointer { try writer.write(packedRecords: $0, fieldEnd: 0x1F, recordEnd: 0x1E) }
    }

    private func send(_ batch: [PackedRecord], rows: FillingFile, as name: String, flow: some OutboundFlow,
                      runID: Int64?) throws {
        let local = workDirectory + "/" + name
        let encryption = pgp.flatMap { $0.settings.encryptsOutbound ? $0 : nil }
        let plain = encryption == nil ? local : local + ".plain"
        let hashes = batch.map { (key: $0.key, hash: $0.hash) }
        let (sha, written) = try rows.finish(as: plain)
        var size = written
        if let encryption {
            defer { unlink(plain) }
            try encryption.encrypt(plain, to: local)
            size = (try FileManager.default.attributesOfItem(atPath: local)[.size] as? NSNumber)?.int64Value ?? 0
        }
        let id = try manifest.prepareOutbound(flow: flow.name, name: name, size: size, sha256: sha,
                                              runID: runID, records: hashes, finance: batch.lazy.flatMap(\.finance))
        try publish(local, name: name, fileID: id, records: batch.count)
        try conclude(flow, keys: batch.map(\.key), references: batch.map(\.reference), file: name)
    }

    /// Tells the flow a file is out and closes the pre-flight exceptions of what it carried.
    private func conclude(_ flow: some OutboundFlow, keys: [String], references: [String], file: String) throws {
        try flow.sent(keys: keys, references: references, in: file)
        if flow.recordsOrderEvents {
            try manifest.addOrderEvents(references.map {
                OrderEvent(orderNumber: $0, kind: "sent", detail: "\(flow.name) sent to the warehouse in \(file)", file: file)
            })
        }
        guard !flow.problemKinds.isEmpty else { return }
        try manifest.resolveExceptions(references: references,
                                       kinds: flow.problemKinds + ["invalid-\(flow.name)", "order-retries-exhausted"],
                                       note: "sent in \(file)")
    }

    /// Holds a page's records back for their pre-flight problems, in one transaction: an attempt is counted (on
    /// the exception) only when its backoff has passed, and the attempt that reaches `retryAttempts` raises the
    /// incident.
    private func hold(_ records: [(kind: String, reference: String, message: String, owner: OwnerTeam)],
                      flow: some OutboundFlow) throws {
        let now = Int64(clock().timeIntervalSince1970), backoff = Int64(retryBackoffMinutes) * 60
        try manifest.raiseHeld(records, due: { occurrences, lastSeen in
            now >= lastSeen + min(86_400, backoff << Int64(min(20, max(0, occurrences - 1))))
        }, retryAttempts: retryAttempts, exhausted: { reference, attempts, message in
            "\(reference) (\(flow.name)) has failed \(attempts) attempts and stays held: " + message
        })
    }

    /// Drops a prepared file and confirms it.
    private func publish(_ local: String, name: String, fileID: Int64, records: Int) throws {
        try Retry.run(retry, operation: "drop \(name)", logger: logger, sleep: sleep) {
            // A retry after a drop whose answer was lost finds the complete file already published.
            if let existing = try transport.stat(inbox + "/" + name),
               existing.size == (try? FileManager.default.attributesOfItem(atPath: local)[.size] as? NSNumber)?.int64Value {
                return
            }
            try AtomicDrop(transport: transport).drop(localPath: local, to: inbox + "/" + name)
        }
        try manifest.finishFile(fileID, status: .sent, applied: records, skipped: 0, failed: 0, errorReport: nil)
        unlink(local)
        logger.info("file sent", metadata: ["file": "\(name)", "records": "\(records)"])
    }

    /// Finishes what an interrupted run left `prepared`.
    private func recover(_ flow: some OutboundFlow) throws {
        try Retry.run(retry, operation: "clean \(inbox)", logger: logger, sleep: sleep) {
            try AtomicDrop(transport: transport).cleanLeftovers(in: inbox)
        }
        for file in try manifest.preparedFiles(flow: flow.name) {
            if let remote = try transport.stat(inbox + "/" + file.name), remote.size == file.size {
                try manifest.finishFile(file.id, status: .sent, applied: file.applied, skipped: 0, failed: 0,
                                        errorReport: nil)
                unlink(workDirectory + "/" + file.name)
                logger.notice("confirmed a file an interrupted run had dropped", metadata: ["file": "\(file.name)"])
            } else {
                logger.notice("dropping a file an interrupted run had prepared", metadata: ["file": "\(file.name)"])
                try publish(workDirectory + "/" + file.name, name: file.name, fileID: file.id, records: file.applied)
            }
            try flow.sent(keys: try manifest.recordKeys(fileID: file.id), references: nil, in: file.name)
        }
    }

    /// A UTC time as file names carry it: `20261124T081500Z`.
    static func fileTimestamp(_ date: Date) -> String {
        UTCTime.compact(date)
    }

    /// `NAME_0002.csv` from `NAME.csv`, for patterns without `{sequence}`.
    static func suffixed(_ name: String, _ sequence: Int) -> String {
        // `SO_1.csv.pgp` → `SO_1_0002.csv.pgp`: the PGP ending stays outermost.
        if let ext = [".pgp", ".gpg", ".asc"].first(where: { name.hasSuffix($0) }) {
            return suffixed(String(name.dropLast(ext.count)), sequence) + ext
        }
        let dot = name.lastIndex(of: ".") ?? name.endIndex
        return name[..<dot] + String(format: "_%04d", sequence) + name[dot...]
    }

    private func fileName(_ pattern: String, sequence: Int) -> String {
        pattern.replacingOccurrences(of: "{timestamp}", with: Self.fileTimestamp(clock()))
            .replacingOccurrences(of: "{sequence}", with: String(format: "%04d", sequence))
            + (pgp?.settings.encryptsOutbound == true ? pgp!.settings.fileExtension : "")
    }
}

/// A record in a file being filled or sent: what sending it needs, with its rows packed
/// (``OutboundPipeline/pack(_:)``) rather than held as strings or re-rendered from the storefront's record.
struct PackedRecord {
    let key: String
    let reference: String
    let finance: [FinanceLine]
    /// The hash of its rows, as the manifest keeps it.
    let hash: String
}

/// The file a batch's rows are written to as its records are collected: rendered, guarded and hashed on the way (a
/// file's SHA-256 without reading it back), under a name of its own in the work folder until the sender gives it its
/// name. One that is not sent is removed; one a killed run left is removed by the next.
final class FillingFile {
    let path: String
    private let sink: HashingSink
    private let writer: CSVWriter
    private var done = false

    static func prefix(flow: String) -> String { ".filling-\(flow)-" }

    init(path: String, header: [String], guardsFormulas: Bool) throws {
        self.path = path
        sink = HashingSink(try FileDescriptorSink(path: path))
        writer = CSVWriter(sink: sink, guardsFormulas: guardsFormulas)
        do { try writer.write(record: header) } catch {
            unlink(path)
            throw error
        }
    }

    /// Writes a record's packed rows.
    func append(_ packed: [UInt8]) throws { try OutboundPipeline.write(packed: packed, to: writer) }

    /// Writes out what is buffered, makes it durable and moves it to `local`; its SHA-256 and size.
    func finish(as local: String) throws -> (sha256: String, size: Int64) {
        try writer.flush()
        try sink.file.sync()
        guard rename(path, local) == 0 else {
            throw TransportError.posix("write \(local)", target: "local", path: local)
        }
        done = true
        return (sink.hasher.finalize().hex, sink.count)
    }

    /// Removes the file unless it was finished.
    func discard() {
        if !done { unlink(path) }
        done = true
    }

    deinit { discard() }
}

/// Writes through to a file and hashes the bytes on their way: a file's SHA-256 without reading it back whole.
final class HashingSink: ByteSink {
    let file: FileDescriptorSink
    private(set) var hasher = SHA256()
    private(set) var count: Int64 = 0

    init(_ file: FileDescriptorSink) { self.file = file }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try file.write(bytes)
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }
}
