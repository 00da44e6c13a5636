/// Drops files for the warehouse so it never sees half a file.
///
/// The file is uploaded under a temporary name (`NAME.part` by default, or the same name in a temporary
/// folder), its size is checked on the server, and only then is it renamed to its final name. An upload
/// cut short leaves only the temporary file, which ``cleanLeftovers(in:)`` removes on the next run.
public struct AtomicDrop {
    /// Where the temporary file goes.
    public enum Staging: Sendable, Hashable {
        /// Next to the final file, with this suffix (`.part`).
        case suffix(String)
        /// In this folder (relative to the exchange root), under the final name; the warehouse must not
        /// watch it, and it should be on the same file system so the rename is atomic.
        case folder(String)
    }

    private let transport: any FileTransport
    /// How temporary files are named.
    public let staging: Staging

    /// Creates a dropper over `transport`.
    public init(transport: any FileTransport, staging: Staging = .suffix(".part")) {
        self.transport = transport
        self.staging = staging
    }

    /// The temporary path for a final path.
    public func temporaryPath(for finalPath: String) -> String {
        switch staging {
        case .suffix(let suffix):
            return finalPath + suffix
        case .folder(let folder):
            let name = finalPath.split(separator: "/").last.map(String.init) ?? finalPath
            return folder + "/" + name
        }
    }

    /// Uploads `localPath` and publishes it as `remotePath`.
    ///
    /// - Parameters:
    ///   - localPath: The file to send.
    ///   - remotePath: The final path, relative to the exchange root (`in/SO_20261124T0815Z.csv`).
    ///   - overwrite: Whether an existing file of that name may be replaced (off: it is an error).
    ///   - progress: Upload progress.
    /// - Returns: The published file as the server lists it.
    /// - Throws: ``TransportError``; `.incompleteTransfer` when the server's size differs (the temporary
    ///   file is removed), `.alreadyExists` when the name is taken and `overwrite` is off.
    @discardableResult
    public func drop(localPath: String, to remotePath: String, overwrite: Bool = false,
                     progress: TransferProgress? = nil) throws -> RemoteFile {
        let temporary = temporaryPath(for: remotePath)
        let sent = try transport.upload(localPath: localPath, to: temporary, progress: progress)
        guard let staged = try transport.stat(temporary), staged.size == sent else {
            try? transport.remove(temporary)
            throw TransportError(.incompleteTransfer, operation: "drop \(remotePath)", target: transport.displayName,
                                 message: "the server holds a different size than the \(sent) bytes sent; not published")
        }
        do {
            try transport.rename(temporary, to: remotePath, overwrite: overwrite)
        } catch let error as TransportError where error.code == .noSuchFile {
            // A retried rename whose first attempt succeeded but whose answer was lost.
            guard let published = try transport.stat(remotePath), published.size == sent else { throw error }
            return published
        }
        guard let published = try transport.stat(remotePath) else {
            throw TransportError(.incompleteTransfer, operation: "drop \(remotePath)", target: transport.displayName,
                                 message: "the file vanished right after it was published")
        }
        return published
    }

    /// Removes temporary files that interrupted uploads left in `directory` (or in the staging folder).
    ///
    /// - Returns: The paths removed.
    @discardableResult
    public func cleanLeftovers(in directory: String) throws -> [String] {
        let leftovers: [RemoteFile]
        switch staging {
        case .suffix(let suffix):
            leftovers = try transport.list(directory).filter { !$0.isDirectory && $0.name.hasSuffix(suffix) }
        case .folder(let folder):
            guard try transport.stat(folder) != nil else { return [] }
            leftovers = try transport.list(folder).filter { !$0.isDirectory }
        }
        for file in leftovers { try transport.remove(file.path) }
        return leftovers.map(\.path)
    }
}
