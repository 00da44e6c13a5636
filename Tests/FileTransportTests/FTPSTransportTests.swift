@testable import FileTransport
import Foundation
import TestSupport
import Testing

/// Settings for the fixture's vsftpd, trusting its certificate (or `caFile`).
func ftpSettings(_ server: FTPServerFixture, password: String = FTPServerFixture.password, caFile: String? = nil,
                 security: FTPSettings.Security? = nil, ioTimeout: Double = 20) throws -> FTPSettings {
    let secret = server.directory.appendingPathComponent("password-\(UUID().uuidString)").path
    try writeSecret(password, to: secret)
    let mode: FTPSettings.Security = security ?? FTPSettings.Security(rawValue: server.security.rawValue)!
    return FTPSettings(host: "127.0.0.1", port: server.port, user: FTPServerFixture.user, baseDirectory: server.remoteExchange,
                       password: .file(secret), security: mode, caFile: caFile ?? server.certificate,
                       connectTimeout: 5, ioTimeout: ioTimeout)
}

/// The transport's own suite against a real vsftpd with explicit TLS (AUTH TLS, PROT P): the same
/// semantics the SFTP transport is held to.
@Suite(.serialized) final class FTPSTransportTests {
    let server: FTPServerFixture
    let work: URL

    init() throws {
        server = try FTPServerFixture()
        work = server.directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try server.makeFolders()
    }

    private func transport() throws -> FTPSTransport { FTPSTransport(settings: try ftpSettings(server)) }

