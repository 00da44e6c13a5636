#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A stream of bytes the CSV reader pulls from in large chunks.
///
/// Implementations fill the given buffer with as many bytes as are available and return how many
/// were written; zero means the end of the stream.
public protocol ByteSource {
    /// Reads up to `buffer.count` bytes into `buffer`.
    ///
    /// - Parameter buffer: Where to write the bytes.
    /// - Returns: The number of bytes written; `0` at the end of the stream.
    /// - Throws: ``CSVError`` with code ``CSVError/Code/io`` when the underlying read fails.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Reads from a POSIX file descriptor; optionally closes it when released.
public final class FileDescriptorSource: ByteSource {
    /// The descriptor being read.
    public let descriptor: Int32
    private let closesOnDeinit: Bool
    /// A name for messages (usually the path).
    public let name: String

    /// Wraps an open descriptor.
    ///
    /// - Parameters:
    ///   - descriptor: An open, readable descriptor.
    ///   - closeOnDeinit: Whether this source owns the descriptor.
    ///   - name: A name for error messages.
    public init(descriptor: Int32, closeOnDeinit: Bool = false, name: String = "stdin") {
        self.descriptor = descriptor
        self.closesOnDeinit = closeOnDeinit
        self.name = name
    }

    /// Opens a file for reading.
    ///
    /// - Parameter path: The file's path.
    /// - Throws: ``CSVError`` (`.io`) naming the file and the system's reason.
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CSVError(code: .io, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw CSVError(code: .io, message: "cannot read \(path): it is a directory")
        }
        self.init(descriptor: fd, closeOnDeinit: true, name: path)
    }

    deinit {
        if closesOnDeinit { close(descriptor) }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            #if canImport(Glibc)
            let n = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            #else
            let n = Darwin.read(descriptor, buffer.baseAddress, buffer.count)
            #endif
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw CSVError(code: .io, message: "cannot read \(name): \(String(cString: strerror(errno)))")
        }
    }
}

/// Serves bytes held in memory; handy for tests and small inputs.
public struct MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    private let chunkLimit: Int

    /// Creates a source over `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: The content.
    ///   - chunkLimit: The most bytes returned per read, to exercise chunk boundaries.
    public init(_ bytes: [UInt8], chunkLimit: Int = .max) {
        self.bytes = bytes
        self.chunkLimit = max(1, chunkLimit)
    }

    /// Creates a source over the UTF-8 bytes of `text`.
    public init(_ text: String, chunkLimit: Int = .max) {
        self.init(Array(text.utf8), chunkLimit: chunkLimit)
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset, chunkLimit)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// Replays some already-read bytes before continuing with another source.
struct PrefixedSource: ByteSource {
    var prefix: [UInt8]
    var prefixOffset = 0
    var rest: any ByteSource

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if prefixOffset < prefix.count {
            let n = min(buffer.count, prefix.count - prefixOffset)
            prefix.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + prefixOffset, byteCount: n)
            }
            prefixOffset += n
            return n
        }
        return try rest.read(into: buffer)
    }
}
