#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A temporary file that has no name: made in a folder and unlinked at once, so that a killed run leaves nothing
/// behind; its bytes live in the page cache until it is closed. What ``KeyPartitions`` spreads a set of keys over,
/// and what the plain-file storefront keeps its orders in.
///
/// Failures are reported as the system's `errno`, for each user to wrap in its own error (naming its folder).
public enum UnlinkedFile {
    /// A new file's descriptor, open for reading and writing; `errno` when it cannot be made in `directory`.
    public static func create(in directory: String, prefix: String) -> Result<Int32, UnlinkedFileError> {
        var template = Array((directory + "/" + prefix + "-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return .failure(UnlinkedFileError(errno: errno)) }
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        return .success(fd)
    }

    /// Writes all of `bytes` at `offset`; a write that makes no progress is `EIO`.
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(UnlinkedFileError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw UnlinkedFileError(errno: n == 0 ? EIO : errno) }
            done += n
        }
    }

    /// Reads into `bytes` from `offset` until it is full or the file ends; returns how many bytes it read.
    public static func read(_ fd: Int32, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws(UnlinkedFileError)
        -> Int
    {
        guard let base = bytes.baseAddress else { return 0 }
        var done = 0
        while done < bytes.count {
            let n = pread(fd, base + done, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw UnlinkedFileError(errno: errno) }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// Why an ``UnlinkedFile`` could not be made, written or read: the system's `errno`.
public struct UnlinkedFileError: Error, Sendable {
    public let errno: Int32
}