    private func downloadToFile(_ transport: FTPSTransport, _ remote: String, _ local: String) throws -> Int64 {
        _ = FileManager.default.createFile(atPath: local, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: local))
        defer { try? handle.close() }
        return try transport.download(remote, progress: nil) { handle.write(Data($0)) }
    }

    /// Writes a file into the exchange as the warehouse would, readable and movable by the FTP user.
    private func place(_ text: String, _ relative: String) throws {
        try text.write(toFile: server.exchange + "/" + relative, atomically: true, encoding: .utf8)
        try FTPServerFixture.share(server.exchange)
    }

    @Test func uploadsAndDownloadsSmallAndLargeFilesByteForByteOverTLS() throws {
        let transport = try transport()
        defer { transport.close() }
        try TransportContract.roundTrips(transport, exchange: server.exchange, work: work, megabytes: 40)
        // Both channels were under TLS: vsftpd refuses anything else with force_local_*_ssl, and says so.
        #expect(server.log.contains("PROT P"))
    }

    @Test func listsWithGlobFilteringAndExactTimesThenMovesToArchive() throws {
        let transport = try transport()
        defer { transport.close() }
        try TransportContract.listsMovesAndRemoves(transport, exchange: server.exchange) { path, text in try place(text, path) }
        // A known time: vsftpd has no MLSD, so the time comes from MDTM, to the second, not from LIST's minutes.
        var times = [timespec(tv_sec: 1_764_835_205, tv_nsec: 0), timespec(tv_sec: 1_764_835_205, tv_nsec: 0)]
        utimensat(AT_FDCWD, server.exchange + "/out/DESP_002.csv", &times, 0)
        #expect(try transport.list("out", matching: "DESP_002.csv").first?.modified == 1_764_835_205)
        #expect(try transport.stat("out/DESP_002.csv")?.modified == 1_764_835_205)
        #expect { try transport.rename("out/missing.csv", to: "archive/missing.csv", overwrite: false) } throws: {
            ($0 as? TransportError)?.code == .noSuchFile
        }
        try transport.makeDirectory("archive/2026/11")  // existing: fine
        #expect { try transport.list("missing-folder") } throws: { ($0 as? TransportError)?.code == .noSuchFile }
        #expect { try transport.download("out/none.csv", progress: nil) { _ in } } throws: {
            ($0 as? TransportError)?.code == .noSuchFile
        }
    }

    @Test func cutConnectionMidUploadLeavesNoFinalFileAndTheNextRunSucceeds() throws {
        let transport = FTPSTransport(settings: try ftpSettings(server, ioTimeout: 5))
        defer { transport.close() }
        try TransportContract.cutMidUploadLeavesNoFinalFile(transport, exchange: server.exchange, work: work) {
            self.server.killConnections()
        }
    }

    @Test func cutConnectionMidDownloadIsTransientAndNothingIsHalfRead() throws {
        let local = work.appendingPathComponent("stock.csv").path
        try makeFile(local, megabytes: 48)
        try FileManager.default.copyItem(atPath: local, toPath: server.exchange + "/out/STOCK_1.csv")
        try FTPServerFixture.share(server.exchange)
        let transport = FTPSTransport(settings: try ftpSettings(server, ioTimeout: 5))
        defer { transport.close() }
        var received: Int64 = 0
        #expect {
            try transport.download("out/STOCK_1.csv", progress: nil) { chunk in
                received += Int64(chunk.count)
                if received > 8 << 20 { self.server.killConnections() }
            }
        } throws: { ($0 as? TransportError)?.isTransient == true }
        let back = work.appendingPathComponent("stock-back.csv").path
        #expect(try downloadToFile(transport, "out/STOCK_1.csv", back) == 48 << 20)
        #expect(try Shell.sha256(back) == (try Shell.sha256(local)))
    }

    @Test func aCertificateFromAnotherIssuerIsRefusedWithAClearMessage() throws {
        let transport = FTPSTransport(settings: try ftpSettings(server, caFile: server.otherCertificate))
        #expect { try transport.connect() } throws: { error in
            let e = error as? TransportError
            return e?.code == .certificateRejected && e?.isTransient == false
                && e!.message.contains("certificate") && e!.message.contains(server.otherCertificate)
        }
        // The system's trust store does not know a self-signed certificate either.
        var system = try ftpSettings(server)
        system.caFile = nil
        #expect { try FTPSTransport(settings: system).connect() } throws: {
            ($0 as? TransportError)?.code == .certificateRejected
        }
    }

    @Test func wrongPasswordIsAnAuthenticationFailureThatNeverShowsThePassword() throws {
        let transport = FTPSTransport(settings: try ftpSettings(server, password: "not-the-password"))
        #expect { try transport.list("in") } throws: { error in
            let e = error as? TransportError
            return e?.code == .authenticationFailed && !e!.description.contains("not-the-password")
                && e!.message.contains(FTPServerFixture.user)
        }
    }

    @Test func hostileNamesInAListingAreRejected() throws {
        try place("x", "out/evil\u{01}name.csv")
        let transport = try transport()
        defer { transport.close() }
        #expect { try transport.list("out") } throws: { error in
            let e = error as? TransportError
            return e?.code == .unsafeName && e!.message.contains("evil\\x01name.csv")
        }
        #expect { try transport.stat("../etc/passwd") } throws: { ($0 as? TransportError)?.code == .unsafeName }
        #expect { try transport.upload(localPath: "/etc/hostname", to: "/etc/x", progress: nil) } throws: {
            ($0 as? TransportError)?.code == .unsafeName
        }
    }

    @Test func serverDownIsTransientAndRetriedWithBackoff() throws {
        server.stop()
        let transport = try transport()
        var waits: [Double] = []
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: 0.5, maxDelay: 10, multiplier: 2, jitter: 0)
        #expect {
            try Retry.run(policy, operation: "connect", sleep: { waits.append($0) }) { try transport.connect() }
        } throws: { error in
            let e = error as? TransportError
            return e?.code == .connectionFailed && e?.isTransient == true && e?.attempts == 3
        }
        #expect(waits == [0.5, 1.0])
    }

    @Test func interoperatesWithCurlsCommandLineClientBothWays() throws {
        let transport = try transport()
        defer { transport.close() }
        let ours = work.appendingPathComponent("ours.csv").path
        try makeFile(ours, megabytes: 3)
        try transport.upload(localPath: ours, to: "in/ours.csv", progress: nil)
        let theirs = work.appendingPathComponent("theirs.csv").path
        try makeFile(theirs, megabytes: 2)
        let fetched = work.appendingPathComponent("fetched-by-curl.csv").path
        let base = "ftp://127.0.0.1:\(server.port)/\(server.exchange)"  // `//`: from the server's root
        // curl's own client over TLS 1.3 sees vsftpd 3.0.3 answer "426 Failure reading network stream" to about
        // one upload in three (vsftpd reads the client's close_notify as an error); it is held to TLS 1.2 here.
        let auth = ["--tls-max", "1.2", "--ssl-reqd", "--cacert", server.certificate, "--user", "\(FTPServerFixture.user):\(FTPServerFixture.password)", "-sS"]
        try Shell.run(["curl"] + auth + ["-o", fetched, base + "/in/ours.csv"])
        try Shell.run(["curl"] + auth + ["-T", theirs, base + "/out/theirs.csv"])
        #expect(try Shell.sha256(fetched) == (try Shell.sha256(ours)))
        let back = work.appendingPathComponent("theirs-back.csv").path
        #expect(try downloadToFile(transport, "out/theirs.csv", back) == 2 << 20)
        #expect(try Shell.sha256(back) == (try Shell.sha256(theirs)))
    }
}

@Suite struct FTPSecurityModeTests {
    @Test func implicitTLSFromTheFirstByte() throws {
        let server = try FTPServerFixture(security: .implicitTLS)
        try server.makeFolders()
        try "x".write(toFile: server.exchange + "/out/DESP_9.csv", atomically: true, encoding: .utf8)
        let transport = FTPSTransport(settings: try ftpSettings(server))
        defer { transport.close() }
        #expect(try transport.list("out").map(\.name) == ["DESP_9.csv"])
        // Explicit TLS against an implicit server does not fall back to anything unencrypted.
        #expect { try FTPSTransport(settings: try ftpSettings(server, security: .explicitTLS, ioTimeout: 3)).connect() }
            throws: { ($0 as? TransportError) != nil }
    }

