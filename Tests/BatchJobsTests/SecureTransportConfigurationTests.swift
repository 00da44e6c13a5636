import BatchJobs
import FileTransport
import Foundation
import Glibc
import Testing

/// The `warehouse` keys for FTPS and PGP: what is read, and every mistake reported with its path.
@Suite struct SecureTransportConfigurationTests {
    private func parse(_ warehouse: String, base: String = "/srv/acme") throws -> Configuration {
        try Configuration.parse(yaml: """
            client: acme
            warehouse:
            \(warehouse.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            storefront: {type: file, folder: shop}
            """, baseDirectory: base)
    }

    private func problems(_ warehouse: String, base: String = "/srv/acme") -> [String] {
        do {
            _ = try parse(warehouse, base: base)
            return []
        } catch let error as ConfigError {
            return error.problems.map { "\($0.path): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    @Test func ftpsWarehouseWithCAFileAndClientCertificate() throws {
        let config = try parse("""
            url: ftps://acme@ftp.wh.example/exchange
            password_file: secrets/ftp
            ca_file: certs/wh-ca.pem
            client_certificate: certs/acme.pem
            client_key: certs/acme.key
            """)
        let t = config.warehouse.transport
        #expect(t.location == .ftp(security: .explicitTLS, host: "ftp.wh.example", port: 21, user: "acme", path: "/exchange"))
        #expect(t.password == .file("/srv/acme/secrets/ftp"))
        #expect(t.caFile == "/srv/acme/certs/wh-ca.pem" && t.clientKey == "/srv/acme/certs/acme.key")
        #expect(!t.allowPlaintext)
    }

    @Test func ftpMistakesAreReported() {
        #expect(problems("url: ftps://acme@ftp.wh.example/x").contains { $0.contains("password_env or password_file") })
        #expect(problems("url: ftp://acme@ftp.wh.example/x\npassword_env: P").contains { $0.contains("allow_plaintext") })
        #expect(problems("url: ftp://acme@ftp.wh.example/x\npassword_env: P\nallow_plaintext: true").isEmpty)
        #expect(problems("url: ftps://acme@ftp.wh.example/x\npassword_env: P\nallow_plaintext: true")
                    .contains { $0.contains("applies to ftp:// only") })
        #expect(problems("url: sftp://acme@sftp.wh.example/x\nidentity: k\nca_file: ca.pem")
                    .contains { $0.contains("warehouse.ca_file") && $0.contains("ftps://") })
    }

    @Test func pgpSectionWithKeyFilesFingerprintsAndThePassphraseByReference() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-pgpconf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let secret = dir.appendingPathComponent("ours.sec.asc").path
        try "-----BEGIN PGP PRIVATE KEY BLOCK-----\n".write(toFile: secret, atomically: true, encoding: .utf8)
        chmod(secret, 0o600)
        try "-----BEGIN PGP PUBLIC KEY BLOCK-----\n".write(toFile: dir.appendingPathComponent("wh.asc").path, atomically: true, encoding: .utf8)
        let section = """
            url: file:///srv/exchange
            pgp:
              key_files: [ours.sec.asc, wh.asc]
              encrypt_to: [AAAA1111]
              sign_with: BBBB2222
              passphrase_env: ACME_PGP
              verify_with: [AAAA1111]
              extension: .asc
            """
        let pgp = try #require(try parse(section, base: dir.path).warehouse.pgp)
        #expect(pgp.keyFiles == [secret, dir.appendingPathComponent("wh.asc").path])
        #expect(pgp.encryptTo == ["AAAA1111"] && pgp.signWith == "BBBB2222" && pgp.verifyWith == ["AAAA1111"])
        #expect(pgp.passphrase == .environment("ACME_PGP") && pgp.fileExtension == ".asc" && pgp.decryptInbound)

        // A secret key others can read is refused; a public one need not be private.
        chmod(secret, 0o644)
        #expect(problems(section, base: dir.path).contains { $0.contains("key_files[0]") && $0.contains("chmod 600") })
        chmod(secret, 0o600)
        // Decrypting without checking whose signature it is, an inline passphrase, an unknown extension.
        #expect(problems(section.replacingOccurrences(of: "  verify_with: [AAAA1111]\n", with: ""), base: dir.path)
                    .contains { $0.contains("verify_with") })
        #expect(problems(section.replacingOccurrences(of: "passphrase_env: ACME_PGP", with: "passphrase: hunter2"), base: dir.path)
                    .contains { $0.contains("secrets must not be written") })
        #expect(problems(section.replacingOccurrences(of: "extension: .asc", with: "extension: .zip"), base: dir.path)
                    .contains { $0.contains(".pgp, .gpg") })
        #expect(problems("url: file:///srv/exchange\npgp: {inbound: plain, encrypt_to: [A]}", base: dir.path)
                    .contains { $0.contains("keyring") && $0.contains("key_files") })
    }
}

@Suite struct SecureTransportSampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theFTPSAndPGPSamplesAreValid() throws {
        let ftps = try Configuration.load(path: Self.root.appendingPathComponent("samples/ftps/voxbatch.yml").path)
        #expect(ftps.warehouse.transport.location
                == .ftp(security: .explicitTLS, host: "ftp.3pl.example", port: 21, user: "northsea", path: "/exchange"))
        #expect(ftps.warehouse.transport.caFile == "/etc/voxbatch/3pl-ca.pem")
        let pgp = try Configuration.load(path: Self.root.appendingPathComponent("samples/pgp/voxbatch.yml").path)
        #expect(pgp.warehouse.pgp?.keyring == "/etc/voxbatch/gnupg")
        #expect(pgp.warehouse.pgp?.encryptTo.count == 1 && pgp.warehouse.pgp?.verifyWith == pgp.warehouse.pgp?.encryptTo)
        #expect(pgp.storefront.kind == "centra")
    }
}
