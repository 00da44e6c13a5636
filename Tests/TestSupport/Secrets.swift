import Foundation
import Glibc

/// Writes `value` to `path`, readable only by its owner (as voxbatch requires of secret files).
public func writeSecret(_ value: String, to path: String) throws {
    try value.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o600)
}

/// A fresh temporary folder holding `files` (name, content), each a secret file (mode 600).
public func secretFiles(_ files: [(String, String)], prefix: String = "voxbatch-secrets") throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (name, value) in files { try writeSecret(value, to: folder.appendingPathComponent(name).path) }
    return folder
}