    @Test func aServerWithoutTLSIsRefusedByFTPSAndPlainFTPNeedsExplicitConsent() throws {
        let server = try FTPServerFixture(security: .plaintext)
        try server.makeFolders()
        #expect { try FTPSTransport(settings: try ftpSettings(server, security: .explicitTLS)).connect() } throws: { error in
            let e = error as? TransportError
            return e?.code == .certificateRejected && e!.message.contains("does not offer TLS")
        }
        let secret = server.directory.appendingPathComponent("pw").path
        try writeSecret(FTPServerFixture.password, to: secret)
        var options = TransportOptions(location: try TransportLocation(url: server.url), password: .file(secret),
                                       knownHostsPath: "/dev/null")
        #expect { try options.makeTransport() } throws: { error in
            let e = error as? TransportError
            return e?.code == .configuration && e!.message.contains("allow_plaintext")
        }
        options.allowPlaintext = true
        let transport = try options.makeTransport()
        defer { transport.close() }
        #expect(try transport.list("").map(\.name) == ["archive", "error", "in", "out"])
    }
}

/// The same promises against Pure-FTPd, which lists with MLSD (exact sizes and UTC times in one answer,
/// no MDTM per file): the other listing path, on a real server.
@Suite(.serialized) final class PureFTPdTransportTests {
    let server: FTPServerFixture
    let work: URL

    init() throws {
        server = try FTPServerFixture(software: .pureFTPd)
        work = server.directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try server.makeFolders()
    }

    @Test func theTransportContractHoldsOverMLSDWithExactTimes() throws {
        let transport = FTPSTransport(settings: try ftpSettings(server))
        defer { transport.close() }
        try TransportContract.roundTrips(transport, exchange: server.exchange, work: work, megabytes: 8)
        try TransportContract.listsMovesAndRemoves(transport, exchange: server.exchange) { path, text in
            try text.write(toFile: server.exchange + "/" + path, atomically: true, encoding: .utf8)
            try FTPServerFixture.share(server.exchange)
        }
        #expect(transport.listsWithMLSD == true)
        var times = [timespec(tv_sec: 1_764_835_205, tv_nsec: 0), timespec(tv_sec: 1_764_835_205, tv_nsec: 0)]
        utimensat(AT_FDCWD, server.exchange + "/out/DESP_002.csv", &times, 0)
        #expect(try transport.list("out", matching: "DESP_002.csv").first?.modified == 1_764_835_205)
    }

    @Test func cutConnectionMidUploadLeavesNoFinalFileAndTheNextRunSucceeds() throws {
        let transport = FTPSTransport(settings: try ftpSettings(server, ioTimeout: 5))
        defer { transport.close() }
        try TransportContract.cutMidUploadLeavesNoFinalFile(transport, exchange: server.exchange, work: work) {
            self.server.killConnections()
        }
    }
}

@Suite struct FTPListingFormatTests {
    @Test func readsMLSDFactsAndSkipsWhatIsNotAFileOrFolder() throws {
        let file = try FTPSTransport.parseMLSD("type=file;size=6;modify=20261204204203;perm=adfr; DESP 1.csv")
        #expect(file?.name == "DESP 1.csv" && file?.folder == false && file?.size == 6 && file?.modified == 1_796_416_923)
        #expect(try FTPSTransport.parseMLSD("type=dir;modify=20261204204203; in")?.folder == true)
        #expect(try FTPSTransport.parseMLSD("type=cdir; .") == nil)
        #expect(try FTPSTransport.parseMLSD("type=OS.unix=slink:/etc; link") == nil)
    }

    @Test func readsUnixListLinesAndRefusesWhatItCannotRead() throws {
        let line = "-rw-r--r--    1 0        0          123456 Dec 04 20:42 SO 1 final.csv"
        #expect(try FTPSTransport.parseLIST(line)?.name == "SO 1 final.csv")
        #expect(try FTPSTransport.parseLIST(line)?.size == 123_456)
        #expect(try FTPSTransport.parseLIST("drwxr-xr-x    2 0 0 4096 Dec 04  2025 archive")?.folder == true)
        #expect(try FTPSTransport.parseLIST("lrwxrwxrwx    1 0 0 4 Dec 04 20:42 l -> x") == nil)
        #expect(try FTPSTransport.parseLIST("total 12") == nil)
        #expect { try FTPSTransport.parseLIST("12-04-26  08:42PM       <DIR>          in") } throws: {
            ($0 as? TransportError)?.code == .protocolError
        }
    }

    @Test func parsesTheFTPSchemesAndTheirDefaultPorts() throws {
        #expect(try TransportLocation(url: "ftps://wh@ftp.wh.example/exchange")
                == .ftp(security: .explicitTLS, host: "ftp.wh.example", port: 21, user: "wh", path: "/exchange"))
        #expect(try TransportLocation(url: "ftps-implicit://wh@ftp.wh.example/x")
                == .ftp(security: .implicitTLS, host: "ftp.wh.example", port: 990, user: "wh", path: "/x"))
        #expect(try TransportLocation(url: "ftp://wh@10.0.0.9:2121")
                == .ftp(security: .plaintext, host: "10.0.0.9", port: 2121, user: "wh", path: "."))
        #expect { try TransportLocation(url: "ftps://wh:secret@ftp.wh.example/") } throws: {
            ($0 as? TransportError)!.message.contains("passwords do not belong in URLs")
        }
    }
}
