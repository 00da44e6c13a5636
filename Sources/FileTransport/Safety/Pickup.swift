/// Decides which files in a folder are complete and may be taken.
///
/// A warehouse writing a file over SFTP makes it visible before it is complete. By default a file is
/// taken only when its size and modification time are the same in two listings some seconds apart;
/// alternatively only when a done-marker (`NAME.done`, `NAME.ok`) exists. Hidden names and the
/// temporary names of interrupted or ongoing uploads are never taken.
public struct Pickup {
    /// How completeness is judged.
    public enum Readiness: Sendable, Hashable {
        /// Size and modification time unchanged across two listings `interval` seconds apart.
        case stableListing(interval: Double)
        /// A marker file with one of these suffixes exists next to the file.
        case doneMarker(suffixes: [String])
    }

    /// Suffixes of files that are still being written.
    public static let temporarySuffixes = [".part", ".tmp", ".filepart", ".partial", ".crdownload", ".writing"]

    private let transport: any FileTransport
    /// The readiness rule.
    public let readiness: Readiness
    private let sleep: (Double) -> Void

    /// Creates a pickup over `transport`.
    public init(transport: any FileTransport, readiness: Readiness = .stableListing(interval: 5),
                sleep: @escaping (Double) -> Void = { Retry.sleep(seconds: $0) }) {
        self.transport = transport
        self.readiness = readiness
        self.sleep = sleep
    }

    /// The files in `directory` matching `pattern` that are complete, sorted by name.
    public func readyFiles(in directory: String, matching pattern: String) throws -> [RemoteFile] {
        let first = try candidates(in: directory, matching: pattern)
        switch readiness {
        case .doneMarker(let suffixes):
            let names = Set(try transport.list(directory).map(\.name))
            return first.filter { file in suffixes.contains { names.contains(file.name + $0) } }
        case .stableListing(let interval):
            guard !first.isEmpty else { return [] }
            sleep(interval)
            let second = Dictionary(try candidates(in: directory, matching: pattern).map { ($0.name, $0) }) { a, _ in a }
            return first.filter { file in
                guard let again = second[file.name] else { return false }
                return again.size == file.size && again.modified == file.modified
            }
        }
    }

    /// The marker files that belong to `file` and exist, so a job can archive them with it.
    public func markers(for file: RemoteFile, in directory: String) throws -> [String] {
        guard case .doneMarker(let suffixes) = readiness else { return [] }
        let names = Set(try transport.list(directory).map(\.name))
        return suffixes.filter { names.contains(file.name + $0) }.map { file.path + $0 }
    }

    private func candidates(in directory: String, matching pattern: String) throws -> [RemoteFile] {
        let markerSuffixes: [String]
        if case .doneMarker(let suffixes) = readiness { markerSuffixes = suffixes } else { markerSuffixes = [] }
        return try transport.list(directory, matching: pattern).filter { file in
            !file.isDirectory && !file.name.hasPrefix(".")
                && !Pickup.temporarySuffixes.contains { file.name.hasSuffix($0) }
                && !markerSuffixes.contains { file.name.hasSuffix($0) }
        }
    }
}
