import Logging

/// Where the exchange lives, parsed from a URL: `sftp://user@host:2222/exchange`,
/// `ftps://user@host/exchange` (explicit TLS), `ftps-implicit://user@host:990/exchange`, `ftp://…` (plain,
/// only where allowed) or `file:///srv/exchange`.
public enum TransportLocation: Sendable, Hashable {
    /// An SFTP server.
    case sftp(host: String, port: Int, user: String, path: String)
    /// An FTP server, with TLS or (only when allowed) without.
    case ftp(security: FTPSettings.Security, host: String, port: Int, user: String, path: String)
    /// A local or mounted folder.
    case folder(path: String)

    /// Parses a URL.
    ///
    /// - Throws: ``TransportError/Code/configuration`` explaining the expected form.
    public init(url: String) throws {
        func bad(_ why: String) -> TransportError {
            TransportError(.configuration, operation: "parse URL", target: url,
                           message: "\(why); expected sftp://user@host[:port]/folder, ftps://user@host[:port]/folder "
                            + "(ftps-implicit://, ftp://) or file:///folder")
        }
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            guard path.hasPrefix("/") else { throw bad("a file URL needs an absolute path") }
            self = .folder(path: path)
            return
        }
        let schemes: [(String, FTPSettings.Security?)] = [("sftp://", nil), ("ftps://", .explicitTLS),
                                                          ("ftps-implicit://", .implicitTLS), ("ftp://", .plaintext)]
        guard let (scheme, ftp) = schemes.first(where: { url.lowercased().hasPrefix($0.0) }) else {
            throw bad("unknown scheme")
        }
        let rest = url.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" }
        let path = String(rest.dropFirst(authority.count))
        guard let at = authority.lastIndex(of: "@") else { throw bad("the user is missing") }
        let user = String(authority[..<at])
        guard !user.isEmpty, !user.contains(":") else {
            throw bad(user.contains(":") ? "passwords do not belong in URLs; use password_env or password_file" : "the user is missing")
        }
        var hostPort = authority[authority.index(after: at)...]
        var port = ftp?.defaultPort ?? 22
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
        if let ftp {
            self = .ftp(security: ftp, host: host, port: port, user: user, path: path.isEmpty ? "." : path)
        } else {
            self = .sftp(host: host, port: port, user: user, path: path.isEmpty ? "." : path)
        }
    }

    /// The URL again, for messages.
    public var description: String {
        switch self {
        case .sftp(let host, let port, let user, let path): "sftp://\(user)@\(host):\(port)\(path.hasPrefix("/") ? "" : "/")\(path)"
        case .ftp(let security, let host, let port, let user, let path):
            "\(security.rawValue)://\(user)@\(host):\(port)\(path.hasPrefix("/") ? "" : "/")\(path)"
        case .folder(let path): "file://\(path)"
        }
    }
}

extension TransportOptions {
    /// Why `ftp://` is refused by default.
    public static let plaintextRefusal = "ftp:// sends the password and the files unencrypted; use ftps:// "
        + "(or ftps-implicit://), or set allow_plaintext: true if the warehouse offers nothing else"
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
    /// FTPS: the CA certificates (PEM) the server's certificate must chain to; `nil`: the system's store.
    public var caFile: String?
    /// FTPS: a client certificate and its key (PEM), for servers that ask for one.
    public var clientCertificate: String?
    public var clientKey: String?
    /// `ftp://` is refused unless this is set (`allow_plaintext: true`): nothing on it is encrypted.
    public var allowPlaintext = false

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

    /// Opens the transport (SFTP and FTP connect on first use). Plain FTP logs a warning every time.
    ///
    /// - Throws: ``TransportError/Code/configuration`` when SFTP has neither a key nor a password, FTP has
    ///   no password, or `ftp://` is not explicitly allowed.
    public func makeTransport(logger: Logger = Logger(label: "voxbatch.transport")) throws -> any FileTransport {
        switch location {
        case .folder(let path):
            return try LocalFolderTransport(root: path)
        case .ftp(let security, let host, let port, let user, let path):
            guard let password else {
                throw TransportError(.configuration, operation: "configure", target: location.description,
                                     message: "no password: give password_env or password_file")
            }
            if security == .plaintext {
                guard allowPlaintext else {
                    throw TransportError(.configuration, operation: "configure", target: location.description,
                                         message: Self.plaintextRefusal)
                }
                logger.warning("plain FTP: the password and every file cross the network unencrypted",
                               metadata: ["server": "\(location.description)"])
            }
            return FTPSTransport(settings: FTPSettings(
                host: host, port: port, user: user, baseDirectory: path, password: password, security: security,
                caFile: caFile, clientCertificate: clientCertificate, clientKey: clientKey,
                connectTimeout: connectTimeout, ioTimeout: ioTimeout), logger: logger)
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
