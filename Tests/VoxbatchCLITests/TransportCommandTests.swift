import Foundation
import TestSupport
import Testing

@Suite(.serialized) final class TransportCommandTests {
    let server: SSHServerFixture

    init() throws {
        server = try SSHServerFixture()
        try server.makeFolders(["in", "out"])
        try "a,b\n".write(toFile: server.exchange + "/out/DESP_1.csv", atomically: true, encoding: .utf8)
    }

    private var url: String { "sftp://\(server.user)@127.0.0.1:\(server.port)\(server.exchange)" }

    @Test func checkConnectsVerifiesAndListsFolders() throws {
        let r = try CLI.run(["transport", "check", url, "--identity", server.clientKey, "--known-hosts", server.knownHosts,
                             "--json"])
        #expect(r.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(report?["ok"] as? Bool == true)
        #expect((report?["hostKey"] as? String)?.hasPrefix("ssh-ed25519 SHA256:") == true)
        let folders = report?["folders"] as? [[String: Any]]
        #expect(folders?.map { $0["name"] as? String } == ["in", "out", "archive", "error"])
        #expect(folders?[1]["files"] as? Int == 1)
        #expect(folders?[2]["exists"] as? Bool == false)
    }

    @Test func unknownHostFailsWithExitTwoAndTheFingerprint() throws {
        let empty = server.directory.appendingPathComponent("empty_known_hosts").path
        let r = try CLI.run(["transport", "check", url, "--identity", server.clientKey, "--known-hosts", empty])
        #expect(r.status == 2)
        #expect(r.stdout.contains("FAILED (host-key-unknown)"))
        #expect(r.stdout.contains("SHA256:"))
    }

    @Test func serverDownExitsThree() throws {
        server.stop()
        let r = try CLI.run(["transport", "check", url, "--identity", server.clientKey, "--known-hosts", server.knownHosts])
        #expect(r.status == 3)
        #expect(r.stdout.contains("connection-failed"))
    }

    @Test func knownHostPrintsTheLineToTrust() throws {
        let r = try CLI.run(["transport", "known-host", "127.0.0.1:\(server.port)"])
        #expect(r.status == 0)
        #expect(r.stdout == "[127.0.0.1]:\(server.port) \(server.hostKeyPublicLine)\n")
        #expect(r.stderr.contains("fingerprint SHA256:"))
    }

    @Test func passwordInTheURLIsRefused() throws {
        let r = try CLI.run(["transport", "check", "sftp://root:hunter2@127.0.0.1/x", "--known-hosts", server.knownHosts])
        #expect(r.status == 2)
        #expect(r.stderr.contains("passwords do not belong in URLs"))
        #expect(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"))
    }
}

extension TransportCommandTests {
    @Test func checkTakesTheWarehouseFromTheConfiguration() throws {
        let config = server.directory.appendingPathComponent("voxbatch.yml").path
        try """
            client: acme
            warehouse:
              url: \(url)
              identity: \(server.clientKey)
              known_hosts: \(server.knownHosts)
            storefront: {type: file, folder: shop}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try CLI.run(["transport", "check", "--config", config])
        #expect(r.status == 0)
        #expect(r.stdout.contains("host key verified: ssh-ed25519 SHA256:"))
        #expect(r.stdout.contains("out/: 1 file(s), 4 bytes"))
    }
}
