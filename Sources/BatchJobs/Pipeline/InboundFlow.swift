import CSVKit

/// What applying one record to the storefront did.
public enum ApplyOutcome: Sendable, Hashable {
    /// The storefront now reflects the record.
    case applied
    /// Nothing needed doing (already in effect, or waiting by policy), with the reason.
    case skipped(String)
    /// The record cannot be applied; a person must act.
    case exception(kind: String, reference: String, message: String, owner: OwnerTeam)
}

/// One flow from the warehouse to the storefront (despatches, stock, returns): which files, which
/// layout, how a record is identified, and how it is applied.
///
/// `apply` must be idempotent on the storefront side (set absolute values, look before creating), so
/// that a crash between the effect and its manifest record cannot duplicate it.
public protocol InboundFlow {
    /// The flow's name in the manifest (`despatches`).
    var name: String { get }
    /// The layout every row is validated against.
    var template: CSVTemplate { get }
    /// The glob the warehouse's file names match.
    var filePattern: String { get }
    /// The idempotency key of the record the reader is on (order + package + item, SKU + snapshot...).
    func key(of record: CSVReader) -> String
    /// Applies the record; with `dryRun`, only says what it would do.
    func apply(_ record: CSVReader, dryRun: Bool) throws -> ApplyOutcome
}

/// What one run of a pipeline did.
public struct RunSummary: Sendable, Hashable, Codable {
    public var job: String
    public var files: [FileSummary] = []
    public var dryRun = false

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
