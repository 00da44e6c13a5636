/// A file in a listing.
public struct RemoteFile: Sendable, Hashable, Codable {
    /// The file's name (one path component).
    public var name: String
    /// Its path relative to the transport's base folder.
    public var path: String
    /// Its size in bytes.
    public var size: Int64
    /// Its modification time, in seconds since 1970.
    public var modified: Int64
    /// Whether it is a directory.
    public var isDirectory: Bool

    /// Creates a listing entry.
    public init(name: String, path: String, size: Int64, modified: Int64, isDirectory: Bool = false) {
        self.name = name
        self.path = path
        self.size = size
        self.modified = modified
        self.isDirectory = isDirectory
    }
}

/// Called during a transfer with the bytes moved so far and the total, when known.
public typealias TransferProgress = (_ bytes: Int64, _ total: Int64?) -> Void

/// The operations every job needs on the warehouse's exchange folder.
///
/// All paths are relative to the transport's base folder (`in/SO_1.csv`); absolute paths and `..` are
/// refused, and names coming back from a listing are checked before anyone uses them. Calls block the
/// calling thread (libssh2 and the file system are blocking APIs): run jobs on a thread of their own.
/// Errors are ``TransportError``s, classified transient or permanent so callers retry only the former.
public protocol FileTransport: AnyObject {
    /// A description for messages (`sftp://ops@wh.example:22/exchange`), never with secrets.
    var displayName: String { get }

    /// Lists a directory.
    ///
    /// - Parameters:
    ///   - directory: The directory, relative to the base folder.
    ///   - pattern: A shell glob (`SO_*.csv`) the names must match, or `nil` for all.
    /// - Returns: Regular files and directories, sorted by name; hostile names are refused with
    ///   ``TransportError/Code/unsafeName``.
    func list(_ directory: String, matching pattern: String?) throws -> [RemoteFile]

    /// Returns a file's attributes, or `nil` if it does not exist.
    func stat(_ path: String) throws -> RemoteFile?

    /// Streams a remote file to `consumer` in large chunks.
    ///
    /// - Returns: The number of bytes read.
    @discardableResult
    func download(_ path: String, progress: TransferProgress?, into consumer: (UnsafeRawBufferPointer) throws -> Void)
        throws -> Int64

    /// Uploads a local file to `remotePath` (created or truncated). Use ``AtomicDrop`` to drop files
    /// for the warehouse; this writes in place.
    ///
    /// - Returns: The number of bytes written.
    @discardableResult
    func upload(localPath: String, to remotePath: String, progress: TransferProgress?) throws -> Int64

    /// Renames or moves a file. With `overwrite`, an existing target is replaced.
    func rename(_ from: String, to: String, overwrite: Bool) throws

    /// Removes a file.
    func remove(_ path: String) throws

    /// Creates a directory and its missing parents; an existing directory is fine.
    func makeDirectory(_ path: String) throws

    /// Releases the connection. Calling other methods afterwards reconnects where supported.
    func close()
}

extension FileTransport {
    /// Lists all entries of a directory.
    public func list(_ directory: String) throws -> [RemoteFile] { try list(directory, matching: nil) }
}
