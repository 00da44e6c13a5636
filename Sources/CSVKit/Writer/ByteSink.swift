#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a ``CSVWriter`` sends its bytes.
public protocol ByteSink {
    /// Writes all of `bytes`.
    ///
    /// - Throws: ``CSVError`` (`.io`) when the write fails (a full disk, a closed pipe).
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// Writes to a file descriptor; optionally closes it when released.
public final class FileDescriptorSink: ByteSink {
    /// The descriptor written to.
    public let descriptor: Int32
    private let closesOnDeinit: Bool
    private let name: String

    /// Wraps an open, writable descriptor.
    public init(descriptor: Int32, closeOnDeinit: Bool = false, name: String = "stdout") {
        self.descriptor = descriptor
        self.closesOnDeinit = closeOnDeinit
        self.name = name
    }

    /// Creates (or truncates) a file for writing with mode 0644.
    ///
    /// - Throws: ``CSVError`` (`.io`) naming the file and the system's reason.
    public convenience init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CSVError(code: .io, message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.init(descriptor: fd, closeOnDeinit: true, name: path)
    }

    deinit {
        if closesOnDeinit { close(descriptor) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            #else
            let n = Darwin.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw CSVError(code: .io, message: "cannot write \(name): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Flushes the file to stable storage (`fsync`).
    public func sync() throws {
        if fsync(descriptor) != 0 {
            throw CSVError(code: .io, message: "cannot sync \(name): \(String(cString: strerror(errno)))")
        }
    }
}

/// Collects written bytes in memory.
public final class MemorySink: ByteSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty sink.
    public init() {}

    /// The bytes written, as UTF-8 text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }

    /// Forgets what was written, keeping the room it took for what comes next.
    public func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }
}
