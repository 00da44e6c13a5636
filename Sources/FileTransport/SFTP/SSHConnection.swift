import CLibSSH2
import Glibc
import Logging

/// libssh2 is initialised once per process.
private let libssh2Ready: Bool = libssh2_init(0) == 0

/// One authenticated SSH session with its SFTP channel.
///
/// The order is the security contract: TCP connect → handshake → host key verified against
/// known_hosts → only then authentication. A changed or (under `strict`) unknown key ends the
/// connection before any credential is sent.
final class SSHConnection {
    let session: OpaquePointer
    let sftp: OpaquePointer
    let socket: Int32
    let hostKey: HostKey
    private let settings: SFTPSettings

    init(settings: SFTPSettings, logger: Logger) throws {
        self.settings = settings
        let target = settings.displayName
        guard libssh2Ready else {
            throw TransportError(.configuration, operation: "connect", target: target, message: "libssh2 failed to initialise")
        }
        let fd = try TCPConnection.open(host: settings.host, port: settings.port,
                                        timeoutMilliseconds: Int32(settings.connectTimeout * 1000), target: target)
        guard let session = libssh2_session_init_ex(nil, nil, nil, nil) else {
            Glibc.close(fd)
            throw TransportError(.protocolError, operation: "connect", target: target, message: "cannot create an SSH session")
        }
        var ready = false
        defer {
            if !ready {
                libssh2_session_free(session)
                Glibc.close(fd)
            }
        }
        libssh2_session_set_blocking(session, 1)
        libssh2_session_set_timeout(session, Int(settings.ioTimeout * 1000))
        let preferred = KnownHosts.knownAlgorithms(session: session, path: settings.knownHostsPath,
                                                   host: settings.host, port: settings.port)
        if !preferred.isEmpty {
            let all = preferred + ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                                   "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"].filter { !preferred.contains($0) }
            _ = libssh2_session_method_pref(session, 1 /* LIBSSH2_METHOD_HOSTKEY */, all.joined(separator: ","))
        }
        let handshake = libssh2_session_handshake(session, libssh2_socket_t(fd))
        if handshake != 0 {
            throw SSHConnection.error(session: session, code: handshake, operation: "SSH handshake", target: target)
        }

