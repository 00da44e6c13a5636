import Foundation
import Glibc

/// A real OpenSSH `sshd` on 127.0.0.1 for one test: its own temp folder, config, host key and client
/// key, a free port; stopped (and its folder removed) when the fixture is released.
public final class SSHServerFixture {
    public let directory: URL
    public let port: Int
    public let user: String
    public let clientKey: String
    public let knownHosts: String
    public let exchange: String
    public private(set) var hostKeyPublicLine: String
    private var process: ChildProcess?

    /// Starts a server.
    ///
    /// - Parameter hostKeyType: `ed25519`, `ecdsa` or `rsa`. An RSA server also offers the `ssh-rsa`
    ///   signature, as older warehouse servers do: libssh2 1.10 verifies RSA host keys only that way.
    public init(hostKeyType: String = "ed25519") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-sshd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        user = String(cString: getpwuid(getuid())!.pointee.pw_name)
        clientKey = directory.appendingPathComponent("client_key").path
        knownHosts = directory.appendingPathComponent("known_hosts").path
        exchange = directory.appendingPathComponent("exchange").path
        try FileManager.default.createDirectory(atPath: exchange, withIntermediateDirectories: true)
        let hostKey = directory.appendingPathComponent("host_key").path
        try Shell.run("ssh-keygen", "-q", "-t", hostKeyType, "-N", "", "-f", hostKey)
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKey)
        try FileManager.default.copyItem(atPath: clientKey + ".pub",
                                         toPath: directory.appendingPathComponent("authorized_keys").path)
        hostKeyPublicLine = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8)
            .split(separator: " ").prefix(2).joined(separator: " ")
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)

        var lastError: Error?
        for _ in 0..<5 {
            let candidate = try SSHServerFixture.freePort()
            let config = """
                Port \(candidate)
                ListenAddress 127.0.0.1
                HostKey \(hostKey)
                PidFile \(directory.path)/sshd.pid
                AuthorizedKeysFile \(directory.path)/authorized_keys
                StrictModes no
                PermitRootLogin yes
                PubkeyAuthentication yes
                PasswordAuthentication yes
                KbdInteractiveAuthentication no
                UsePAM no
                Subsystem sftp internal-sftp
                LogLevel VERBOSE
                MaxStartups 100
                MaxSessions 100
                \(hostKeyType == "rsa" ? "HostKeyAlgorithms +ssh-rsa" : "")
                """
            let configPath = directory.appendingPathComponent("sshd_config").path
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            // Its output goes to a file, never to the test's own stdout: if the test process died, a
            // surviving sshd holding that pipe would keep `swift test` waiting for the end of it.
            let p = try ChildProcess(["/usr/sbin/sshd", "-D", "-f", configPath, "-E",
                                      directory.appendingPathComponent("sshd.log").path],
                                     outputPath: directory.appendingPathComponent("sshd.out").path)
            if SSHServerFixture.waitForPort(candidate, process: p, greeting: "SSH-") {
                process = p
                port = candidate
                try "[127.0.0.1]:\(candidate) \(hostKeyPublicLine)\n".write(toFile: knownHosts, atomically: true,
                                                                             encoding: .utf8)
                chmod(knownHosts, 0o600)
                return
            }
            p.stop()
            let log = (try? String(contentsOf: directory.appendingPathComponent("sshd.log"), encoding: .utf8)) ?? ""
            lastError = FixtureError("sshd did not start on port \(candidate): \(log)")
        }
        throw lastError ?? FixtureError("sshd did not start")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The server's log (LogLevel VERBOSE).
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("sshd.log"), encoding: .utf8)) ?? ""
    }

    public func stop() {
        Self.stop(&process)
    }

    /// Kills every per-connection sshd process, as a dropped network link would end a session.
    public func killConnections() {
        Self.killSessions(of: process)
    }

    /// Creates folders under `exchange` (by default the warehouse's usual four).
    public func makeFolders(_ names: [String] = ["in", "out", "archive", "error"]) throws {
        try Self.makeFolders(names, in: exchange)
    }

    /// Stops a daemon a fixture started, its sessions first.
    static func stop(_ process: inout ChildProcess?) {
        guard let running = process else { return }
        killSessions(of: running)
        running.stop()
        process = nil
    }

    /// Kills a daemon's per-connection processes (the listener stays), as a dropped link ends sessions.
    static func killSessions(of process: ChildProcess?) {
        guard let pid = process?.pid else { return }
        for child in descendants(of: pid) { kill(child, SIGKILL) }
    }

    static func makeFolders(_ names: [String], in exchange: String) throws {
        for name in names {
            try FileManager.default.createDirectory(atPath: exchange + "/" + name, withIntermediateDirectories: true)
        }
    }

    /// Writes known_hosts with a freshly generated key of `type` for this server: from the client's side,
    /// exactly what a changed host key (or an attacker in the middle) looks like.

    public func trustWrongKey(type: String = "ed25519", hashed: Bool = false) throws {
        let other = directory.appendingPathComponent("other_key_\(UUID().uuidString)").path
        try Shell.run("ssh-keygen", "-q", "-t", type, "-N", "", "-f", other)
        let line = try String(contentsOfFile: other + ".pub", encoding: .utf8).split(separator: " ").prefix(2)
            .joined(separator: " ")
        try "[127.0.0.1]:\(port) \(line)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        if hashed { try Shell.run("ssh-keygen", "-q", "-H", "-f", knownHosts) }
    }

    /// A port nothing listens on right now, for sshd (which must bind it itself).
    static func freePort() throws -> Int {
        let (fd, port) = try Loopback.listen(backlog: 1, what: "a port probe")
        close(fd)
        return port
    }

    /// Waits until `process` listens on `port` (and, given a `greeting`, is what greets a client there).
    static func waitForPort(_ port: Int, process: ChildProcess, greeting: String? = nil) -> Bool {
        for _ in 0..<100 {
            if !process.isRunning { return false }
            if let fd = Loopback.connect(port: port) {
                defer { close(fd) }
                guard let greeting else { return true }
                // Ours only if it greets as expected: another listener that took the port between the probe and
                // the server's bind would otherwise pass for it (and fail the test's handshake later).
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let expected = Array(greeting.utf8)
                var banner = [UInt8](repeating: 0, count: expected.count)
                return read(fd, &banner, expected.count) == expected.count && banner == expected && process.isRunning
            }
            usleep(50_000)
        }
        return false
    }

    /// Processes whose parent chain leads to `pid`.
    static func descendants(of pid: Int32) -> [Int32] {
        var parents: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { parents[child] = parent }
        }
        var result: [Int32] = []
        var frontier = [pid]
        while let current = frontier.popLast() {
            for (child, parent) in parents where parent == current {
                result.append(child)
                frontier.append(child)
            }
        }
        return result
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs helper programs (ssh-keygen, sftp, sha256sum) for tests, with output in a temporary file.
public enum Shell {
    @discardableResult
    public static func run(_ arguments: String...) throws -> String {
        try run(arguments)
    }

