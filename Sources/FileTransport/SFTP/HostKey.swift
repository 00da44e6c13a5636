import CLibSSH2
import Glibc

/// A server's host key as presented during the handshake.
public struct HostKey: Sendable, Hashable {
    /// The OpenSSH name of the key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    public var typeName: String
    /// The raw key blob.
    public var blob: [UInt8]
    /// The SHA-256 fingerprint as OpenSSH prints it (`SHA256:...`).
    public var fingerprint: String

    /// The known_hosts line that trusts this key for `host:port`.
    public func knownHostsLine(host: String, port: Int) -> String {
        "\(KnownHosts.entryName(host: host, port: port)) \(typeName) \(Base64.encode(blob))"
    }

    // libssh2's host key types and the matching known_hosts key bits.
    static func typeName(_ type: Int32) -> String {
        switch type {
        case 1: "ssh-rsa"
        case 2: "ssh-dss"
        case 3: "ecdsa-sha2-nistp256"
        case 4: "ecdsa-sha2-nistp384"
        case 5: "ecdsa-sha2-nistp521"
        case 6: "ssh-ed25519"
        default: "unknown"
        }
    }

    static func knownHostKeyBits(_ type: Int32) -> Int32 {
        switch type {
        case 1: 2 << 18
        case 2: 3 << 18
        case 3: 4 << 18
        case 4: 5 << 18
        case 5: 6 << 18
        case 6: 7 << 18
        default: 0
        }
    }
}

/// Checks and records host keys in an OpenSSH known_hosts file (plain and hashed entries,
/// `[host]:port` form, ed25519/ecdsa/rsa), through libssh2's known-hosts API.
enum KnownHosts {
    enum Verdict {
        case match
        case mismatch
        case notFound
    }

    static func entryName(host: String, port: Int) -> String {
        port == 22 ? host : "[\(host)]:\(port)"
    }

    /// Compares `key` with the entries for `host:port`.
    static func check(session: OpaquePointer, path: String, host: String, port: Int, keyType: Int32,
                      key: UnsafePointer<CChar>, keyLength: Int, target: String) throws -> Verdict {
        guard let hosts = libssh2_knownhost_init(session) else {
            throw TransportError(.protocolError, operation: "check host key", target: target,
                                 message: "cannot initialise known-hosts checking")
        }
        defer { libssh2_knownhost_free(hosts) }
        if access(path, F_OK) == 0 {
            let read = libssh2_knownhost_readfile(hosts, path, 1 /* LIBSSH2_KNOWNHOST_FILE_OPENSSH */)
            if read < 0 {
                throw TransportError(.configuration, operation: "read known_hosts", target: target,
                                     message: "cannot read known_hosts file \(path) (error \(read))")
            }
        }
        let typeMask: Int32 = 1 /* TYPE_PLAIN */ | (1 << 16) /* KEYENC_RAW */ | HostKey.knownHostKeyBits(keyType)
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        let result = libssh2_knownhost_checkp(hosts, host, Int32(port), key, keyLength, typeMask, &entry)
        switch result {
        case 0: return .match  // LIBSSH2_KNOWNHOST_CHECK_MATCH
        case 1: return .mismatch  // LIBSSH2_KNOWNHOST_CHECK_MISMATCH
        case 2: return .notFound  // LIBSSH2_KNOWNHOST_CHECK_NOTFOUND
        default:
            throw TransportError(.protocolError, operation: "check host key", target: target,
                                 message: "known-hosts check failed")
        }
    }

    /// The host key algorithms that have an entry for `host:port`, so the handshake can prefer them
    /// (as OpenSSH does) and a server with several keys presents the one that is known.
    static func knownAlgorithms(session: OpaquePointer, path: String, host: String, port: Int) -> [String] {
        guard access(path, F_OK) == 0, let hosts = libssh2_knownhost_init(session) else { return [] }
        defer { libssh2_knownhost_free(hosts) }
        guard libssh2_knownhost_readfile(hosts, path, 1) >= 0 else { return [] }
        var algorithms: [String] = []
        let probe: [CChar] = [0x78]
        for type in [Int32(6), 3, 4, 5, 1] {
            let mask: Int32 = 1 | (1 << 16) | HostKey.knownHostKeyBits(type)
            var entry: UnsafeMutablePointer<libssh2_knownhost>?
            // A dummy key never matches: "mismatch" means an entry of this type exists.
            let result = probe.withUnsafeBufferPointer {
                libssh2_knownhost_checkp(hosts, host, Int32(port), $0.baseAddress, 1, mask, &entry)
            }
            guard result == 1 else { continue }
            switch type {
            case 1: algorithms += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
            default: algorithms.append(HostKey.typeName(type))
            }
        }
        return algorithms
    }

    /// Appends a line for a newly accepted key, creating the file (mode 0600) if needed.
    static func append(_ line: String, to path: String, target: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw TransportError(.configuration, operation: "record host key", target: target,
                                 message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(fd) }
        var size = stat()
        fstat(fd, &size)
        var text = line + "\n"
        if size.st_size > 0 {
            // Make sure the new entry starts on its own line.
            var last: UInt8 = 0
            pread(fd, &last, 1, size.st_size - 1)
            if last != 0x0A { text = "\n" + text }
        }
        let written = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        guard written == text.utf8.count else {
            throw TransportError(.configuration, operation: "record host key", target: target,
                                 message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Standard base64, for known_hosts lines and fingerprints.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8], padding: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)],
                    alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
            if rest == 2 { out.append(alphabet[Int(n >> 6 & 63)]) }
            if padding { out += Array(repeating: UInt8(ascii: "="), count: 3 - rest) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
