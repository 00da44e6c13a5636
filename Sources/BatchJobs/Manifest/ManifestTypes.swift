/// What happened to a file.
public enum FileStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case received, processing, applied
    case partiallyApplied = "partially-applied"
    case rejected, superseded, duplicate
    /// Written locally with its records reserved, not yet confirmed on the server.
    case prepared
    case sent
    /// Processed before; ops asked for it to be processed again (`files reprocess`).
    case reprocessRequested = "reprocess-requested"
}

/// A file voxbatch has seen, sent or received.
public struct FileEntry: Sendable, Hashable {
    public var id: Int64
    public var flow: String
    public var name: String
    public var size: Int64
    public var modified: Int64
    public var sha256: String
    public var firstSeen: Int64
    public var status: FileStatus
    public var applied: Int
    public var skipped: Int
    public var failed: Int
    public var errorReport: String?
    public var runID: Int64?
}

/// Who should act on an exception.
public enum OwnerTeam: String, Sendable, Hashable, Codable, CaseIterable {
    case operations = "ops"
    case merchandising
    case customerService = "customer-service"
    case technical
    /// Stock accuracy between the warehouse and the inventory master.
    case inventory
}

/// One open (or resolved) problem that needs a person.
public struct ExceptionEntry: Sendable, Hashable {
    public var id: Int64
    public var kind: String
    public var reference: String
    public var message: String
    public var owner: OwnerTeam
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var occurrences: Int
    public var status: String
    public var resolutionNote: String?
}

/// One run of a job.
public struct RunEntry: Sendable, Hashable {
    public var id: Int64
    public var job: String
    public var started: Int64
    public var finished: Int64?
    public var outcome: String?
    public var applied: Int
    public var skipped: Int
    public var failed: Int
    public var error: String?
}

/// Something that happened to an order (sent in a file, despatched in a package, refunded...), for
/// `voxbatch order`.
public struct OrderEvent: Sendable, Hashable, Codable {
    public var orderNumber: String
    /// `sent`, `despatched`, `refunded`, `warehouse-state`, `cancellation`...
    public var kind: String
    public var detail: String
    /// The file it came in or went out in.
    public var file: String?
    /// When it was recorded (seconds since 1970).
    public var at: Int64

    public init(orderNumber: String, kind: String, detail: String, file: String? = nil, at: Int64 = 0) {
        self.orderNumber = orderNumber
        self.kind = kind
        self.detail = detail
        self.file = file
        self.at = at
    }
}
