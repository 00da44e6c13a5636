import CLibSSH2
import Glibc
import Logging

/// The exchange folder on an SFTP server, over libssh2.
///
/// Connects on first use and reconnects after a broken connection. Transfers use large buffers, which
/// libssh2 turns into many SFTP requests in flight, so throughput follows OpenSSH's `sftp` client.
public final class SFTPTransport: FileTransport {
    /// The connection settings.
    public let settings: SFTPSettings
    private let logger: Logger
    private var connection: SSHConnection?

    public var displayName: String { settings.displayName }

    /// Creates a transport; nothing is connected until the first operation (or ``connect()``).
    public init(settings: SFTPSettings, logger: Logger = Logger(label: "voxbatch.sftp")) {
        self.settings = settings
        self.logger = logger
    }

    deinit { close() }

    /// Connects, verifies the host key and authenticates now, so configuration errors show early.
    ///
    /// - Returns: The server's host key.
    @discardableResult
    public func connect() throws -> HostKey {
        try live().hostKey
    }

    /// Fetches a server's host key without trusting or authenticating, for a person to confirm.
    public static func fetchHostKey(host: String, port: Int, timeout: Double = 15) throws -> HostKey {
        try SSHConnection.fetchHostKey(host: host, port: port, timeout: timeout)
    }

    public func close() {
        connection?.close()
        connection = nil
    }

    private func live() throws -> SSHConnection {
        if let connection { return connection }
        let fresh = try SSHConnection(settings: settings, logger: logger)
        connection = fresh
        return fresh
    }

    private func remote(_ path: String) throws -> String {
        try RemotePath.join(settings.baseDirectory, path, target: displayName)
    }

    /// Runs an SFTP operation; on a failure that breaks the session, drops the connection so the next
    /// call (or the retry) starts afresh.
    private func perform<T>(_ operation: String, _ body: (SSHConnection) throws -> T) throws -> T {
        let connection = try live()
        _ = libssh2_keepalive_send(connection.session, nil)
        do {
            return try body(connection)
        } catch let error as TransportError {
            if SSHConnection.isSessionFatal(error.code) { close() }
            throw error
        }
    }

    /// The error for a failed SFTP call: the SFTP status when the server answered, else the session's.
    private func failure(_ connection: SSHConnection, _ operation: String, path: String) -> TransportError {
        let code = libssh2_session_last_errno(connection.session)
        guard code == -31 /* LIBSSH2_ERROR_SFTP_PROTOCOL */ else {
            return SSHConnection.error(session: connection.session, code: code, operation: operation, target: displayName)
        }
        let status = libssh2_sftp_last_error(connection.sftp)
        let (kind, reason): (TransportError.Code, String) = switch status {
        case 2, 10: (.noSuchFile, "no such file or folder")
        case 3, 12: (.permissionDenied, "permission denied")
        case 11: (.alreadyExists, "already exists")
        case 14, 15: (.diskFull, "the server's disk is full or the quota is exceeded")
        case 6, 7: (.connectionLost, "connection lost")
        case 4: (.protocolError, "the server reported a failure")
        default: (.protocolError, "SFTP status \(status)")
        }
        return TransportError(kind, operation: operation, target: displayName, message: "\(path): \(reason)")
    }

    private func attributes(_ connection: SSHConnection, _ path: String, operation: String) throws
        -> LIBSSH2_SFTP_ATTRIBUTES?
    {
        var attrs = LIBSSH2_SFTP_ATTRIBUTES()
        let rc = libssh2_sftp_stat_ex(connection.sftp, path, UInt32(path.utf8.count), 1 /* LSTAT */, &attrs)
        if rc == 0 { return attrs }
        let error = failure(connection, operation, path: path)
        if error.code == .noSuchFile { return nil }
        throw error
    }

