/// A failed transport operation, with what was being done, where, and whether retrying can help.
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed = "connection-failed"
            case connectionLost = "connection-lost"
            case timeout
            case serverBusy = "server-busy"
            case authenticationFailed = "authentication-failed"
            case hostKeyMismatch = "host-key-mismatch"
            case hostKeyUnknown = "host-key-unknown"
            case certificateRejected = "certificate-rejected"
            case permissionDenied = "permission-denied"
            case noSuchFile = "no-such-file"
            case alreadyExists = "already-exists"
            case unsafeName = "unsafe-name"
            case incompleteTransfer = "incomplete-transfer"
            case localIO = "local-io"
            case diskFull = "disk-full"
            case configuration
            case protocolError = "protocol-error"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server could not be reached (refused, unreachable, DNS).
        public static let connectionFailed = Code(.connectionFailed)
        /// An established connection broke (reset, closed by the server).
        public static let connectionLost = Code(.connectionLost)
        /// The server did not answer in time.
        public static let timeout = Code(.timeout)
        /// The server refused for now (too many sessions, a failure it may recover from).
        public static let serverBusy = Code(.serverBusy)
        /// The user, key or password was refused.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The server's host key differs from the one in known_hosts: possibly an attack.
        public static let hostKeyMismatch = Code(.hostKeyMismatch)
        /// The server is not in known_hosts and the policy is `strict`.
        public static let hostKeyUnknown = Code(.hostKeyUnknown)
        /// The server's TLS certificate could not be verified (untrusted issuer, wrong name, expired), or
        /// the server offered no TLS where it is required: possibly an attack, never retried.
        public static let certificateRejected = Code(.certificateRejected)
        /// The server or file system refused access.
        public static let permissionDenied = Code(.permissionDenied)
        /// The file or folder does not exist.
        public static let noSuchFile = Code(.noSuchFile)
        /// The target already exists.
        public static let alreadyExists = Code(.alreadyExists)
        /// A path or a listed name is absolute, contains `..`, `/` or control characters.
        public static let unsafeName = Code(.unsafeName)
        /// A transfer ended early or the sizes do not match.
        public static let incompleteTransfer = Code(.incompleteTransfer)
        /// A local file could not be read or written.
        public static let localIO = Code(.localIO)
        /// The local disk or the server's disk is full.
        public static let diskFull = Code(.diskFull)
        /// The transport is misconfigured (bad URL, missing key file, unsafe permissions).
        public static let configuration = Code(.configuration)
        /// The server answered something unexpected.
        public static let protocolError = Code(.protocolError)

        /// Whether retrying later can succeed.
        public var isTransient: Bool {
            switch base {
            case .connectionFailed, .connectionLost, .timeout, .serverBusy, .incompleteTransfer: true
            default: false
            }
        }

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What was being done (`upload in/SO_1.csv`).
    public var operation: String
    /// The server or folder (`sftp://ops@wh.example:22`), never with secrets.
    public var target: String
    /// What went wrong and, where possible, what to do.
    public var message: String
    /// How many attempts were made (set by ``Retry``).
    public var attempts: Int
    /// For an HTTP server that stayed busy: the status of its last answer (429, 503...).
    public var httpStatus: Int?

    /// Creates an error.
    public init(_ code: Code, operation: String, target: String, message: String, attempts: Int = 1) {
        self.code = code
        self.operation = operation
        self.target = target
        self.message = message
        self.attempts = attempts
    }

    /// Whether retrying later can succeed.
    public var isTransient: Bool { code.isTransient }

    public var description: String {
        let tries = attempts > 1 ? " (after \(attempts) attempts)" : ""
        return "\(target): \(operation): \(message)\(tries)"
    }
}
