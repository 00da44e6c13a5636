import FileTransport
import Foundation
import TestSupport
import Testing

/// Settings for the fixture's server with its generated client key.
func settings(_ server: SSHServerFixture, policy: SFTPSettings.HostKeyPolicy = .strict,
              authentication: SFTPSettings.Authentication? = nil, ioTimeout: Double = 20) -> SFTPSettings {
    SFTPSettings(host: "127.0.0.1", port: server.port, user: server.user, baseDirectory: server.exchange,
                 authentication: authentication ?? .privateKey(path: server.clientKey, passphrase: nil),
                 knownHostsPath: server.knownHosts, hostKeyPolicy: policy, connectTimeout: 5, ioTimeout: ioTimeout)
}

func makeFile(_ path: String, megabytes: Int) throws {
    // One pseudo-random megabyte, stamped with its index each time, so every megabyte differs.
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var block = [UInt64](repeating: 0, count: (1 << 20) / 8)
    for i in block.indices {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        block[i] = state
    }
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    for index in 0..<megabytes {
        block[0] = UInt64(index)
        handle.write(block.withUnsafeBytes { Data($0) })
    }
}

@Suite(.serialized) final class SFTPTransportTests {
    let server: SSHServerFixture
    let work: URL

    init() throws {
        server = try SSHServerFixture()
        work = server.directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try server.makeFolders()
    }

    private func downloadToFile(_ transport: SFTPTransport, _ remote: String, _ local: String) throws -> Int64 {
        _ = FileManager.default.createFile(atPath: local, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: local))
        defer { try? handle.close() }
        return try transport.download(remote, progress: nil) { handle.write(Data($0)) }
    }

    @Test func uploadsAndDownloadsSmallAndLargeFilesByteForByte() throws {
        let transport = SFTPTransport(settings: settings(server))
        defer { transport.close() }
        try TransportContract.roundTrips(transport, exchange: server.exchange, work: work, megabytes: 100)
    }

    @Test func listsWithGlobFilteringAndMovesToArchive() throws {
        let transport = SFTPTransport(settings: settings(server))
        defer { transport.close() }
        try TransportContract.listsMovesAndRemoves(transport, exchange: server.exchange) { path, text in
            try text.write(toFile: server.exchange + "/" + path, atomically: true, encoding: .utf8)
        }
    }

    @Test func cutConnectionMidUploadLeavesNoFinalFileAndTheNextRunSucceeds() throws {
        let transport = SFTPTransport(settings: settings(server))
        defer { transport.close() }
        try TransportContract.cutMidUploadLeavesNoFinalFile(transport, exchange: server.exchange, work: work) {
            self.server.killConnections()
        }
    }

    @Test func changedHostKeyIsRefusedBeforeAuthentication() throws {
        try server.trustWrongKey()
        let transport = SFTPTransport(settings: settings(server, policy: .acceptNew))
        #expect { try transport.connect() } throws: { error in
            let e = error as? TransportError
            return e?.code == .hostKeyMismatch && e?.isTransient == false
                && e!.message.contains("ssh-keygen -R '[127.0.0.1]:\(self.server.port)'")
        }
        // The server saw no authentication attempt at all.
        #expect(!server.log.contains("publickey"))
        #expect(!server.log.contains("Accepted"))
    }

    @Test func hashedKnownHostsEntriesAreHonoured() throws {
        try Shell.run("ssh-keygen", "-q", "-H", "-f", server.knownHosts)
        #expect(try String(contentsOfFile: server.knownHosts, encoding: .utf8).hasPrefix("|1|"))
        let transport = SFTPTransport(settings: settings(server))
        defer { transport.close() }
        #expect(try transport.connect().typeName == "ssh-ed25519")
        try server.trustWrongKey(hashed: true)
        let other = SFTPTransport(settings: settings(server))
        #expect { try other.connect() } throws: { ($0 as? TransportError)?.code == .hostKeyMismatch }
    }

    @Test func unknownHostIsRefusedWhenStrictAndRecordedWithAcceptNew() throws {
        try FileManager.default.removeItem(atPath: server.knownHosts)
        let strict = SFTPTransport(settings: settings(server))
        #expect { try strict.connect() } throws: { error in
            let e = error as? TransportError
            return e?.code == .hostKeyUnknown && e!.message.contains("SHA256:")
        }
        #expect(!FileManager.default.fileExists(atPath: server.knownHosts))

        let acceptNew = SFTPTransport(settings: settings(server, policy: .acceptNew))
        try acceptNew.connect()
        acceptNew.close()
        let recorded = try String(contentsOfFile: server.knownHosts, encoding: .utf8)
        #expect(recorded == "[127.0.0.1]:\(server.port) \(server.hostKeyPublicLine)\n")

        // Once recorded, strict accepts it.
        let again = SFTPTransport(settings: settings(server))
        defer { again.close() }
        #expect(try again.list("").isEmpty == false)
    }

    @Test func fetchesTheHostKeyFingerprintForAPersonToConfirm() throws {
        let key = try SFTPTransport.fetchHostKey(host: "127.0.0.1", port: server.port)
        let expected = try Shell.run("ssh-keygen", "-l", "-f", server.directory.appendingPathComponent("host_key.pub").path)
        #expect(expected.contains(key.fingerprint))
        #expect(key.knownHostsLine(host: "127.0.0.1", port: server.port)
                == "[127.0.0.1]:\(server.port) \(server.hostKeyPublicLine)")
    }

    @Test func wrongKeyAndWrongPasswordAreAuthenticationFailures() throws {
        let otherKey = server.directory.appendingPathComponent("intruder_key").path
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey)
        let wrongKey = SFTPTransport(settings: settings(server, authentication: .privateKey(path: otherKey, passphrase: nil)))
        #expect { try wrongKey.connect() } throws: { error in
            let e = error as? TransportError
            return e?.code == .authenticationFailed && e?.isTransient == false
        }
        let passwordFile = try secretFile("not-the-password-\(UUID().uuidString)")
        let wrongPassword = SFTPTransport(settings: settings(server, authentication: .password(.file(passwordFile))))
        #expect { try wrongPassword.connect() } throws: { ($0 as? TransportError)?.code == .authenticationFailed }
    }

    @Test func privateKeyReadableByOthersIsRefused() throws {
        chmod(server.clientKey, 0o644)
        let transport = SFTPTransport(settings: settings(server))
        #expect { try transport.connect() } throws: { error in
            let e = error as? TransportError
            return e?.code == .configuration && e!.message.contains("chmod 600")
        }
    }

    @Test func hostileNamesInAListingAreRejected() throws {
        try "x".write(toFile: server.exchange + "/out/evil\nname.csv", atomically: true, encoding: .utf8)
        let transport = SFTPTransport(settings: settings(server))
        defer { transport.close() }
        #expect { try transport.list("out") } throws: { error in
            let e = error as? TransportError
            return e?.code == .unsafeName && e!.message.contains("evil\\x0aname.csv")
        }
        #expect { try transport.stat("../etc/passwd") } throws: { ($0 as? TransportError)?.code == .unsafeName }
        #expect { try transport.stat("/etc/passwd") } throws: { ($0 as? TransportError)?.code == .unsafeName }
    }

    @Test func serverDownIsTransientAndRetriedWithBackoff() throws {
        server.stop()
        let transport = SFTPTransport(settings: settings(server))
        var waits: [Double] = []
        let policy = RetryPolicy(maxAttempts: 4, initialDelay: 0.5, maxDelay: 10, multiplier: 2, jitter: 0)
        #expect {
            try Retry.run(policy, operation: "connect", sleep: { waits.append($0) }) { try transport.connect() }
        } throws: { error in
            let e = error as? TransportError
            return e?.code == .connectionFailed && e?.isTransient == true && e?.attempts == 4
                && e!.description.contains("after 4 attempts")
        }
        #expect(waits == [0.5, 1.0, 2.0])
    }

    @Test func interoperatesWithOpenSSHsSFTPClientBothWays() throws {
        let transport = SFTPTransport(settings: settings(server))
        defer { transport.close() }
        let ours = work.appendingPathComponent("ours.csv").path
        try makeFile(ours, megabytes: 3)
        try transport.upload(localPath: ours, to: "in/ours.csv", progress: nil)
        let theirs = work.appendingPathComponent("theirs.csv").path
        try makeFile(theirs, megabytes: 2)
        let fetched = work.appendingPathComponent("fetched-by-sftp.csv").path
        let batch = work.appendingPathComponent("batch.txt").path
        try """
            get \(server.exchange)/in/ours.csv \(fetched)
            put \(theirs) \(server.exchange)/out/theirs.csv
            """.write(toFile: batch, atomically: true, encoding: .utf8)
        try Shell.run(["sftp", "-q", "-b", batch, "-i", server.clientKey, "-P", String(server.port),
                       "-o", "UserKnownHostsFile=\(server.knownHosts)", "-o", "StrictHostKeyChecking=yes",
                       "-o", "BatchMode=yes", "\(server.user)@127.0.0.1"])
        #expect(try Shell.sha256(fetched) == (try Shell.sha256(ours)))
        let back = work.appendingPathComponent("theirs-back.csv").path
        #expect(try downloadToFile(transport, "out/theirs.csv", back) == 2 << 20)
        #expect(try Shell.sha256(back) == (try Shell.sha256(theirs)))
    }
}

