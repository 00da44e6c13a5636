import FileTransport
import Foundation
import TestSupport
import Testing

/// voxbatch's OpenPGP (through GPGME) against keys and files the real gpg made, each party in its own
/// temporary GNUPGHOME.
@Suite struct OpenPGPTests {
    let keys: PGPKeys
    let work: URL

    init() throws {
        keys = try PGPKeys()
        work = keys.directory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    /// Our side: a private keyring filled from the key files, as a configuration without `keyring:` gets.
    func ours(verify: Bool = true, _ change: (inout PGPSettings) -> Void = { _ in }) throws -> OpenPGP {
        let passphrase = work.appendingPathComponent("passphrase-\(UUID().uuidString.prefix(6))").path
        try writeSecret(PGPKeys.passphrase, to: passphrase)
        var settings = PGPSettings(keyFiles: [keys.ourSecretKeyFile, keys.warehousePublicKeyFile],
                                   encryptTo: [keys.warehouseFingerprint], signWith: keys.ourFingerprint,
                                   passphrase: .file(passphrase), verifyWith: verify ? [keys.warehouseFingerprint] : [])
        change(&settings)
        return try OpenPGP(settings: settings, workHome: try keys.keyring("voxbatch-\(UUID().uuidString.prefix(6))"))
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = work.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func ourFilesDecryptForTheWarehouseWithAGoodSignatureOfOurs() throws {
        let plain = try write("SalesOrderNumber,ItemCode\r\nWEB-1,SKU-1\r\n", "SO_1.csv")
        let sealed = plain + ".pgp"
        try ours().encrypt(plain, to: sealed)
        #expect(try !Data(contentsOf: URL(fileURLWithPath: sealed)).contains(Data("WEB-1".utf8)))
        let back = work.appendingPathComponent("SO_1.back.csv").path
        let status = try keys.warehouseDecrypts(sealed, to: back)
        #expect(try String(contentsOfFile: back, encoding: .utf8) == "SalesOrderNumber,ItemCode\r\nWEB-1,SKU-1\r\n")
        #expect(status.contains("GOODSIG") && status.contains("VALIDSIG \(keys.ourFingerprint)") == false
                || status.contains("VALIDSIG"))
        #expect(status.contains(String(keys.ourFingerprint.suffix(16))))
    }

    @Test func theWarehousesSignedFilesDecryptAndVerify() throws {
        let plain = try write("Despatch number,Item code\nD-1,SKU-1\n", "DESP_1.csv")
        for armor in [false, true] {
            let sealed = plain + (armor ? ".asc" : ".gpg")
            try keys.warehouseEncrypts(plain, to: sealed, armor: armor)
            let out = work.appendingPathComponent("DESP_1.out-\(armor)").path
            let verified = try ours().decrypt(sealed, to: out)
            #expect(verified.signer == keys.warehouseFingerprint)
            #expect(try String(contentsOfFile: out, encoding: .utf8) == "Despatch number,Item code\nD-1,SKU-1\n")
        }
    }

    @Test func unsignedTamperedForeignAndPlainFilesAreRefusedWithTheirReasonAndLeaveNothingBehind() throws {
        let plain = try write("Despatch number,Item code\nD-1,SKU-1\n", "DESP_2.csv")
        let out = work.appendingPathComponent("out.csv").path
        func refusal(_ file: String, _ pgp: OpenPGP? = nil) throws -> PGPError.Code? {
            do {
                try (pgp ?? ours()).decrypt(file, to: out)
                return nil
            } catch let error as PGPError {
                #expect(!FileManager.default.fileExists(atPath: out), "a refused file left its content behind")
                return error.code
            }
        }
        // Not signed.
        let unsigned = plain + ".unsigned.pgp"
        try keys.warehouseEncrypts(plain, to: unsigned, sign: false)
        #expect(try refusal(unsigned) == .unsigned)
        // Not signed is fine where no signature is demanded.
        #expect(try refusal(unsigned, ours(verify: false)) == nil)
        try? FileManager.default.removeItem(atPath: out)
        // Changed on the way: one byte in the middle of the message.
        let tampered = plain + ".tampered.pgp"
        try keys.warehouseEncrypts(plain, to: tampered)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: tampered))
        bytes[bytes.count / 2] ^= 0x55
        try bytes.write(to: URL(fileURLWithPath: tampered))
        #expect(try refusal(tampered) == .decryptFailed)
        // Signed by a stranger whose key we have never seen.
        let stranger = try keys.keyring("stranger")
        try PGPKeys.generate(in: stranger, uid: "Stranger <x@evil.example>", passphrase: "")
        try PGPKeys.gpg(stranger, ["--import", keys.ourPublicKeyFile])
        let foreign = plain + ".foreign.pgp"
        try keys.warehouseEncrypts(plain, to: foreign, keyring: stranger)
        #expect(try refusal(foreign) == .unknownSigner)
        // Not encrypted at all, and encrypted to someone else.
        #expect(try refusal(plain) == .decryptFailed)
        let notForUs = plain + ".other.pgp"
        try PGPKeys.gpg(keys.warehouse, ["--trust-model", "always", "--recipient", keys.warehouseFingerprint, "--output",
                                         notForUs, "--sign", "--encrypt", plain])
        #expect(try refusal(notForUs) == .decryptFailed)
    }

    @Test func aSignatureThatDoesNotMatchIsABadSignature() throws {
        let plain = try write("Despatch number,Item code\nD-1,SKU-1\n", "DESP_3.csv")
        let forged = plain + ".pgp"
        try keys.forgedSignature(plain, to: forged, replacing: "SKU-1", with: "SKU-9")
        let out = work.appendingPathComponent("out3.csv").path
        #expect { try ours().decrypt(forged, to: out) } throws: { ($0 as? PGPError)?.code == .badSignature }
        #expect(!FileManager.default.fileExists(atPath: out))
        // Signed but not encrypted is not what the warehouse sends: refused as well.
        let clear = plain + ".asc"
        try PGPKeys.gpg(keys.warehouse, ["--output", clear, "--clearsign", plain])
        #expect { try ours().decrypt(clear, to: out) } throws: { ($0 as? PGPError)?.code == .decryptFailed }
    }

    @Test func expiredAndMissingKeysAreRefusedAndPGPCheckSaysWhichAndWhen() throws {
        // A warehouse key made in 2020 that expired in 2021, and one that expires 20 days after it was made.
        let old = try keys.keyring("old")
        let expired = try PGPKeys.generate(in: old, uid: "Old 3PL <old@wh.example>", passphrase: "", expiry: "1y",
                                           fakedTime: "20200101T000000")
        let soon = try PGPKeys.generate(in: old, uid: "Soon 3PL <soon@wh.example>", passphrase: "", expiry: "20d")
        let exported = work.appendingPathComponent("old.asc").path
        try PGPKeys.gpg(old, ["--armor", "--output", exported, "--export"])
        let pgp = try ours { $0.keyFiles.append(exported); $0.encryptTo = [expired]; $0.verifyWith = [soon, "NOSUCHKEY0000000"] }
        let plain = try write("x\n", "SO_9.csv")
        #expect { try pgp.encrypt(plain, to: plain + ".pgp") } throws: { error in
            let e = error as? PGPError
            return e?.code == .keyUnusable && e!.message.contains("expired")
        }
        // The clock is the key's own: 10 days after the short-lived key was made.
        let created = try PGPKeys.gpg(old, ["--with-colons", "--list-keys", soon]).split(separator: "\n")
            .first { $0.hasPrefix("pub:") }!.split(separator: ":", omittingEmptySubsequences: false)[5]
        let now = Date(timeIntervalSince1970: Double(created)! + 10 * 86_400)
        let states = pgp.check(now: now)
        #expect(states.map(\.role) == ["encrypt-to", "sign-with", "verify-with", "verify-with"])
        #expect(states.map(\.state) == ["expired", "ok", "expires-soon", "missing"])
        #expect(states[0].detail.contains("2020-12-31"))
        #expect(states[2].detail.contains("in 10 day(s)"))
    }

    @Test func aWrongPassphraseIsAKeyProblemThatNeverShowsThePassphrase() throws {
        let plain = try write("x\n", "SO_8.csv")
        let wrong = work.appendingPathComponent("wrong").path
        try writeSecret("not the passphrase", to: wrong)
        let pgp = try ours { $0.passphrase = .file(wrong) }
        #expect { try pgp.encrypt(plain, to: plain + ".pgp") } throws: { error in
            let e = error as? PGPError
            return e?.code == .keyUnusable && !e!.description.contains("not the passphrase")
        }
    }
}
