import Glibc

/// A per-job lock, so cron cannot start a second copy of a running job.
///
/// It is an advisory `flock` on `locks/JOB.lock` in the state folder: the operating system releases it
/// when the holder exits for any reason, including `kill -9`, so a crash never leaves a stale lock.
public final class JobLock {
    private let descriptor: Int32
    /// The lock file.
    public let path: String

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
    }

    deinit { close(descriptor) }  // closing the descriptor releases the lock
}

/// Why a job could not start.
public enum JobLockError: Error, CustomStringConvertible, Equatable {
    /// Another run of the job holds the lock.
    case held(job: String, pid: Int, path: String)
    /// The lock file cannot be created.
    case unavailable(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let job, let pid, let path):
            "another run of \(job) is in progress (process \(pid), lock \(path)); this run did nothing"
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
