import Foundation
import Glibc

/// A real vsftpd on 127.0.0.1 for one test: its own folder, configuration, self-signed certificate (for
/// 127.0.0.1, used as the client's CA file) and a free port; stopped and removed when released.
///
/// vsftpd logs in system users only (through PAM), so the fixture keeps one unprivileged account,
/// `voxbatch-ftp` (no shell, home `/`, a fixed test password), creating it on first use: the tests must run
/// as root, as they do in CI. Its PAM service name is one that does not exist, so PAM's `other` stack
/// (pam_unix) checks the password without Debian's `ftpusers` list.
public final class FTPServerFixture {
    /// How the server speaks.
    public enum Security: String { case explicitTLS = "ftps", implicitTLS = "ftps-implicit", plaintext = "ftp" }

    public static let user = "voxbatch-ftp"
    /// The test account's password (the account exists only on test machines, for this fixture).
    public static let password = "voxbatch-ftp-test-password"

    public let directory: URL
    public let port: Int
    public let security: Security
    /// The exchange folder (absolute, as the server names it).
    public let exchange: String
    /// The server's certificate, which is also the CA file a client trusts.
    public let certificate: String
    /// A certificate for 127.0.0.1 the server does not use, from another "CA": trusting only it must fail.
    public let otherCertificate: String
    private var process: ChildProcess?

    /// Which server: vsftpd (no MLSD: listings by LIST, times by MDTM) or Pure-FTPd (MLSD, virtual users
    /// in its own password database, so no system account; the exchange is `/exchange` in its chroot).
    public enum Software { case vsftpd, pureFTPd }
    /// Where scripts/install-deps unpacks Pure-FTPd (its Debian package conflicts with vsftpd's).
    static let pureFTPd = "/opt/voxbatch-test/pure-ftpd"
    public let software: Software
    /// The exchange folder as the server names it.
    public let remoteExchange: String

