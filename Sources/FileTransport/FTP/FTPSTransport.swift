import CCurl
import Glibc
import Logging

/// The exchange folder on an FTP server, over libcurl: FTPS with explicit TLS (`AUTH TLS`), implicit
/// TLS, or — only when a configuration says so — plain FTP.
///
/// With TLS, both channels are protected (`PROT P`; a server that will not is refused) and the server's
/// certificate is verified against the system's trust store or a configured CA file, host name included.
/// Transfers always use passive mode (`EPSV`, then `PASV`). One control connection is kept open between
/// operations. Listings use `MLSD` where the server has it (exact sizes and UTC times) and fall back to a
/// Unix-style `LIST`, whose year-less dates are not guessed: each listed file's time is asked with `MDTM`.
///
/// Every command names its file by its full path from the server's root (`NOCWD`), so a failed or
/// reconnected session never leaves commands running in the wrong folder.
public final class FTPSTransport: FileTransport {
    /// The connection settings.
    public let settings: FTPSettings
    private let logger: Logger
    private var handle: UnsafeMutableRawPointer?
    private var password: String?
    /// The exchange folder as an absolute server path, once the login folder is known.
    private var absoluteBase: String?
    /// Whether the server answers `MLSD`, once known.
    private var hasMLSD: Bool?
    /// Whether listings came by `MLSD` (`nil` before the first listing): for tests and diagnostics.
    public var listsWithMLSD: Bool? { hasMLSD }
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public var displayName: String { settings.displayName }

    /// Creates a transport; nothing is connected until the first operation (or ``connect()``).
    public init(settings: FTPSettings, logger: Logger = Logger(label: "voxbatch.ftps")) {
        _ = Self.globalInit
        self.settings = settings
        self.logger = logger
    }

    deinit {
        close()
        errorBuffer.deallocate()
    }

    public func close() {
        if let handle { curl_easy_cleanup(handle) }
        handle = nil
    }

    /// Connects, negotiates TLS (verifying the certificate) and logs in now, so configuration errors show
    /// early.
    ///
    /// - Returns: The exchange folder as an absolute path on the server.
    @discardableResult
    public func connect() throws -> String {
        let folder = try base()
        guard try isFolder(folder, operation: "connect") else {
            throw TransportError(.noSuchFile, operation: "connect", target: displayName,
                                 message: "the exchange folder \(folder) does not exist on the server")
        }
        return folder
    }

    // MARK: - Paths and URLs

    /// The exchange folder as an absolute server path: a relative one is resolved from the login folder.
    private func base() throws -> String {
        if let absoluteBase { return absoluteBase }
        if settings.baseDirectory.hasPrefix("/") {
            absoluteBase = settings.baseDirectory
        } else {
            try perform("connect", url: url(forServerPath: "/", directory: true)) { curl in
                vb_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
                vb_curl_setopt_long(curl, CURLOPT_FTP_FILEMETHOD, Int(CURLFTPMETHOD_NOCWD.rawValue))
            }
            var entry: UnsafeMutablePointer<CChar>?
            vb_curl_getinfo_string(handle, CURLINFO_FTP_ENTRY_PATH, &entry)
            let login = entry.map { String(cString: $0) } ?? ""
            guard login.hasPrefix("/") else {
                throw TransportError(.protocolError, operation: "connect", target: displayName,
                                     message: "the server did not say which folder the login starts in (PWD); "
                                        + "give the exchange folder as an absolute path")
            }
            absoluteBase = try RemotePath.join(login, settings.baseDirectory, target: displayName)
        }
        return absoluteBase!
    }

    private func full(_ path: String) throws -> String {
        try RemotePath.join(try base(), path, target: displayName)
    }

    /// The URL of an absolute server path: each component percent-encoded, the leading `/` as `%2F` so
    /// libcurl sends it from the server's root.
    private func url(forServerPath path: String, directory: Bool) -> String {
        let scheme = settings.security == .implicitTLS ? "ftps" : "ftp"
        let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { Self.percentEncoded(String($0)) }
        var text = "\(scheme)://\(host):\(settings.port)/%2F" + parts.joined(separator: "/")
        if directory && !parts.isEmpty { text += "/" }
        return text
    }

