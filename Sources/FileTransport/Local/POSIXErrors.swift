#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TransportError {
    /// Maps the current `errno` to a transport error.
    public static func posix(_ operation: String, target: String, path: String, errno code: Int32 = errno) -> TransportError {
        let reason = String(cString: strerror(code))
        let kind: Code
        switch code {
        case ENOENT, ENOTDIR: kind = .noSuchFile
        case EACCES, EPERM, EROFS: kind = .permissionDenied
        case ENOSPC, EDQUOT, EFBIG: kind = .diskFull
        case EEXIST: kind = .alreadyExists
        case ELOOP: kind = .unsafeName
        default: kind = .localIO
        }
        var hint = ""
        if kind == .diskFull { hint = "; free space on the disk and run again (nothing was lost)" }
        if kind == .unsafeName { hint = " (a symbolic link where a file was expected; links are not followed)" }
        return TransportError(kind, operation: operation, target: target, message: "\(path): \(reason)\(hint)")
    }
}
