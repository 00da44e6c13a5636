import Foundation
import TestSupport
import Testing

/// PGP both ways with the real `voxbatch` processes, over the real loopback sshd and over a real vsftpd
/// (FTPS): sales orders go out encrypted to the warehouse's key and signed with ours (the warehouse's gpg
/// decrypts them and sees our good signature); the warehouse's despatch files come back encrypted and
/// signed, are decrypted and verified before a row is read, and every file that fails — unsigned, signed by
/// a stranger, forged, not encrypted — goes to error/ with its reason and an exception, applying nothing.
@Suite(.serialized) struct PGPEndToEndTests {
    @Test(arguments: ["sftp", "ftps"])
    func encryptedAndSignedBothWaysAndEveryBadFileRefusedWithItsReason(_ transport: String) throws {
        let keys = try PGPKeys()
        let passphrase = keys.directory.appendingPathComponent("passphrase").path
        try writeSecret(PGPKeys.passphrase, to: passphrase)
        let sshd = transport == "sftp" ? try SSHServerFixture() : nil
        let ftp = transport == "ftps" ? try FTPServerFixture() : nil
        try sshd?.makeFolders()
        try ftp?.makeFolders()
        let exchange = sshd?.exchange ?? ftp!.exchange
        var warehouse: String
        if let sshd {
            warehouse = """
                url: sftp://\(sshd.user)@127.0.0.1:\(sshd.port)\(sshd.exchange)
                  identity: \(sshd.clientKey)
                  known_hosts: \(sshd.knownHosts)
                """
        } else {
            let password = keys.directory.appendingPathComponent("ftp-password").path
            try writeSecret(FTPServerFixture.password, to: password)
            warehouse = """
                url: \(ftp!.url)
                  password_file: \(password)
                  ca_file: \(ftp!.certificate)
                """
        }
        warehouse += """

              pgp:
                key_files: [\(keys.ourSecretKeyFile), \(keys.warehousePublicKeyFile)]
                encrypt_to: [\(keys.warehouseFingerprint)]
                sign_with: \(keys.ourFingerprint)
                passphrase_file: \(passphrase)
                verify_with: [\(keys.warehouseFingerprint)]
            """
        var w = try CrashWorkload(orders: 12, seed: 20_261_205, edits: [
            ("attempts: 5", "attempts: 2"), ("initial_delay: 1", "initial_delay: 0.1"),
            ("url: file://.voxbatch/exchange", warehouse),
        ], exchange: exchange)
        let share = { if ftp != nil { try FTPServerFixture.share(exchange) } }
        w.afterSimulation = share

        let check = try CLI.run(["pgp", "check", "--config", w.config, "--json"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let states = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [[String: Any]]
        #expect(states?.map { $0["state"] as? String } == ["ok", "ok", "ok"])

        // Out: the item master, then the sales orders, encrypted and signed, nothing readable on the server.
        #expect(try CLI.run(["run", "export-items", "--config", w.config]).status == 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: exchange + "/in") where name.hasPrefix("ITEMS_") {
            #expect(name.hasSuffix(".csv.pgp"))
            _ = try keys.warehouseDecrypts(exchange + "/in/" + name, to: exchange + "/in/" + String(name.dropLast(4)))
            try FileManager.default.removeItem(atPath: exchange + "/in/" + name)
        }
        try share()
        try w.simulate(steps: 1)
        let exported = try CLI.run(["run", "export-orders", "--config", w.config])
        try #require(exported.status == 0, "\(exported.stdout)\(exported.stderr)")
        let sent = try FileManager.default.contentsOfDirectory(atPath: exchange + "/in").filter { $0.hasPrefix("SO_") }
        #expect(!sent.isEmpty && sent.allSatisfy { $0.hasSuffix(".csv.pgp") }, "\(sent)")
        var numbers: Set<String> = []
        for name in sent {
            let sealed = exchange + "/in/" + name
            #expect(try !String(decoding: Data(contentsOf: URL(fileURLWithPath: sealed)), as: UTF8.self).contains("WEB-"))
            let plain = exchange + "/in/" + String(name.dropLast(4))
            let status = try keys.warehouseDecrypts(sealed, to: plain)
            #expect(status.contains("GOODSIG") && status.contains("VALIDSIG"), "\(status)")
            try FileManager.default.removeItem(atPath: sealed)
            for row in try w.rows(in: exchange + "/in", prefix: String(name.dropLast(4).prefix(while: { $0 != "." }))) {
                numbers.insert(row["SalesOrderNumber"]!)
            }
        }
        #expect(numbers.count == w.orders)

        // Back: the warehouse picks and despatches, and seals its files.
        try share()
        try w.simulate(steps: 3)
        let plainDespatches = try FileManager.default.contentsOfDirectory(atPath: exchange + "/out")
            .filter { $0.hasPrefix("DESP_") && $0.hasSuffix(".csv") }.sorted()
        try #require(!plainDespatches.isEmpty)
        for name in plainDespatches {
            try keys.warehouseEncrypts(exchange + "/out/" + name, to: exchange + "/out/" + name + ".pgp")
            try FileManager.default.removeItem(atPath: exchange + "/out/" + name)
        }
        // And the bad ones: unsigned, signed by a stranger, forged, and a plain CSV.
        let sample = keys.directory.appendingPathComponent("DESP_sample.csv").path
        try "Salesorder number,Despatch number,Item code,No of items,Carrier,Tracking number,Despatch date\n"
            .write(toFile: sample, atomically: true, encoding: .utf8)
        try keys.warehouseEncrypts(sample, to: exchange + "/out/DESP_90_unsigned.csv.pgp", sign: false)
        let stranger = try keys.keyring("stranger")
        try PGPKeys.generate(in: stranger, uid: "Stranger <x@evil.example>", passphrase: "")
        try PGPKeys.gpg(stranger, ["--import", keys.ourPublicKeyFile])
        try keys.warehouseEncrypts(sample, to: exchange + "/out/DESP_91_stranger.csv.pgp", keyring: stranger)
        try keys.forgedSignature(sample, to: exchange + "/out/DESP_92_forged.csv.pgp", replacing: "Carrier", with: "Courier")
        try FileManager.default.copyItem(atPath: sample, toPath: exchange + "/out/DESP_93_plain.csv")
        try share()

        let run = try CLI.run(["run", "import-despatches", "--config", w.config, "--json"])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")  // applied, with exceptions
        let despatched = try w.rows(in: exchange + "/archive", prefix: "DESP_")  // none: the archive holds .pgp files
        #expect(despatched.isEmpty)
        let archived = try FileManager.default.contentsOfDirectory(atPath: exchange + "/archive").sorted()
        #expect(archived == plainDespatches.map { $0 + ".pgp" })
        let refused = try FileManager.default.contentsOfDirectory(atPath: exchange + "/error").sorted()
        #expect(refused == ["DESP_90_unsigned.csv.pgp", "DESP_91_stranger.csv.pgp", "DESP_92_forged.csv.pgp", "DESP_93_plain.csv"])
        let listed = try CLI.run(["exceptions", "list", "--config", w.config, "--json"])
        let exceptions = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        let reasons = Dictionary(uniqueKeysWithValues: exceptions.compactMap { e -> (String, String)? in
            guard let kind = e["kind"] as? String, kind.hasPrefix("pgp-") else { return nil }
            return (e["reference"] as! String, kind)
        })
        #expect(reasons == ["DESP_90_unsigned.csv.pgp": "pgp-unsigned", "DESP_91_stranger.csv.pgp": "pgp-unknown-signer",
                            "DESP_92_forged.csv.pgp": "pgp-bad-signature", "DESP_93_plain.csv": "pgp-decrypt-failed"])