    static func percentEncoded(_ component: String) -> String {
        var out = ""
        for byte in component.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }

    // MARK: - libcurl

    private func live() throws -> UnsafeMutableRawPointer {
        if let handle { return handle }
        if password == nil { password = try settings.password.read() }
        guard let fresh = curl_easy_init() else {
            throw TransportError(.localIO, operation: "connect", target: displayName, message: "libcurl could not start")
        }
        handle = fresh
        return fresh
    }

    /// Runs one libcurl transfer with the connection's settings and `configure`'s; maps a failure to a
    /// ``TransportError`` (dropping the connection when it is no longer usable).
    private func perform(_ operation: String, url: String, configure: (UnsafeMutableRawPointer) -> Void) throws {
        let curl = try live()
        curl_easy_reset(curl)  // keeps the open control connection and the TLS session for the next transfer
        vb_curl_setopt_string(curl, CURLOPT_URL, url)
        vb_curl_setopt_string(curl, CURLOPT_USERNAME, settings.user)
        vb_curl_setopt_string(curl, CURLOPT_PASSWORD, password ?? "")
        vb_curl_setopt_long(curl, CURLOPT_PROTOCOLS, Int(CURLPROTO_FTP | CURLPROTO_FTPS))
        vb_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        vb_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout * 1000))
        vb_curl_setopt_long(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, max(1, Int(settings.ioTimeout)))
        vb_curl_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        vb_curl_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, max(1, Int(settings.ioTimeout)))
        vb_curl_setopt_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
        vb_curl_setopt_long(curl, CURLOPT_FTP_USE_EPSV, 1)
        vb_curl_setopt_long(curl, CURLOPT_FTP_FILEMETHOD, Int(CURLFTPMETHOD_NOCWD.rawValue))
        if settings.security != .plaintext {
            // Control and data channels both under TLS (PBSZ 0 / PROT P), or the transfer fails.
            vb_curl_setopt_long(curl, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
            vb_curl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, 1)
            vb_curl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, 2)
            if let ca = settings.caFile { vb_curl_setopt_string(curl, CURLOPT_CAINFO, ca) }
            if let certificate = settings.clientCertificate {
                vb_curl_setopt_string(curl, CURLOPT_SSLCERT, certificate)
                if let key = settings.clientKey { vb_curl_setopt_string(curl, CURLOPT_SSLKEY, key) }
            }
        }
        // What libcurl "downloads" for a probe (its Content-Length lines) goes nowhere, not to stdout.
        vb_curl_setopt_write(curl, CURLOPT_WRITEFUNCTION) { _, size, count, _ in size * count }
        errorBuffer[0] = 0
        vb_curl_setopt_pointer(curl, CURLOPT_ERRORBUFFER, errorBuffer)
        configure(curl)
        let code = curl_easy_perform(curl)
        guard code == CURLE_OK else {
            let error = failure(code, curl, operation)
            if error.isTransient || error.code == .certificateRejected || error.code == .authenticationFailed {
                close()
            }
            throw error
        }
    }

    /// The last FTP reply code.
    private func reply(_ curl: UnsafeMutableRawPointer?) -> Int {
        var code = 0
        vb_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    private func failure(_ code: CURLcode, _ curl: UnsafeMutableRawPointer, _ operation: String) -> TransportError {
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let answer = reply(curl)
        func make(_ kind: TransportError.Code, _ message: String) -> TransportError {
            TransportError(kind, operation: operation, target: displayName, message: message)
        }
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT:
            return make(.connectionFailed, detail)
        case CURLE_OPERATION_TIMEDOUT:
            return make(.timeout, "no progress for \(Int(settings.ioTimeout)) s: \(detail)")
        case CURLE_LOGIN_DENIED:
            return make(.authenticationFailed, "the server refused user \(settings.user) (\(answer)): check the "
                        + "password in \(settings.password)")
        case CURLE_USE_SSL_FAILED:
            return make(.certificateRejected, "the server does not offer TLS (AUTH TLS / PROT P), which ftps:// "
                        + "requires; use ftps-implicit:// if it speaks TLS from the start, or ftp:// with "
                        + "allow_plaintext: true only if the warehouse agrees to send files unencrypted")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR:
            return make(.certificateRejected, "the server's TLS certificate was not accepted: \(detail) (trusted: "
                        + (settings.caFile.map { "CA file \($0)" } ?? "the system's trust store") + ")")
        case CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            return make(.configuration, "a certificate file cannot be used: \(detail)")
        case CURLE_REMOTE_FILE_NOT_FOUND:
            return make(.noSuchFile, "no such file")
        case CURLE_REMOTE_DISK_FULL:
            return make(.diskFull, "the server's disk is full (\(answer))")
        case CURLE_REMOTE_ACCESS_DENIED:
            return make(answer == 550 ? .noSuchFile : .permissionDenied, "\(detail) (\(answer))")
        case CURLE_UPLOAD_FAILED, CURLE_QUOTE_ERROR, CURLE_FTP_COULDNT_RETR_FILE:
            switch answer {
            case 452, 552: return make(.diskFull, "the server's disk is full or the quota is exceeded (\(answer))")
            case 421: return make(.serverBusy, "the server is not taking this session now (421)")
            case 425, 426: return make(.connectionLost, "the data connection broke (\(answer))")
            case 550: return make(.noSuchFile, "no such file or folder, or not allowed (550)")
            case 532, 553: return make(.permissionDenied, "permission denied (\(answer))")
            default: return make(.protocolError, "\(detail) (\(answer))")
            }
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_FTP_ACCEPT_FAILED,
             CURLE_FTP_ACCEPT_TIMEOUT, CURLE_FTP_CANT_GET_HOST, CURLE_FTP_WEIRD_PASV_REPLY, CURLE_FTP_WEIRD_227_FORMAT,
             CURLE_WEIRD_SERVER_REPLY, CURLE_SSL_SHUTDOWN_FAILED:
            return make(answer == 421 ? .serverBusy : .connectionLost, detail)
        default:
            return make(.protocolError, "\(detail) (\(answer))")
        }
    }

    /// Sends raw commands (`DELE`, `RNFR`/`RNTO`, `MKD`) on the control connection.
    private func commands(_ operation: String, _ lines: [String]) throws {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }
        try perform(operation, url: url(forServerPath: "/", directory: true)) { curl in
            vb_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
            vb_curl_setopt_slist(curl, CURLOPT_QUOTE, list)
        }
    }

    // MARK: - Listings

    /// Collects a listing's bytes.
    private final class Sink {
        var bytes: [UInt8] = []
    }

    private func listing(_ command: String, directory: String, operation: String) throws -> String {
        let sink = Sink()
        try perform(operation, url: url(forServerPath: directory, directory: true)) { curl in
            // One CWD into the folder, so a missing folder is an error rather than an empty listing.
            vb_curl_setopt_long(curl, CURLOPT_FTP_FILEMETHOD, Int(CURLFTPMETHOD_SINGLECWD.rawValue))
            vb_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, command)
            vb_curl_setopt_write(curl, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
                return size * count
            }
            vb_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
        }
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    /// The entries of an absolute folder: name, whether a folder, size, and time when the listing has it.
    private func entries(_ directory: String, operation: String) throws -> [(name: String, folder: Bool, size: Int64, modified: Int64?)] {
        if hasMLSD != false {
            do {
                let text = try listing("MLSD", directory: directory, operation: operation)
                hasMLSD = true
                return try text.split(whereSeparator: \.isNewline).compactMap { try Self.parseMLSD(String($0)) }
            } catch let error as TransportError where hasMLSD == nil && error.code == .protocolError {
                hasMLSD = false  // 500/502: the server has no MLSD
                logger.debug("server has no MLSD; listing with LIST", metadata: ["server": "\(displayName)"])
            }
        }
        let text = try listing("LIST", directory: directory, operation: operation)
        return try text.split(whereSeparator: \.isNewline).compactMap { line in
            try Self.parseLIST(String(line), target: displayName).map { ($0.name, $0.folder, $0.size, nil) }
        }
    }

    /// One `MLSD` line (RFC 3659 §7): `type=file;size=6;modify=20261204204203; NAME`; `nil` for entries that
    /// are neither files nor folders.
    static func parseMLSD(_ line: String) throws -> (name: String, folder: Bool, size: Int64, modified: Int64?)? {
        guard let space = line.firstIndex(of: " ") else { return nil }
        let name = String(line[line.index(after: space)...])
        var facts: [String: String] = [:]
        for fact in line[..<space].split(separator: ";") {
            guard let eq = fact.firstIndex(of: "=") else { continue }
            facts[fact[..<eq].lowercased()] = String(fact[fact.index(after: eq)...])
        }
        let type = facts["type"]?.lowercased() ?? ""
        guard type == "file" || type == "dir" else { return nil }  // cdir, pdir, links and devices are skipped
        return (name, type == "dir", Int64(facts["size"] ?? "") ?? 0, facts["modify"].flatMap(Self.ftpTime))
    }

    /// One Unix-style `LIST` line: `-rw-r--r--    1 0   0    6 Dec 04 20:42 NAME`; `nil` for `total`
    /// lines, links and devices.
    static func parseLIST(_ line: String, target: String = "") throws -> (name: String, folder: Bool, size: Int64)? {
        if line.hasPrefix("total ") || line.isEmpty { return nil }
        // Eight fields, then the name (which may hold spaces).
        var fields: [Substring] = []
        var index = line.startIndex
        while fields.count < 8 {
            while index < line.endIndex && line[index] == " " { index = line.index(after: index) }
            let start = index
            while index < line.endIndex && line[index] != " " { index = line.index(after: index) }
            guard start < index else { break }
            fields.append(line[start..<index])
        }
        guard fields.count == 8, index < line.endIndex, let kind = fields[0].first,
              let size = Int64(fields[4]) else {
            throw TransportError(.protocolError, operation: "list", target: target,
                                 message: "cannot read the server's listing line \"\(RemotePath.visible(line))\"; "
                                    + "the server should offer MLSD")
        }
        guard kind == "-" || kind == "d" else { return nil }
        return (String(line[line.index(after: index)...]), kind == "d", size)
    }

    /// An FTP time (`YYYYMMDDHHMMSS[.sss]`, UTC) as seconds since 1970.
    static func ftpTime(_ text: String) -> Int64? {
        let digits = Array(text.utf8.prefix(14))
        guard digits.count == 14, digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        func number(_ range: Range<Int>) -> Int32 { digits[range].reduce(0) { $0 * 10 + Int32($1 - 48) } }
        var parts = tm()
        parts.tm_year = number(0..<4) - 1900
        parts.tm_mon = number(4..<6) - 1
        parts.tm_mday = number(6..<8)
        parts.tm_hour = number(8..<10)
        parts.tm_min = number(10..<12)
        parts.tm_sec = number(12..<14)
        return Int64(timegm(&parts))
    }

    public func list(_ directory: String, matching pattern: String?) throws -> [RemoteFile] {
        let path = try full(directory)
        var files: [RemoteFile] = []
        for entry in try entries(path, operation: "list \(directory)") {
            if entry.name == "." || entry.name == ".." { continue }
            try RemotePath.checkName(entry.name, target: displayName)
            if let pattern, !RemotePath.matches(entry.name, glob: pattern) { continue }
            let relative = directory.isEmpty || directory == "." ? entry.name : directory + "/" + entry.name
            var modified = entry.modified
            if modified == nil && !entry.folder {
                modified = try probeFile(path + "/" + entry.name, operation: "list \(directory)")?.modified
            }
            files.append(RemoteFile(name: entry.name, path: relative, size: entry.size, modified: modified ?? 0,
                                    isDirectory: entry.folder))
        }
        return files.sorted { $0.name < $1.name }
    }

    /// `SIZE` and `MDTM` of an absolute path, or `nil` when there is no such file.
    private func probeFile(_ path: String, operation: String) throws -> (size: Int64, modified: Int64)? {
        do {
            try perform(operation, url: url(forServerPath: path, directory: false)) { curl in
                vb_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
                vb_curl_setopt_long(curl, CURLOPT_FILETIME, 1)
            }
        } catch let error as TransportError where error.code == .noSuchFile {
            return nil
        }
        var size: curl_off_t = -1
        var time: curl_off_t = -1
        vb_curl_getinfo_off(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size)
        vb_curl_getinfo_off(handle, CURLINFO_FILETIME_T, &time)
        guard size >= 0 else { return nil }
        return (Int64(size), max(0, Int64(time)))
    }

    /// Whether an absolute path is a folder (one `CWD`).
    private func isFolder(_ path: String, operation: String) throws -> Bool {
        do {
            try perform(operation, url: url(forServerPath: path, directory: true)) { curl in
                vb_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
                vb_curl_setopt_long(curl, CURLOPT_FTP_FILEMETHOD, Int(CURLFTPMETHOD_SINGLECWD.rawValue))
            }
            return true
        } catch let error as TransportError where error.code == .noSuchFile || error.code == .permissionDenied {
            return false
        }
    }

    public func stat(_ path: String) throws -> RemoteFile? {
        let target = try full(path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if let file = try probeFile(target, operation: "stat \(path)") {
            return RemoteFile(name: name, path: path, size: file.size, modified: file.modified)
        }
        guard try isFolder(target, operation: "stat \(path)") else { return nil }
        return RemoteFile(name: name, path: path, size: 0, modified: 0, isDirectory: true)
    }

    // MARK: - Transfers

    /// Hands downloaded bytes to the caller's consumer, keeping its error.
    private final class Download {
        let consumer: (UnsafeRawBufferPointer) throws -> Void
        let progress: TransferProgress?
        var done: Int64 = 0
        var total: Int64?
        var error: Error?
        init(consumer: @escaping (UnsafeRawBufferPointer) throws -> Void, progress: TransferProgress?) {
            self.consumer = consumer
            self.progress = progress
        }
    }

    @discardableResult
    public func download(_ path: String, progress: TransferProgress?,
                         into consumer: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let target = try full(path)
        let operation = "download \(path)"
        let total = try probeFile(target, operation: operation)?.size
        guard let total else {
            throw TransportError(.noSuchFile, operation: operation, target: displayName, message: "\(target): no such file")
        }
        return try withoutActuallyEscaping(consumer) { consumer in
            let state = Download(consumer: consumer, progress: progress)
            state.total = total
            do {
                try perform(operation, url: url(forServerPath: target, directory: false)) { curl in
                    vb_curl_setopt_write(curl, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                        let state = Unmanaged<Download>.fromOpaque(context!).takeUnretainedValue()
                        do {
                            try state.consumer(UnsafeRawBufferPointer(start: data, count: size * count))
                        } catch {
                            state.error = error
                            return 0  // libcurl stops with CURLE_WRITE_ERROR
                        }
                        state.done += Int64(size * count)
                        state.progress?(state.done, state.total)
                        return size * count
                    }
                    vb_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, Unmanaged.passUnretained(state).toOpaque())
                }
            } catch {
                throw state.error ?? error
            }
            if state.done != total {
                throw TransportError(.incompleteTransfer, operation: operation, target: displayName,
                                     message: "read \(state.done) of \(total) bytes")
            }
            return state.done
        }
    }

    /// Feeds a local file to libcurl.
    private final class Upload {
        let input: LocalFileReader
        let progress: TransferProgress?
        var done: Int64 = 0
        var error: Error?
        let operation: String
        let target: String
        init(input: LocalFileReader, progress: TransferProgress?, operation: String, target: String) {
            self.input = input
            self.progress = progress
            self.operation = operation
            self.target = target
        }
    }

    @discardableResult
    public func upload(localPath: String, to remotePath: String, progress: TransferProgress?) throws -> Int64 {
        let target = try full(remotePath)
        let operation = "upload \(remotePath)"
        let input = try LocalFileReader(path: localPath, followLinks: true, operation: operation, target: "local")
        let state = Upload(input: input, progress: progress, operation: operation, target: localPath)
        do {
            try perform(operation, url: url(forServerPath: target, directory: false)) { curl in
                vb_curl_setopt_long(curl, CURLOPT_UPLOAD, 1)
                vb_curl_setopt_off(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(input.size))
                vb_curl_setopt_write(curl, CURLOPT_READFUNCTION) { data, size, count, context in
                    let state = Unmanaged<Upload>.fromOpaque(context!).takeUnretainedValue()
                    while true {
                        let n = read(state.input.descriptor, data, size * count)
                        if n < 0 && errno == EINTR { continue }
                        if n < 0 {
                            state.error = TransportError.posix(state.operation, target: "local", path: state.target)
                            return Int(CURL_READFUNC_ABORT)
                        }
                        state.done += Int64(n)
                        state.progress?(state.done, state.input.size)
                        return n
                    }
                }
                vb_curl_setopt_pointer(curl, CURLOPT_READDATA, Unmanaged.passUnretained(state).toOpaque())
            }
        } catch {
            throw state.error ?? error
        }
        if state.done != input.size {
            throw TransportError(.incompleteTransfer, operation: operation, target: displayName,
                                 message: "sent \(state.done) of \(input.size) bytes")
        }
        return state.done
    }

    // MARK: - Files and folders

    public func rename(_ from: String, to: String, overwrite: Bool) throws {
        let source = try full(from)
        let destination = try full(to)
        let operation = "rename \(from) to \(to)"
        if !overwrite, try probeFile(destination, operation: operation) != nil || isFolder(destination, operation: operation) {
            throw TransportError(.alreadyExists, operation: operation, target: displayName,
                                 message: "\(destination) already exists")
        }
        do {
            try commands(operation, ["RNFR \(source)", "RNTO \(destination)"])
        } catch let error as TransportError where !error.isTransient {
            guard try probeFile(source, operation: operation) != nil else {
                throw TransportError(.noSuchFile, operation: operation, target: displayName, message: "\(source): no such file")
            }
            // Servers that will not rename onto an existing file: remove it first, as asked.
            guard overwrite, try probeFile(destination, operation: operation) != nil else { throw error }
            try commands(operation, ["DELE \(destination)", "RNFR \(source)", "RNTO \(destination)"])
        }
    }

    public func remove(_ path: String) throws {
        let target = try full(path)
        let operation = "remove \(path)"
        do {
            try commands(operation, ["DELE \(target)"])
        } catch let error as TransportError where !error.isTransient {
            guard try probeFile(target, operation: operation) != nil else {
                throw TransportError(.noSuchFile, operation: operation, target: displayName, message: "\(target): no such file")
            }
            throw TransportError(.permissionDenied, operation: operation, target: displayName,
                                 message: "\(target): the server refused to remove it (\(error.message))")
        }
    }

    public func makeDirectory(_ path: String) throws {
        let parts = try RemotePath.components(of: path, target: displayName)
        let operation = "create folder \(path)"
        var current = try base()
        for part in parts {
            current = current == "/" ? "/" + part : current + "/" + part
            if try isFolder(current, operation: operation) { continue }
            if try probeFile(current, operation: operation) != nil {
                throw TransportError(.alreadyExists, operation: operation, target: displayName,
                                     message: "\(current) exists and is not a folder")
            }
            try commands(operation, ["MKD \(current)"])
        }
    }
}
