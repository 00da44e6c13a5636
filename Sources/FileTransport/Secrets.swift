import Glibc

/// Where a secret (a password, a key passphrase, an API key) comes from.
///
/// Secrets are never written in configuration files: a configuration names an environment variable or
/// a file, and a file must be readable by its owner only (mode 0600 or 0400), as OpenSSH demands of
/// private keys. Secrets are never logged; ``description`` shows only where the secret comes from.
public enum SecretSource: Sendable, Hashable, CustomStringConvertible {
    /// The value of an environment variable.
    case environment(String)
    /// The content of a file (a trailing newline is removed).
    case file(String)

    /// Reads the secret.
    ///
    /// - Throws: ``TransportError/Code/configuration`` when the variable is unset or empty, or the file
    ///   is missing or readable by group or others.
    public func read() throws -> String {
        switch self {
        case .environment(let name):
            guard let value = getenv(name).map({ String(cString: $0) }), !value.isEmpty else {
                throw TransportError(.configuration, operation: "read secret", target: "environment",
                                     message: "environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            try Self.checkPrivate(path, what: "secret file")
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw TransportError(.configuration, operation: "read secret", target: path,
                                     message: "cannot read secret file: \(String(cString: strerror(errno)))")
            }
            defer { Glibc.close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
                if n <= 0 { break }
                bytes += chunk[0..<n]
                if bytes.count > 64 * 1024 { break }
            }
            var text = String(decoding: bytes, as: UTF8.self)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            return text
        }
    }

    public var description: String {
        switch self {
        case .environment(let name): "environment variable \(name)"
        case .file(let path): "file \(path)"
        }
    }

    /// Refuses a file that group or others can read or write, or that does not exist.
    ///
    /// - Throws: ``TransportError/Code/configuration`` naming the file, its mode and the fix.
    public static func checkPrivate(_ path: String, what: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw TransportError(.configuration, operation: "check \(what)", target: path,
                                 message: "\(what) \(path) cannot be read: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw TransportError(.configuration, operation: "check \(what)", target: path,
                                 message: "\(what) \(path) is not a regular file (symbolic links are refused)")
        }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw TransportError(.configuration, operation: "check \(what)", target: path,
                                 message: "\(what) \(path) has mode \(String(mode, radix: 8)) and can be read by "
                                    + "others; run: chmod 600 \(path)")
        }
    }
}