        // Every despatch line of the sealed files was applied once.
        let journal = try w.rows(in: w.dir.appendingPathComponent(".voxbatch/shop/updates").path, prefix: "fulfilments")
        try #require(!journal.isEmpty)
        #expect(Set(journal.map { $0["fulfilment_id"]! }).count == journal.count)

        // The same content sealed again (other bytes, same rows) is a duplicate: the manifest hashes the plain file.
        let again = archived[0]
        let reopened = keys.directory.appendingPathComponent("again.csv").path
        _ = try PGPKeys.gpg(keys.ours, ["--pinentry-mode", "loopback", "--passphrase", PGPKeys.passphrase,
                                         "--output", reopened, "--decrypt", exchange + "/archive/" + again])
        try keys.warehouseEncrypts(reopened, to: exchange + "/out/DESP_99_again.csv.pgp")
        try share()
        let rerun = try CLI.run(["run", "import-despatches", "--config", w.config, "--json"])
        #expect(rerun.stdout.contains("\"duplicate\""), "\(rerun.stdout)")
        let after = try w.rows(in: w.dir.appendingPathComponent(".voxbatch/shop/updates").path, prefix: "fulfilments")
        #expect(after.count == journal.count)
    }
}

/// Key expiry seen ahead: `pgp check` and `status` warn within 30 days (exit 1, a warning line, an alert);
/// an expired key is a problem (exit 2). The clock is pinned relative to the key's own creation time.
@Suite struct PGPKeyExpiryCommandTests {
    @Test func aKeyThatExpiresSoonIsAWarningAndAnExpiredOneAProblem() throws {
        let keys = try PGPKeys()
        let soon = try PGPKeys.generate(in: keys.warehouse, uid: "Soon 3PL <soon@wh.example>", passphrase: "", expiry: "40d")
        let exported = keys.directory.appendingPathComponent("soon.asc").path
        try PGPKeys.gpg(keys.warehouse, ["--armor", "--output", exported, "--export", soon])
        let created = try PGPKeys.gpg(keys.warehouse, ["--with-colons", "--list-keys", soon]).split(separator: "\n")
            .first { $0.hasPrefix("pub:") }!.split(separator: ":", omittingEmptySubsequences: false)[5]
        let passphrase = keys.directory.appendingPathComponent("passphrase").path
        try writeSecret(PGPKeys.passphrase, to: passphrase)
        let (_, config) = try CLI.starter(edits: [("url: file://.voxbatch/exchange", """
            url: file://.voxbatch/exchange
              pgp:
                key_files: [\(keys.ourSecretKeyFile), \(exported)]
                encrypt_to: [\(soon)]
                sign_with: \(keys.ourFingerprint)
                passphrase_file: \(passphrase)
                verify_with: [\(soon)]
            """)])
        func at(_ days: Double) -> [String: String] {
            let date = Date(timeIntervalSince1970: Double(created)! + days * 86_400)
            return ["VOXBATCH_NOW": ISO8601DateFormatter().string(from: date)]
        }
        let fine = try CLI.run(["pgp", "check", "--config", config], environment: at(1))
        #expect(fine.status == 0, "\(fine.stdout)\(fine.stderr)")
        let warned = try CLI.run(["pgp", "check", "--config", config], environment: at(25))
        #expect(warned.status == 1)
        #expect(warned.stdout.contains("expires-soon") && warned.stdout.contains("in 15 day(s)"))
        let status = try CLI.run(["status", "--config", config], environment: at(25))
        #expect(status.stdout.contains("~ PGP key \(soon) (encrypt-to): the key expires"), "\(status.stdout)")
        let json = try CLI.run(["status", "--config", config, "--json"], environment: at(25))
        #expect(json.stdout.contains("\"expires-soon\""))
        let expired = try CLI.run(["pgp", "check", "--config", config], environment: at(41))
        #expect(expired.status == 2)
        #expect(expired.stdout.contains("expired"))
    }
}