    @discardableResult
    public static func run(_ arguments: [String]) throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-shell-\(UUID().uuidString)").path
        defer { unlink(outputPath) }
        let child = try ChildProcess(arguments, outputPath: outputPath)
        let status = child.wait()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw FixtureError("\(arguments.joined(separator: " ")) failed (\(status)): \(text)")
        }
        return text
    }

    public static func sha256(_ path: String) throws -> String {
        String(try run("sha256sum", path).prefix(64))
    }
}

/// A child process started with posix_spawn and reaped with waitpid by its owner.
///
/// Foundation's `Process` is not used for fixtures: with several tests starting processes at once its
/// exit monitoring was seen to miss exits (children left defunct, `waitUntilExit` never returning), and
/// a pipe's write end could leak into a long-lived sshd. Here output goes to a file, descriptors are
/// close-on-exec, and the owner waits for its own child only.
public final class ChildProcess {
    public let pid: pid_t
    private var exited = false
    private var status: Int32 = 0

    /// Starts `arguments` with this process's environment plus `environment` (never via setenv: tests run
    /// in parallel, and changing the environment while another thread spawns a process is a data race).
    public init(_ arguments: [String], outputPath: String? = nil, environment: [String: String] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var argv = arguments.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        var envp = merged.map { strdup("\($0.key)=\($0.value)") }
        envp.append(nil)
        defer { envp.forEach { free($0) } }
        // The child starts with no blocked signals and default handlers: threads of the test process block
        // signals (the runtime's), and a daemon that inherits that mask (vsftpd waits for SIGCHLD) hangs.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard rc == 0 else { throw FixtureError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    public var isRunning: Bool {
        guard !exited else { return false }
        var s: Int32 = 0
        if waitpid(pid, &s, WNOHANG) == pid {
            exited = true
            status = s
            return false
        }
        return true
    }

    /// Waits for the exit and returns the exit status (or 128 + signal).
    @discardableResult
    public func wait() -> Int32 {
        if !exited {
            var s: Int32 = 0
            while waitpid(pid, &s, 0) < 0 && errno == EINTR {}
            exited = true
            status = s
        }
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    public func stop() {
        if isRunning { kill(pid, SIGTERM) }
        wait()
    }

    deinit { if !exited { stop() } }
}