    public func list(_ directory: String, matching pattern: String?) throws -> [RemoteFile] {
        let path = try remote(directory)
        return try perform("list \(directory)") { c in
            guard let handle = libssh2_sftp_open_ex(c.sftp, path, UInt32(path.utf8.count), 0, 0, 1 /* OPENDIR */) else {
                throw failure(c, "list \(directory)", path: path)
            }
            defer { libssh2_sftp_close_handle(handle) }
            var files: [RemoteFile] = []
            var nameBuffer = [CChar](repeating: 0, count: 4096)
            while true {
                var attrs = LIBSSH2_SFTP_ATTRIBUTES()
                let n = libssh2_sftp_readdir_ex(handle, &nameBuffer, nameBuffer.count, nil, 0, &attrs)
                if n == 0 { break }
                if n < 0 { throw failure(c, "list \(directory)", path: path) }
                let name = nameBuffer.withUnsafeBufferPointer { buf in
                    String(decoding: UnsafeRawBufferPointer(start: buf.baseAddress, count: Int(n)), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                try RemotePath.checkName(name, target: displayName)
                if let pattern, !RemotePath.matches(name, glob: pattern) { continue }
                let type = attrs.permissions & 0o170000
                guard type == 0o100000 || type == 0o040000 else { continue }  // regular files and folders only
                let relative = directory.isEmpty || directory == "." ? name : directory + "/" + name
                files.append(RemoteFile(name: name, path: relative, size: Int64(attrs.filesize),
                                        modified: Int64(attrs.mtime), isDirectory: type == 0o040000))
            }
            return files.sorted { $0.name < $1.name }
        }
    }

    public func stat(_ path: String) throws -> RemoteFile? {
        let full = try remote(path)
        return try perform("stat \(path)") { c in
            guard let attrs = try attributes(c, full, operation: "stat \(path)") else { return nil }
            let name = path.split(separator: "/").last.map(String.init) ?? path
            return RemoteFile(name: name, path: path, size: Int64(attrs.filesize), modified: Int64(attrs.mtime),
                              isDirectory: attrs.permissions & 0o170000 == 0o040000)
        }
    }

    @discardableResult
    public func download(_ path: String, progress: TransferProgress?,
                         into consumer: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let full = try remote(path)
        return try perform("download \(path)") { c in
            let total = try attributes(c, full, operation: "download \(path)").map { Int64($0.filesize) }
            guard let handle = libssh2_sftp_open_ex(c.sftp, full, UInt32(full.utf8.count), 1 /* READ */, 0, 0) else {
                throw failure(c, "download \(path)", path: full)
            }
            defer { libssh2_sftp_close_handle(handle) }
            let chunk = settings.transferChunkSize
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: chunk)
            defer { buffer.deallocate() }
            var done: Int64 = 0
            while true {
                let n = libssh2_sftp_read(handle, buffer, chunk)
                if n == 0 { break }
                if n < 0 { throw failure(c, "download \(path)", path: full) }
                try consumer(UnsafeRawBufferPointer(start: buffer, count: n))
                done += Int64(n)
                progress?(done, total)
            }
            if let total, done != total {
                throw TransportError(.incompleteTransfer, operation: "download \(path)", target: displayName,
                                     message: "read \(done) of \(total) bytes")
            }
            return done
        }
    }

    @discardableResult
    public func upload(localPath: String, to remotePath: String, progress: TransferProgress?) throws -> Int64 {
        let full = try remote(remotePath)
        let input = try LocalFileReader(path: localPath, followLinks: true, operation: "upload \(remotePath)",
                                        target: "local")
        return try perform("upload \(remotePath)") { c in
            let flags = UInt(2 | 8 | 0x10)  // WRITE | CREAT | TRUNC
            guard let handle = libssh2_sftp_open_ex(c.sftp, full, UInt32(full.utf8.count), flags, 0o644, 0) else {
                throw failure(c, "upload \(remotePath)", path: full)
            }
            var handleOpen = true
            defer { if handleOpen { libssh2_sftp_close_handle(handle) } }
            let done = try input.forEachChunk(of: settings.transferChunkSize, progress: progress) { chunk in
                var offset = 0
                while offset < chunk.count {
                    let w = libssh2_sftp_write(handle, chunk.baseAddress!.assumingMemoryBound(to: CChar.self) + offset,
                                               chunk.count - offset)
                    if w < 0 { throw failure(c, "upload \(remotePath)", path: full) }
                    offset += w
                }
            }
            handleOpen = false
            if libssh2_sftp_close_handle(handle) != 0 { throw failure(c, "upload \(remotePath)", path: full) }
            return done
        }
    }

    public func rename(_ from: String, to: String, overwrite: Bool) throws {
        let source = try remote(from)
        let destination = try remote(to)
        try perform("rename \(from) to \(to)") { c in
            // SFTP v3 (OpenSSH) refuses to rename onto an existing file, whatever the flags say: with
            // `overwrite`, the old target is removed first.
            if overwrite, try attributes(c, destination, operation: "rename \(from) to \(to)") != nil {
                if libssh2_sftp_unlink_ex(c.sftp, destination, UInt32(destination.utf8.count)) != 0 {
                    throw failure(c, "rename \(from) to \(to)", path: destination)
                }
            }
            let flags: Int = 1 | 2 | 4  // OVERWRITE | ATOMIC | NATIVE (used by servers speaking SFTP v5+)
            let rc = libssh2_sftp_rename_ex(c.sftp, source, UInt32(source.utf8.count), destination,
                                            UInt32(destination.utf8.count), flags)
            guard rc == 0 else {
                var error = failure(c, "rename \(from) to \(to)", path: source)
                if error.code == .protocolError, try attributes(c, destination, operation: "rename") != nil {
                    error = TransportError(.alreadyExists, operation: "rename \(from) to \(to)", target: displayName,
                                           message: "\(destination) already exists")
                }
                throw error
            }
        }
    }

    public func remove(_ path: String) throws {
        let full = try remote(path)
        try perform("remove \(path)") { c in
            if libssh2_sftp_unlink_ex(c.sftp, full, UInt32(full.utf8.count)) != 0 {
                throw failure(c, "remove \(path)", path: full)
            }
        }
    }

    public func makeDirectory(_ path: String) throws {
        let parts = try RemotePath.components(of: path, target: displayName)
        try perform("create folder \(path)") { c in
            var current = settings.baseDirectory
            for part in parts {
                current = current == "/" ? "/" + part : current + "/" + part
                if let existing = try attributes(c, current, operation: "create folder \(path)") {
                    guard existing.permissions & 0o170000 == 0o040000 else {
                        throw TransportError(.alreadyExists, operation: "create folder \(path)", target: displayName,
                                             message: "\(current) exists and is not a folder")
                    }
                    continue
                }
                if libssh2_sftp_mkdir_ex(c.sftp, current, UInt32(current.utf8.count), 0o755) != 0 {
                    throw failure(c, "create folder \(path)", path: current)
                }
            }
        }
    }
}
