import Logging

/// Where the exchange lives, parsed from a URL: `sftp://user@host:2222/exchange` or
/// `file:///srv/exchange`.
public enum TransportLocation: Sendable, Hashable {
    /// An SFTP server.
    case sftp(host: String, port: Int, user: String, path: String)
    /// A local or mounted folder.
    case folder(path: String)

    /// Parses a URL.
    ///
    /// - Throws: ``TransportError/Code/configuration`` explaining the expected form.
    public init(url: String) throws {
        func bad(_ why: String) -> TransportError {
            TransportError(.configuration, operation: "parse URL", target: url,
                           message: "\(why); expected sftp://user@host[:port]/folder or file:///folder")
        }
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            guard path.hasPrefix("/") else { throw bad("a file URL needs an absolute path") }
            self = .folder(path: path)
            return
        }
        guard url.hasPrefix("sftp://") else { throw bad("unknown scheme") }
        let rest = url.dropFirst("sftp://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = String(rest.dropFirst(authority.count))
        guard let at = authority.lastIndex(of: "@") else { throw bad("the user is missing") }
        let user = String(authority[..<at])
        guard !user.isEmpty, !user.contains(":") else {
            throw bad(user.contains(":") ? "passwords do not belong in URLs; use password_env or password_file" : "the user is missing")
        }
        var hostPort = authority[authority.index(after: at)...]
        var port = 22
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw bad("the port is not a number between 1 and 65535")
            }
            port = p
            hostPort = hostPort[..<colon]
        }
        var host = String(hostPort)
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw bad("the host is missing") }
        self = .sftp(host: host, port: port, user: user, path: path.isEmpty ? "." : path)
    }

    /// The URL again, for messages.
    public var description: String {
        switch self {
        case .sftp(let host, let port, let user, let path): "sftp://\(user)@\(host):\(port)\(path.hasPrefix("/") ? "" : "/")\(path)"
        case .folder(let path): "file://\(path)"
        }
    }
}

/// Everything needed to open a transport, as configuration or command-line options give it.
public struct TransportOptions: Sendable, Hashable {
    /// Where the exchange is.
    public var location: TransportLocation
    /// The private key file, for SFTP key authentication.
    public var identityFile: String?
    /// Where the key's passphrase comes from, if it has one.
    public var passphrase: SecretSource?
    /// Where the password comes from, for SFTP password authentication.
    public var password: SecretSource?
    /// The known_hosts file.
    public var knownHostsPath: String
    /// Strict or accept-new.
    public var hostKeyPolicy: SFTPSettings.HostKeyPolicy
    /// Connect timeout, seconds.
    public var connectTimeout: Double
    /// Stall timeout, seconds.
    public var ioTimeout: Double

    /// Creates options.
    public init(location: TransportLocation, identityFile: String? = nil, passphrase: SecretSource? = nil,
                password: SecretSource? = nil, knownHostsPath: String, hostKeyPolicy: SFTPSettings.HostKeyPolicy = .strict,
                connectTimeout: Double = 15, ioTimeout: Double = 60) {
        self.location = location
        self.identityFile = identityFile
        self.passphrase = passphrase
        self.password = password
        self.knownHostsPath = knownHostsPath
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
        self.ioTimeout = ioTimeout
    }

    /// Opens the transport (SFTP connects on first use).
    ///
    /// - Throws: ``TransportError/Code/configuration`` when SFTP has neither a key nor a password.
    public func makeTransport(logger: Logger = Logger(label: "voxbatch.transport")) throws -> any FileTransport {
        switch location {
        case .folder(let path):
            return try LocalFolderTransport(root: path)
        case .sftp(let host, let port, let user, let path):
            let authentication: SFTPSettings.Authentication
            if let identityFile {
                authentication = .privateKey(path: identityFile, passphrase: passphrase)
            } else if let password {
                authentication = .password(password)
            } else {
                throw TransportError(.configuration, operation: "configure", target: location.description,
                                     message: "no credentials: give an identity file (private key) or a password "
                                        + "from an environment variable or a file")
            }
            return SFTPTransport(settings: SFTPSettings(
                host: host, port: port, user: user, baseDirectory: path, authentication: authentication,
                knownHostsPath: knownHostsPath, hostKeyPolicy: hostKeyPolicy, connectTimeout: connectTimeout,
                ioTimeout: ioTimeout), logger: logger)
        }
    }
}
