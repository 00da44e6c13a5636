import Foundation
import Glibc

/// OpenPGP keys generated with the real `gpg` for one test, each party in a GNUPGHOME of its own under a
/// temporary folder: voxbatch's side ("ours": our signing key with its secret, the warehouse's public key)
/// and the warehouse's side (its secret key, our public key). Agents are stopped and the folder removed
/// when released.
public final class PGPKeys {
    public let directory: URL
    /// The keyrings.
    public let ours: String
    public let warehouse: String
    /// Our key's fingerprint and passphrase, and its exported secret key (armored, mode 600).
    public let ourFingerprint: String
    public static let passphrase = "correct horse battery staple"
    public let ourSecretKeyFile: String
    public let ourPublicKeyFile: String
    /// The warehouse's key (no passphrase), and its exported public key.
    public let warehouseFingerprint: String
    public let warehousePublicKeyFile: String
    private var homes: [String] = []

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-pgp-\(UUID().uuidString.prefix(8))")
        ours = directory.appendingPathComponent("ours").path
        warehouse = directory.appendingPathComponent("warehouse").path
        for home in [ours, warehouse] {
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        homes = [ours, warehouse]
        ourFingerprint = try Self.generate(in: ours, uid: "voxbatch <integration@shop.example>", passphrase: Self.passphrase)
        warehouseFingerprint = try Self.generate(in: warehouse, uid: "Peoplevox 3PL <edi@wh.example>", passphrase: "")
        ourPublicKeyFile = directory.appendingPathComponent("ours.pub.asc").path
        ourSecretKeyFile = directory.appendingPathComponent("ours.sec.asc").path
        warehousePublicKeyFile = directory.appendingPathComponent("warehouse.pub.asc").path
        try Self.gpg(ours, ["--armor", "--output", ourPublicKeyFile, "--export", ourFingerprint])
        try Self.gpg(ours, ["--armor", "--pinentry-mode", "loopback", "--passphrase", Self.passphrase,
                            "--output", ourSecretKeyFile, "--export-secret-keys", ourFingerprint])
        chmod(ourSecretKeyFile, 0o600)
        try Self.gpg(warehouse, ["--armor", "--output", warehousePublicKeyFile, "--export", warehouseFingerprint])
        try Self.gpg(ours, ["--import", warehousePublicKeyFile])
        try Self.gpg(warehouse, ["--import", ourPublicKeyFile])
    }

    deinit {
        for home in homes { _ = try? Shell.run("gpgconf", "--homedir", home, "--kill", "gpg-agent") }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A further keyring (a stranger, or a key that expired), stopped with the others.
    public func keyring(_ name: String) throws -> String {
        let home = directory.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        homes.append(home)
        return home
    }

    /// Generates an ed25519 signing key with a cv25519 encryption subkey in `home` and returns its
    /// fingerprint; `expiry` is gpg's (`never`, `30d`), `fakedTime` gpg's `--faked-system-time` (`20200101T000000`).
    @discardableResult
    public static func generate(in home: String, uid: String, passphrase: String, expiry: String = "never",
                                fakedTime: String? = nil) throws -> String {
        let time = fakedTime.map { ["--faked-system-time", $0] } ?? []
        let secret = ["--pinentry-mode", "loopback", "--passphrase", passphrase]
        try gpg(home, time + secret + ["--quick-gen-key", uid, "ed25519", "sign,cert", expiry])
        let fingerprint = try fingerprints(in: home, uid: uid).first!
        try gpg(home, time + secret + ["--quick-add-key", fingerprint, "cv25519", "encr", expiry])
        return fingerprint
    }

    /// Primary fingerprints of the keys whose user id contains `uid`.
    public static func fingerprints(in home: String, uid: String) throws -> [String] {
        let listing = try gpg(home, ["--with-colons", "--list-keys", uid])
        var result: [String] = []
        var wantNext = false
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.first == "pub" { wantNext = true }
            if fields.first == "fpr", wantNext, fields.count > 9 {
                result.append(String(fields[9]))
                wantNext = false
            }
        }
        return result
    }

    /// Runs gpg on a keyring, non-interactively.
    @discardableResult
    public static func gpg(_ home: String, _ arguments: [String]) throws -> String {
        try Shell.run(["gpg", "--homedir", home, "--batch", "--yes", "--quiet", "--no-tty"] + arguments)
    }

    /// The warehouse encrypts `input` to our key and signs it with its own (what its system drops).
    public func warehouseEncrypts(_ input: String, to output: String, sign: Bool = true, armor: Bool = false,
                                  keyring: String? = nil) throws {
        try Self.gpg(keyring ?? warehouse, (armor ? ["--armor"] : []) + ["--trust-model", "always", "--recipient", ourFingerprint,
                                            "--output", output] + (sign ? ["--sign"] : []) + ["--encrypt", input])
    }

    /// A file whose signature does not match its content: the warehouse signs `input` (uncompressed), one
    /// byte of the signed text is changed (`from` → `to`, same length), and the packets are encrypted to
    /// us as they are (`--no-literal`), as an attacker who could re-encrypt but not sign would send it.
    public func forgedSignature(_ input: String, to output: String, replacing from: String, with to: String) throws {
        let signed = output + ".signed"
        try Self.gpg(warehouse, ["--compress-algo", "none", "--output", signed, "--sign", input])
        var bytes = try Data(contentsOf: URL(fileURLWithPath: signed))
        guard let range = bytes.range(of: Data(from.utf8)) else { throw FixtureError("\(from) is not in the signed file") }
        bytes.replaceSubrange(range, with: Data(to.utf8))
        try bytes.write(to: URL(fileURLWithPath: signed))
        try Self.gpg(warehouse, ["--no-literal", "--compress-algo", "none", "--trust-model", "always", "--recipient",
                                 ourFingerprint, "--output", output, "--encrypt", signed])
    }

    /// The warehouse decrypts a file we sent and returns what gpg said about its signature.
    public func warehouseDecrypts(_ input: String, to output: String) throws -> String {
        let status = directory.appendingPathComponent("status-\(UUID().uuidString)").path
        try Self.gpg(warehouse, ["--status-file", status, "--output", output, "--decrypt", input])
        return (try? String(contentsOfFile: status, encoding: .utf8)) ?? ""
    }
}
