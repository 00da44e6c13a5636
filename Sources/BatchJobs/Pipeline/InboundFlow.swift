import CSVKit

/// What applying one record to the storefront did.
public enum ApplyOutcome: Sendable, Hashable {
    /// The storefront now reflects the record.
    case applied
    /// Nothing needed pushing, but this version of the record is now the one in effect (a stock level
    /// that did not change): the manifest remembers it, the run counts it as skipped.
    case unchanged
    /// Nothing was done and nothing is remembered (waiting by policy, older than what is in effect),
    /// with the reason.
    case skipped(String)
    /// The record cannot be applied; a person must act.
    case exception(kind: String, reference: String, message: String, owner: OwnerTeam)
}

/// The file an inbound flow is reading.
public struct InboundFile: Sendable, Hashable {
    public var name: String
    /// The server's modification time (seconds since 1970).
    public var modified: Int64
}

/// One flow from the warehouse to the storefront (despatches, stock, returns): which files, which
/// layout, how a row becomes a typed record, how a record is identified, and how records are applied.
///
/// `apply` must be idempotent on the storefront side (set absolute values, look before creating), so
/// that a crash between the effect and its manifest record cannot duplicate it.
public protocol InboundFlow {
    /// The typed record a row becomes.
    associatedtype Record
    /// The flow's name in the manifest (`despatches`).
    var name: String { get }
    /// The layout every row is validated against.
    var template: CSVTemplate { get }
    /// The glob the warehouse's file names match.
    var filePattern: String { get }
    /// Prepares to read `file` (binding columns to its header) and returns how a valid row becomes a record.
    func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> Record
    /// The record's idempotency key (order + package + item, SKU, return + item...).
    func key(of record: Record) -> String
    /// What identifies the applied version of the record; `nil` uses a hash of the row's content.
    func fingerprint(of record: Record) -> String?
    /// Records with the same group key that follow each other are applied together (the lines of one
    /// package); by default every record is its own group.
    func groupKey(of record: Record) -> String
    /// Whether two records have the same ``groupKey(of:)`` (a flow may tell without building the keys: the
    /// pipeline asks at every batch boundary, the despatch flow for every line).
    func sameGroup(_ a: Record, _ b: Record) -> Bool
    /// What an applied record means for its order's history, if anything (`file` is the file's name).
    func event(for record: Record, file: String) -> OrderEvent?
    /// What a batch's applied records mean for their orders' histories, in order: by default each record's
    /// ``event(for:file:)``; a flow may tell one event for several (the lines of one package).
    func events(for records: [Record], file: String) -> [OrderEvent]
    /// Applies records; `previous[i]` is the fingerprint in effect for `records[i]`'s key, if any.
    /// With `dryRun`, only says what it would do. Returns one outcome per record.
    func apply(_ records: [Record], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome]
    /// The same, handing back what the records are worth for `voxbatch finance` instead of writing it: the
    /// pipeline records those lines in the batch's own commit, with the records (one transaction, written on
    /// the committing thread). The default applies and hands back nothing.
    func apply(_ records: [Record], previous: [String?], dryRun: Bool, finance: inout [FinanceLine]) throws -> [ApplyOutcome]
    /// At most how many records a batch holds (the pipeline's `batchSize` when it is smaller). A file has up to
    /// five batches in memory at once (``BatchWorker``): a flow whose records weigh more says fewer. The default
    /// is 10,000.
    var recordsPerBatch: Int { get }
    /// Told once per run, before the first file is downloaded, that there are files to apply (a flow may start
    /// its storefront's slow preparations then). The default does nothing.
    func willApplyFiles()
    /// Told before a file's rows are applied (not in a dry run), with the downloaded file at `path`: a flow that
    /// must see the whole file first (import-stock, to tell its storefront which SKUs it will ask about) reads it
    /// here with `configuration`, as the pipeline will, and may write temporary files in `temporaryDirectory`.
    /// A file that is not CSV is left to the pipeline to report. The default does nothing.
    func willApplyRows(ofFile path: String, configuration: CSVConfiguration, temporaryDirectory: String) throws
    /// Told once the rows of the file given to ``willApplyRows(ofFile:configuration:temporaryDirectory:)`` are all
    /// applied, or the file has failed, and nothing is applying them any more. The default does nothing.
    func didApplyRows()
}

extension InboundFlow {
    public var recordsPerBatch: Int { 10_000 }
    public func fingerprint(of record: Record) -> String? { nil }
    public func groupKey(of record: Record) -> String { key(of: record) }
    public func sameGroup(_ a: Record, _ b: Record) -> Bool { groupKey(of: a) == groupKey(of: b) }
    public func event(for record: Record, file: String) -> OrderEvent? { nil }
    public func willApplyFiles() {}
    public func willApplyRows(ofFile path: String, configuration: CSVConfiguration, temporaryDirectory: String) throws {}
    public func didApplyRows() {}
    public func events(for records: [Record], file: String) -> [OrderEvent] {
        records.compactMap { event(for: $0, file: file) }
    }
    public func apply(_ records: [Record], previous: [String?], dryRun: Bool, finance: inout [FinanceLine]) throws
        -> [ApplyOutcome]
    {
        try apply(records, previous: previous, dryRun: dryRun)
    }
}

/// What one run of a pipeline did.
public struct RunSummary: Sendable, Hashable, Codable {
    public var job: String
    public var files: [FileSummary] = []
    public var dryRun = false
    /// Whether the run stopped early on request (SIGTERM), leaving work for the next run.
    public var stopped = false

    public init(job: String, files: [FileSummary] = [], dryRun: Bool = false) {
        self.job = job
        self.files = files
        self.dryRun = dryRun
    }

    /// What happened to one file.
    public struct FileSummary: Sendable, Hashable, Codable {
        public var name: String
        public var outcome: String
        public var applied = 0
        public var skipped = 0
        public var failed = 0
        public var exceptions = 0
        public var errorReport: String?
    }

    public var applied: Int { files.reduce(0) { $0 + $1.applied } }
    public var skipped: Int { files.reduce(0) { $0 + $1.skipped } }
    public var failed: Int { files.reduce(0) { $0 + $1.failed } }
    public var exceptions: Int { files.reduce(0) { $0 + $1.exceptions } }
}