    public init(security: Security = .explicitTLS, software: Software = .vsftpd, extraConfiguration: String = "") throws {
        self.security = security
        self.software = software
        if software == .vsftpd { try Self.ensureUser() }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-ftpd-\(UUID().uuidString)")
        exchange = directory.appendingPathComponent("root/exchange").path
        remoteExchange = software == .vsftpd ? exchange : "/exchange"
        certificate = directory.appendingPathComponent("cert.pem").path
        otherCertificate = directory.appendingPathComponent("other.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        try FileManager.default.createDirectory(atPath: exchange, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try Self.share(directory.appendingPathComponent("root").path)
        for (cert, keyPath) in [(certificate, key), (otherCertificate, directory.appendingPathComponent("other-key.pem").path)] {
            try Shell.run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", cert,
                          "-days", "3650", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
        }
        if software == .pureFTPd {
            precondition(security == .explicitTLS, "the Pure-FTPd fixture speaks explicit TLS")
            let passwd = directory.appendingPathComponent("pureftpd.passwd").path
            // A SHA-512 crypt hash rather than pure-pw's own argon2id, which takes ~4 s per login on this machine.
            let hash = try Shell.run("openssl", "passwd", "-6", Self.password).trimmingCharacters(in: .whitespacesAndNewlines)
            try "\(Self.user):\(hash):65534:65534::\(directory.path)/root/./::::::::::::\n"
                .write(toFile: passwd, atomically: true, encoding: .utf8)
            try Shell.run(Self.pureFTPd + "/usr/bin/pure-pw", "mkdb", directory.appendingPathComponent("pureftpd.pdb").path, "-f", passwd)
        }
        var lastError: Error?
        for _ in 0..<5 {
            let candidate = try SSHServerFixture.freePort()
            if software == .pureFTPd {
                // -Y 3: TLS required on the control and the data connections; -A: users chrooted; -E: no anonymous; -H: no reverse DNS lookups of clients.
                let p = try ChildProcess([Self.pureFTPd + "/usr/sbin/pure-ftpd", "-S", "127.0.0.1,\(candidate)",
                                          "-l", "puredb:" + directory.appendingPathComponent("pureftpd.pdb").path,
                                          "-E", "-A", "-H", "-Y", "3", "-2", "\(certificate),\(key)", "-P", "127.0.0.1", "-u", "1"],
                                         outputPath: directory.appendingPathComponent("vsftpd.out").path)
                if SSHServerFixture.waitForPort(candidate, process: p) {
                    process = p
                    port = candidate
                    return
                }
                p.stop()
                lastError = FixtureError("pure-ftpd did not start on port \(candidate)")
                continue
            }
            // require_ssl_reuse stays off: vsftpd 3.0.3 with TLS 1.3 refuses about half of the data connections
            // of any client (curl's own command line included: "522 session reuse required"), as its session
            // tickets arrive after the handshake. Both channels are still TLS (force_local_*_ssl).
            let tls = security == .plaintext ? "ssl_enable=NO" : """
                ssl_enable=YES
                implicit_ssl=\(security == .implicitTLS ? "YES" : "NO")
                rsa_cert_file=\(certificate)
                rsa_private_key_file=\(key)
                force_local_data_ssl=YES
                force_local_logins_ssl=YES
                ssl_tlsv1=NO
                ssl_sslv2=NO
                ssl_sslv3=NO
                require_ssl_reuse=NO
                """
            let config = """
                listen=YES
                listen_address=127.0.0.1
                listen_port=\(candidate)
                background=NO
                anonymous_enable=NO
                local_enable=YES
                write_enable=YES
                local_umask=000
                local_root=\(directory.path)/root
                pam_service_name=voxbatch-test-ftp
                secure_chroot_dir=\(directory.path)/empty
                seccomp_sandbox=NO
                isolate=NO
                isolate_network=NO
                pasv_address=127.0.0.1
                max_per_ip=50
                vsftpd_log_file=\(directory.path)/vsftpd.log
                xferlog_enable=YES
                log_ftp_protocol=YES
                \(tls)
                \(extraConfiguration)
                """
            let path = directory.appendingPathComponent("vsftpd.conf").path
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            let p = try ChildProcess(["/usr/sbin/vsftpd", path], outputPath: directory.appendingPathComponent("vsftpd.out").path)
            if SSHServerFixture.waitForPort(candidate, process: p) {
                process = p
                port = candidate
                return
            }
            p.stop()
            lastError = FixtureError("vsftpd did not start on port \(candidate): "
                                     + ((try? String(contentsOf: directory.appendingPathComponent("vsftpd.out"), encoding: .utf8)) ?? ""))
        }
        throw lastError ?? FixtureError("vsftpd did not start")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The exchange URL (`ftps://voxbatch-ftp@127.0.0.1:PORT/…/exchange`).
    public var url: String { "\(security.rawValue)://\(Self.user)@127.0.0.1:\(port)\(remoteExchange)" }

    /// The server's protocol log.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("vsftpd.log"), encoding: .utf8)) ?? ""
    }

    public func stop() {
        SSHServerFixture.stop(&process)
    }

    /// Kills every session process, as a dropped network link would end them (the listener stays).
    public func killConnections() {
        SSHServerFixture.killSessions(of: process)
    }

    /// Creates folders under `exchange` (by default the warehouse's usual four) the FTP user can write.
    public func makeFolders(_ names: [String] = ["in", "out", "archive", "error"]) throws {
        try SSHServerFixture.makeFolders(names, in: exchange)
        try Self.share(exchange)
    }

    /// Makes everything under `path` readable and writable by the FTP user (files the tests write as root).
    public static func share(_ path: String) throws {
        try Shell.run("chmod", "-R", "a+rwX", path)
    }

    private static let userLock = NSLock()
    private nonisolated(unsafe) static var userReady = false

    /// Creates the test account once (and sets its password) if this machine lacks it.
    private static func ensureUser() throws {
        userLock.lock()
        defer { userLock.unlock() }
        guard !userReady else { return }
        guard getuid() == 0 else {
            throw FixtureError("vsftpd logs in system users only: the FTP tests create the account \(user) and must run as root")
        }
        if getpwnam(user) == nil {
            try Shell.run("useradd", "--system", "--no-create-home", "--home-dir", "/", "--shell", "/usr/sbin/nologin", user)
        }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-chpasswd-\(UUID().uuidString)").path
        try "\(user):\(password)\n".write(toFile: input, atomically: true, encoding: .utf8)
        defer { unlink(input) }
        try Shell.run("sh", "-c", "chpasswd < '\(input)'")
        userReady = true
    }
}
