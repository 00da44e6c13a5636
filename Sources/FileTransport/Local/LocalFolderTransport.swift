#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The exchange on a local or mounted folder, with the same semantics as SFTP.
///
/// Used for the embedded default, for mounted shares, and for tests of jobs that do not need SSH.
/// Symbolic links are never followed: a link where a file is expected is refused.
public final class LocalFolderTransport: FileTransport {
    /// The folder all paths are relative to.
    public let root: String
    private let chunkSize = 1 << 20

    public var displayName: String { "file://\(root)" }

    /// Creates a transport rooted at `root`, which must exist.
    ///
    /// - Throws: ``TransportError/Code/noSuchFile`` when the folder does not exist.
    public init(root: String) throws {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
        var info = Glibc.stat()
        guard statFollowingLinks(trimmed, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw TransportError(.noSuchFile, operation: "open exchange folder", target: "file://\(trimmed)",
                                 message: "\(trimmed) is not an existing folder")
        }
    }

    private func full(_ path: String) throws -> String {
        try RemotePath.join(root, path, target: displayName)
    }

    public func list(_ directory: String, matching pattern: String?) throws -> [RemoteFile] {
        let dirPath = try full(directory)
        guard let dir = opendir(dirPath) else {
            throw TransportError.posix("list \(directory)", target: displayName, path: dirPath)
        }
        defer { closedir(dir) }
        var files: [RemoteFile] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            try RemotePath.checkName(name, target: displayName)
            if let pattern, !RemotePath.matches(name, glob: pattern) { continue }
            var info = Glibc.stat()
            guard lstat(dirPath + "/" + name, &info) == 0 else { continue }  // vanished since readdir
            let type = info.st_mode & S_IFMT
            guard type == S_IFREG || type == S_IFDIR else { continue }  // links, sockets, devices
            let relative = directory.isEmpty || directory == "." ? name : directory + "/" + name
            files.append(RemoteFile(name: name, path: relative, size: Int64(info.st_size),
                                    modified: Int64(info.st_mtim.tv_sec), isDirectory: type == S_IFDIR))
        }
        return files.sorted { $0.name < $1.name }
    }

    public func stat(_ path: String) throws -> RemoteFile? {
        let p = try full(path)
        var info = Glibc.stat()
        guard lstat(p, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw TransportError.posix("stat \(path)", target: displayName, path: p)
        }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            throw TransportError.posix("stat \(path)", target: displayName, path: p, errno: ELOOP)
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return RemoteFile(name: name, path: path, size: Int64(info.st_size), modified: Int64(info.st_mtim.tv_sec),
                          isDirectory: (info.st_mode & S_IFMT) == S_IFDIR)
    }

    @discardableResult
    public func download(_ path: String, progress: TransferProgress?,
                         into consumer: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let p = try full(path)
        let file = try LocalFileReader(path: p, followLinks: false, operation: "download \(path)", target: displayName)
        return try file.forEachChunk(of: chunkSize, progress: progress, consumer)
    }

    @discardableResult
    public func upload(localPath: String, to remotePath: String, progress: TransferProgress?) throws -> Int64 {
        let target = try full(remotePath)
        let input = try LocalFileReader(path: localPath, followLinks: true, operation: "upload \(remotePath)",
                                        target: "local")
        let output = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw TransportError.posix("upload \(remotePath)", target: displayName, path: target)
        }
        var closed = false
        defer { if !closed { Glibc.close(output) } }
        let done = try input.forEachChunk(of: chunkSize, progress: progress) { chunk in
            var offset = 0
            while offset < chunk.count {
                let w = write(output, chunk.baseAddress! + offset, chunk.count - offset)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw TransportError.posix("upload \(remotePath)", target: displayName, path: target)
                }
                offset += w
            }
        }
        if fsync(output) != 0 || Glibc.close(output) != 0 {
            closed = true
            throw TransportError.posix("upload \(remotePath)", target: displayName, path: target)
        }
        closed = true
        return done
    }

    public func rename(_ from: String, to: String, overwrite: Bool) throws {
        let source = try full(from)
        let destination = try full(to)
        if overwrite {
            guard Glibc.rename(source, destination) == 0 else {
                throw TransportError.posix("rename \(from) to \(to)", target: displayName, path: source)
            }
            return
        }
        // link() fails if the target exists, so no file is ever replaced by accident.
        guard link(source, destination) == 0 else {
            throw TransportError.posix("rename \(from) to \(to)", target: displayName, path: destination)
        }
        unlink(source)
    }

    public func remove(_ path: String) throws {
        let p = try full(path)
        guard unlink(p) == 0 else { throw TransportError.posix("remove \(path)", target: displayName, path: p) }
    }

    public func makeDirectory(_ path: String) throws {
        var current = root
        for part in try RemotePath.components(of: path, target: displayName) {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw TransportError.posix("create folder \(path)", target: displayName, path: current)
            }
        }
    }

    public func close() {}
}

/// `stat(2)`, which the transport's own `stat` method hides inside the class.
private func statFollowingLinks(_ path: String, _ info: inout stat) -> Int32 {
    stat(path, &info)
}
