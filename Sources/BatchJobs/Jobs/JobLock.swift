import Glibc

/// A per-job lock, so cron cannot start a second copy of a running job.
///
/// With the embedded manifest it is an advisory `flock` on `locks/JOB.lock` in the state folder; with the
/// manifest in PostgreSQL it is a session advisory lock on the server, so a job is held once across every
/// node of a fleet. Either way the lock dies with its holder (the operating system closes the file, the
/// server ends the session of a killed process), so a crash never leaves a stale lock.
public final class JobLock {
    private let descriptor: Int32
    private let session: PostgresConnection?
    /// The lock file, or where the advisory lock is held.
    public let path: String

    /// Takes the lock for `job` where the manifest is: the state folder for SQLite, the server for
    /// PostgreSQL.
    public convenience init(job: String, location: StateLocation, stateDirectory: String) throws {
        switch location {
        case .sqlite: try self.init(job: job, stateDirectory: stateDirectory)
        case .postgres(let settings): try self.init(job: job, postgres: settings)
        }
    }

    /// Takes a session advisory lock for `job` of the client whose schema `settings` names, on its own
    /// connection (held as long as this object lives).
    ///
    /// - Throws: ``JobLockError/heldElsewhere(job:holder:)`` naming the holder's host and process.
    public init(job: String, postgres settings: PostgresSettings) throws {
        let connection = try PostgresConnection(settings: settings)
        let key = PostgresState.lockKey("job", settings.schema + "/" + job)
        path = "advisory lock \(key) on \(settings.displayURL)"
        guard try PostgresState.tryLock(connection, key: key) else {
            throw JobLockError.heldElsewhere(job: job, holder: PostgresState.holder(connection, key: key) ?? "another session")
        }
        session = connection
        descriptor = -1
    }

    /// Takes the lock for `job`, or fails at once if another process holds it.
    ///
    /// - Throws: ``JobLockError/held(job:pid:path:)`` naming the holder's process id.
    public init(job: String, stateDirectory: String) throws {
        let folder = stateDirectory + "/locks"
        mkdir(stateDirectory, 0o755)
        mkdir(folder, 0o755)
        path = folder + "/\(job).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw JobLockError.unavailable(path: path, reason: String(cString: strerror(errno)))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 32, 0)
            close(fd)
            let pid = Int(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)
                .trimmingCharacters(in: " \n")) ?? 0
            throw JobLockError.held(job: job, pid: pid, path: path)
        }
        ftruncate(fd, 0)
        let text = "\(getpid())\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
        session = nil
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }  // closing the descriptor releases the lock
        // The session's end releases an advisory lock (deinit of `session`).
    }
}

/// Why a job could not start.
public enum JobLockError: Error, CustomStringConvertible, Equatable {
    /// Another run of the job holds the lock.
    case held(job: String, pid: Int, path: String)
    /// The lock file cannot be created.
    case unavailable(path: String, reason: String)
    /// Another session (on this node or another) holds the job's advisory lock in PostgreSQL.
    case heldElsewhere(job: String, holder: String)

    public var description: String {
        switch self {
        case .held(let job, let pid, let path):
            "another run of \(job) is in progress (process \(pid), lock \(path)); this run did nothing"
        case .heldElsewhere(let job, let holder):
            "another run of \(job) is in progress (\(holder), PostgreSQL advisory lock); this run did nothing"
        case .unavailable(let path, let reason):
            "cannot create the lock file \(path): \(reason)"
        }
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
