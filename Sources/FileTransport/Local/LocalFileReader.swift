import Glibc

/// A local file read in large chunks, shared by the transports' uploads and the local download.
final class LocalFileReader {
    let descriptor: Int32
    /// The file's size when opened.
    let size: Int64
    private let path: String
    private let operation: String
    private let target: String

    /// Opens `path` for reading; with `followLinks` off a symbolic link is refused.
    init(path: String, followLinks: Bool, operation: String, target: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw TransportError.posix(operation, target: target, path: path) }
        var info = stat()
        fstat(fd, &info)
        self.descriptor = fd
        self.size = Int64(info.st_size)
        self.path = path
        self.operation = operation
        self.target = target
    }

    deinit { Glibc.close(descriptor) }

    /// Calls `body` with each chunk of at most `chunkSize` bytes and reports progress.
    ///
    /// - Returns: The number of bytes read.
    func forEachChunk(of chunkSize: Int, progress: TransferProgress?,
                      _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while true {
            let n = read(descriptor, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw TransportError.posix(operation, target: target, path: path)
            }
            if n == 0 { return done }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            done += Int64(n)
            progress?(done, size)
        }
    }
}
