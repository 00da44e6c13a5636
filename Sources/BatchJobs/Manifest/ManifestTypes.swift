/// What happened to a file.
public enum FileStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case received, processing, applied
    case partiallyApplied = "partially-applied"
    case rejected, superseded, duplicate
    /// Written locally with its records reserved, not yet confirmed on the server.
    case prepared
    case sent
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
