#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks and joins the paths and names a transport handles.
///
/// Names from a remote listing are untrusted: a server (or whoever can write to it) could list
/// `../../etc/passwd` hoping a client writes there. Nothing with `/`, `..`, control characters or an
/// absolute path is ever used.
public enum RemotePath {
    /// Checks one name from a listing.
    ///
    /// - Throws: ``TransportError/Code/unsafeName`` with the reason.
    public static func checkName(_ name: String, target: String = "") throws {
        if let reason = problem(withName: name) {
            throw TransportError(.unsafeName, operation: "check name", target: target,
                                 message: "refusing remote name \"\(visible(name))\": \(reason)")
        }
    }

    /// Why a name is unsafe, or `nil` if it is fine.
    public static func problem(withName name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name == "." || name == ".." { return "it names a parent or current directory" }
        if name.contains("/") || name.contains("\\") { return "it contains a path separator" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "it contains control characters"
        }
        return nil
    }

    /// Checks a relative path given by configuration or a caller and returns its components.
    ///
    /// - Throws: ``TransportError/Code/unsafeName`` for absolute paths, `..` or control characters.
    public static func components(of path: String, target: String = "") throws -> [String] {
        if path.hasPrefix("/") {
            throw TransportError(.unsafeName, operation: "check path", target: target,
                                 message: "\"\(visible(path))\" is absolute; paths are relative to the exchange folder")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        for part in parts {
            if let reason = problem(withName: part) {
                throw TransportError(.unsafeName, operation: "check path", target: target,
                                     message: "\"\(visible(path))\" is not allowed: \(reason)")
            }
        }
        return parts
    }

    /// Joins a base folder and a checked relative path.
    public static func join(_ base: String, _ relative: String, target: String = "") throws -> String {
        let parts = try components(of: relative, target: target)
        var root = base
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        guard !parts.isEmpty else { return root.isEmpty ? "." : root }
        let tail = parts.joined(separator: "/")
        if root.isEmpty { return tail }
        return root == "/" ? "/" + tail : root + "/" + tail
    }

    /// Whether `name` matches a shell glob (`*`, `?`, `[abc]`).
    public static func matches(_ name: String, glob: String) -> Bool {
        fnmatch(glob, name, 0) == 0
    }

    /// Shows control characters in a name as escapes, for messages.
    public static func visible(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
