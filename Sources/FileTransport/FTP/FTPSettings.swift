/// How to reach and trust an FTP server.
public struct FTPSettings: Sendable, Hashable {
    /// How the connection is protected.
    public enum Security: String, Sendable, Hashable {
        /// `ftps://`: a plain connection upgraded with `AUTH TLS` (RFC 4217), port 21 by default.
        case explicitTLS = "ftps"
        /// `ftps-implicit://`: TLS from the first byte, port 990 by default.
        case implicitTLS = "ftps-implicit"
        /// `ftp://`: nothing is encrypted, not even the password. Only with `allow_plaintext: true`.
        case plaintext = "ftp"

        /// The port used when the URL names none.
        public var defaultPort: Int { self == .implicitTLS ? 990 : 21 }
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The user to log in as.
    public var user: String
    /// The exchange folder on the server, as the server names it (`/exchange`; with a chrooted user `/` is
    /// the user's root; `.` is the login folder).
    public var baseDirectory: String
    /// Where the password comes from.
    public var password: SecretSource
    /// How the connection is protected.
    public var security: Security
    /// A PEM file of the certificate authorities the server's certificate must chain to; `nil`: the
    /// system's trust store.
    public var caFile: String?
    /// A client certificate (PEM) for servers that ask for one, and its private key (mode 600).
    public var clientCertificate: String?
    public var clientKey: String?
    /// How long to wait for the TCP connection and the server's greeting, in seconds.
    public var connectTimeout: Double
    /// How long a transfer or an answer may stall before the connection is given up, in seconds.
    public var ioTimeout: Double

    /// Creates settings.
    public init(host: String, port: Int? = nil, user: String, baseDirectory: String = ".", password: SecretSource,
                security: Security = .explicitTLS, caFile: String? = nil, clientCertificate: String? = nil,
                clientKey: String? = nil, connectTimeout: Double = 15, ioTimeout: Double = 60) {
        self.host = host
        self.port = port ?? security.defaultPort
        self.user = user
        self.baseDirectory = baseDirectory
        self.password = password
        self.security = security
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.connectTimeout = connectTimeout
        self.ioTimeout = ioTimeout
    }

    /// `ftps://user@host:port/base`, for messages (never with the password).
    public var displayName: String {
        "\(security.rawValue)://\(user)@\(host):\(port)\(baseDirectory.hasPrefix("/") ? "" : "/")\(baseDirectory)"
    }
}