        // Host key: verified before any authentication.
        var keyLength = 0
        var keyType: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &keyLength, &keyType) else {
            throw TransportError(.protocolError, operation: "check host key", target: target,
                                 message: "the server presented no host key")
        }
        let blob = key.withMemoryRebound(to: UInt8.self, capacity: keyLength) { Array(UnsafeBufferPointer(start: $0, count: keyLength)) }
        var fingerprint = "unavailable"
        if let hash = libssh2_hostkey_hash(session, 3 /* LIBSSH2_HOSTKEY_HASH_SHA256 */) {
            let digest = hash.withMemoryRebound(to: UInt8.self, capacity: 32) { Array(UnsafeBufferPointer(start: $0, count: 32)) }
            fingerprint = "SHA256:" + Base64.encode(digest, padding: false)
        }
        let presented = HostKey(typeName: HostKey.typeName(keyType), blob: blob, fingerprint: fingerprint)
        let verdict = try KnownHosts.check(session: session, path: settings.knownHostsPath, host: settings.host,
                                           port: settings.port, keyType: keyType, key: key, keyLength: keyLength,
                                           target: target)
        let entry = KnownHosts.entryName(host: settings.host, port: settings.port)
        switch verdict {
        case .match:
            logger.debug("host key verified", metadata: ["host": "\(entry)", "fingerprint": "\(fingerprint)"])
        case .mismatch:
            throw TransportError(.hostKeyMismatch, operation: "check host key", target: target,
                                 message: "the server's \(presented.typeName) host key (\(fingerprint)) does not match "
                                    + "\(settings.knownHostsPath): someone may be intercepting the connection. If the "
                                    + "warehouse changed its key on purpose, confirm the new fingerprint with them, then "
                                    + "run: ssh-keygen -R '\(entry)' -f \(settings.knownHostsPath)")
        case .notFound:
            switch settings.hostKeyPolicy {
            case .strict:
                throw TransportError(.hostKeyUnknown, operation: "check host key", target: target,
                                     message: "\(entry) is not in \(settings.knownHostsPath) (its \(presented.typeName) "
                                        + "key is \(fingerprint)); check the fingerprint with the warehouse, then add it "
                                        + "with: voxbatch transport known-host \(settings.host):\(settings.port) >> "
                                        + "\(settings.knownHostsPath)")
            case .acceptNew:
                try KnownHosts.append(presented.knownHostsLine(host: settings.host, port: settings.port),
                                      to: settings.knownHostsPath, target: target)
                logger.notice("recorded new host key", metadata: ["host": "\(entry)", "fingerprint": "\(fingerprint)",
                                                                  "file": "\(settings.knownHostsPath)"])
            }
        }

        try SSHConnection.authenticate(session: session, settings: settings, target: target)

        guard let sftp = libssh2_sftp_init(session) else {
            throw SSHConnection.error(session: session, code: libssh2_session_last_errno(session),
                                      operation: "start SFTP", target: target)
        }
        if settings.keepaliveInterval > 0 {
            libssh2_keepalive_config(session, 1, UInt32(settings.keepaliveInterval))
        }
        self.session = session
        self.sftp = sftp
        self.socket = fd
        self.hostKey = presented
        ready = true
        logger.info("connected", metadata: ["server": "\(target)", "fingerprint": "\(fingerprint)"])
    }

    /// Connects only as far as the host key, for a person to confirm a fingerprint.
    static func fetchHostKey(host: String, port: Int, timeout: Double) throws -> HostKey {
        let target = "ssh://\(host):\(port)"
        guard libssh2Ready else {
            throw TransportError(.configuration, operation: "connect", target: target, message: "libssh2 failed to initialise")
        }
        let fd = try TCPConnection.open(host: host, port: port, timeoutMilliseconds: Int32(timeout * 1000), target: target)
        defer { Glibc.close(fd) }
        guard let session = libssh2_session_init_ex(nil, nil, nil, nil) else {
            throw TransportError(.protocolError, operation: "connect", target: target, message: "cannot create an SSH session")
        }
        defer { libssh2_session_free(session) }
        libssh2_session_set_blocking(session, 1)
        libssh2_session_set_timeout(session, Int(timeout * 1000))
        let rc = libssh2_session_handshake(session, libssh2_socket_t(fd))
        if rc != 0 { throw error(session: session, code: rc, operation: "SSH handshake", target: target) }
        var length = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &length, &type),
              let hash = libssh2_hostkey_hash(session, 3) else {
            throw TransportError(.protocolError, operation: "read host key", target: target, message: "no host key")
        }
        let blob = key.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        let digest = hash.withMemoryRebound(to: UInt8.self, capacity: 32) { Array(UnsafeBufferPointer(start: $0, count: 32)) }
        _ = libssh2_session_disconnect_ex(session, 11, "done", "")
        return HostKey(typeName: HostKey.typeName(type), blob: blob,
                       fingerprint: "SHA256:" + Base64.encode(digest, padding: false))
    }

    private static func authenticate(session: OpaquePointer, settings: SFTPSettings, target: String) throws {
        let user = settings.user
        let rc: Int32
        switch settings.authentication {
        case .privateKey(let path, let passphraseSource):
            try SecretSource.checkPrivate(path, what: "private key")
            let passphrase = try passphraseSource?.read()
            rc = libssh2_userauth_publickey_fromfile_ex(session, user, UInt32(user.utf8.count), nil, path, passphrase)
            if rc == -16 /* LIBSSH2_ERROR_FILE */ {
                throw TransportError(.configuration, operation: "authenticate", target: target,
                                     message: "cannot use private key \(path): wrong passphrase or unsupported key format")
            }
        case .password(let source):
            let password = try source.read()
            rc = libssh2_userauth_password_ex(session, user, UInt32(user.utf8.count), password,
                                              UInt32(password.utf8.count), nil)
        }
        guard rc == 0 else {
            if rc == -18 || rc == -19 || rc == -36 || rc == -15 {
                throw TransportError(.authenticationFailed, operation: "authenticate", target: target,
                                     message: "the server refused user \(user) with the configured "
                                        + (settings.authentication.isKey ? "key" : "password"))
            }
            throw error(session: session, code: rc, operation: "authenticate", target: target)
        }
    }

    /// Maps a libssh2 error to a transport error, with libssh2's own message.
    static func error(session: OpaquePointer, code: Int32, operation: String, target: String) -> TransportError {
        var messagePointer: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        libssh2_session_last_error(session, &messagePointer, &length, 0)
        let detail = messagePointer.map { String(cString: $0) } ?? "error \(code)"
        let kind: TransportError.Code
        switch code {
        case -9, -30: kind = .timeout  // TIMEOUT, SOCKET_TIMEOUT
        case -7, -43, -13, -26, -1, -2: kind = .connectionLost  // SEND, RECV, DISCONNECT, CHANNEL_CLOSED, NONE, BANNER
        case -5, -8: kind = .connectionLost  // KEX failure, key exchange broken by a dropped connection
        case -18, -19: kind = .authenticationFailed
        default: kind = .protocolError
        }
        return TransportError(kind, operation: operation, target: target, message: detail)
    }

    /// Whether the socket is still usable after an error of this code.
    static func isSessionFatal(_ code: TransportError.Code) -> Bool {
        code == .connectionLost || code == .timeout || code == .protocolError
    }

    func close() {
        libssh2_sftp_shutdown(sftp)
        _ = libssh2_session_disconnect_ex(session, 11 /* BY_APPLICATION */, "voxbatch done", "")
        libssh2_session_free(session)
        Glibc.close(socket)
    }
}

extension SFTPSettings.Authentication {
    var isKey: Bool {
        if case .privateKey = self { return true }
        return false
    }
}