@Suite struct HostKeyTypeTests {
    @Test(arguments: ["ecdsa", "rsa"])
    func otherHostKeyTypesAreVerified(_ type: String) throws {
        let server = try SSHServerFixture(hostKeyType: type)
        let transport = SFTPTransport(settings: settings(server))
        defer { transport.close() }
        let key = try transport.connect()
        #expect(key.typeName == (type == "rsa" ? "ssh-rsa" : "ecdsa-sha2-nistp256"))
        try server.trustWrongKey(type: type)
        #expect { try SFTPTransport(settings: settings(server)).connect() } throws: {
            ($0 as? TransportError)?.code == .hostKeyMismatch
        }
    }
}

extension SFTPTransportTests {
    /// A secret in a file of mode 600 (tests never call setenv: it races with processes spawned by
    /// tests running in parallel).
    func secretFile(_ secret: String) throws -> String {
        let path = server.directory.appendingPathComponent("secret-\(UUID().uuidString)").path
        try secret.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    @Test func passphraseProtectedKeyWithThePassphraseFromAFile() throws {
        let key = server.directory.appendingPathComponent("locked_key").path
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "correct horse", "-f", key)
        let authorized = server.directory.appendingPathComponent("authorized_keys").path
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: authorized))
        handle.seekToEndOfFile()
        handle.write(try Data(contentsOf: URL(fileURLWithPath: key + ".pub")))
        try handle.close()
        let good = SFTPTransport(settings: settings(server, authentication: .privateKey(
            path: key, passphrase: .file(try secretFile("correct horse")))))
        defer { good.close() }
        #expect(try good.list("").isEmpty == false)
        let bad = SFTPTransport(settings: settings(server, authentication: .privateKey(
            path: key, passphrase: .file(try secretFile("wrong")))))
        #expect { try bad.connect() } throws: { error in
            let e = error as? TransportError
            return e?.code == .configuration && e!.message.contains("wrong passphrase") && !e!.message.contains("correct horse")
        }
    }
}
