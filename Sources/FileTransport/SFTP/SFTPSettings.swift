/// How to reach and trust an SFTP server.
public struct SFTPSettings: Sendable, Hashable {
    /// What to do with a server whose host key is not in known_hosts.
    public enum HostKeyPolicy: String, Sendable, Hashable, CaseIterable {
        /// Refuse unknown and changed keys (the default): a person adds the key after checking its
        /// fingerprint (`voxbatch transport known-host`).
        case strict
        /// Record an unknown key in known_hosts and go on; still refuse a changed key.
        case acceptNew = "accept-new"
    }

    /// How the user proves who they are.
    public enum Authentication: Sendable, Hashable {
        /// A private key file (OpenSSH or PEM format), with an optional passphrase.
        case privateKey(path: String, passphrase: SecretSource?)
        /// A password.
        case password(SecretSource)
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The user to log in as.
    public var user: String
    /// The exchange folder on the server that all paths are relative to.
    public var baseDirectory: String
    /// How to authenticate.
    public var authentication: Authentication
    /// The OpenSSH known_hosts file to check the server's key against.
    public var knownHostsPath: String
    /// Strict (default) or accept-new.
    public var hostKeyPolicy: HostKeyPolicy
    /// How long to wait for the TCP connection, in seconds.
    public var connectTimeout: Double
    /// How long any one read or write may stall before the connection is given up, in seconds.
    public var ioTimeout: Double
    /// How often to send a keepalive on an idle connection, in seconds (0 to disable).
    public var keepaliveInterval: Int
    /// The size of each SFTP read and write; libssh2 pipelines requests up to this size.
    public var transferChunkSize: Int

    /// Creates settings.
    public init(host: String, port: Int = 22, user: String, baseDirectory: String = ".",
                authentication: Authentication, knownHostsPath: String, hostKeyPolicy: HostKeyPolicy = .strict,
                connectTimeout: Double = 15, ioTimeout: Double = 60, keepaliveInterval: Int = 30,
                transferChunkSize: Int = 16 << 20) {
        self.host = host
        self.port = port
        self.user = user
        self.baseDirectory = baseDirectory
        self.authentication = authentication
        self.knownHostsPath = knownHostsPath
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
        self.ioTimeout = ioTimeout
        self.keepaliveInterval = keepaliveInterval
        self.transferChunkSize = transferChunkSize
    }

    /// `sftp://user@host:port/base`, for messages.
    public var displayName: String { "sftp://\(user)@\(host):\(port)\(baseDirectory.hasPrefix("/") ? "" : "/")\(baseDirectory)" }
}
