import CGPGME
import Foundation
import Glibc

/// How files to and from the warehouse are protected with OpenPGP.
public struct PGPSettings: Sendable, Hashable {
    /// A GnuPG home folder (keyring) to use as it is; `nil`: a private keyring under `workHome`, filled
    /// from ``keyFiles``.
    public var keyring: String?
    /// Key files (armored or binary) imported into the keyring before use: the warehouse's public key,
    /// ours (with its secret part, for signing and decrypting).
    public var keyFiles: [String]
    /// The keys files to the warehouse are encrypted to (fingerprints, key ids or e-mail addresses); empty:
    /// files to the warehouse are not encrypted.
    public var encryptTo: [String]
    /// Our key that signs files to the warehouse; `nil`: not signed.
    public var signWith: String?
    /// The passphrase of our secret key, by reference only.
    public var passphrase: SecretSource?
    /// The warehouse's signing keys (fingerprints): a file from the warehouse must be signed by one of them.
    /// Empty: files from the warehouse are decrypted but their signature is not demanded.
    public var verifyWith: [String]
    /// Whether files from the warehouse must be encrypted (set when the warehouse sends PGP files).
    public var decryptInbound: Bool
    /// The name ending of encrypted files: `.pgp`, `.gpg` (binary) or `.asc` (ASCII armor).
    public var fileExtension: String

    public init(keyring: String? = nil, keyFiles: [String] = [], encryptTo: [String] = [], signWith: String? = nil,
                passphrase: SecretSource? = nil, verifyWith: [String] = [], decryptInbound: Bool = true,
                fileExtension: String = ".pgp") {
        self.keyring = keyring
        self.keyFiles = keyFiles
        self.encryptTo = encryptTo
        self.signWith = signWith
        self.passphrase = passphrase
        self.verifyWith = verifyWith
        self.decryptInbound = decryptInbound
        self.fileExtension = fileExtension
    }

    /// Whether files to the warehouse are encrypted.
    public var encryptsOutbound: Bool { !encryptTo.isEmpty }
}

/// Why a PGP operation failed; `code` is the reason ops see (`pgp-bad-signature`...).
public struct PGPError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// Not an OpenPGP message, not for our key, corrupted or tampered with.
        case decryptFailed = "pgp-decrypt-failed"
        /// Signed, but the signature does not match the content (or the key is expired or revoked).
        case badSignature = "pgp-bad-signature"
        /// Not signed, though a signature is required.
        case unsigned = "pgp-unsigned"
        /// Signed by a key that is not one of the warehouse's.
        case unknownSigner = "pgp-unknown-signer"
        /// A configured key is missing, expired, revoked or cannot do what it is for.
        case keyUnusable = "pgp-key-unusable"
        /// Encryption or signing of an outbound file failed.
        case encryptFailed = "pgp-encrypt-failed"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// A key as `pgp check` shows it.
public struct PGPKeyStatus: Sendable, Hashable, Codable {
    /// What the configuration uses it for: `encrypt-to`, `sign-with`, `verify-with`.
    public var role: String
    /// As configured.
    public var reference: String
    public var fingerprint: String?
    public var userID: String?
    /// Seconds since 1970, when it expires (nil: never).
    public var expires: Int64?
    /// `ok`, `expires-soon`, `expired`, `revoked`, `missing`, `unusable`.
    public var state: String
    public var detail: String

    public init(role: String, reference: String, fingerprint: String? = nil, userID: String? = nil, expires: Int64? = nil, state: String,
                detail: String) {
        self.role = role
        self.reference = reference
        self.fingerprint = fingerprint
        self.userID = userID
        self.expires = expires
        self.state = state
        self.detail = detail
    }
}

/// OpenPGP through GPGME (GnuPG's C API): files are streamed through file descriptors, never held in memory.
///
/// One instance per job; GnuPG runs as `gpg` child processes (and `gpg-agent` for secret keys) on the keyring.
public final class OpenPGP {
    public let settings: PGPSettings
    /// The keyring in use.
    public let home: String
    private let context: gpgme_ctx_t
    private var passphraseBox: PassphraseBox?

    private static let version: String? = vb_gpgme_initialize().map { String(cString: $0) }

    /// Opens the keyring (creating a private one in `workHome` and importing the key files when no
    /// keyring is configured).
    ///
    /// - Throws: ``PGPError`` (`pgp-key-unusable`) when GnuPG is missing or a key file cannot be imported.
    public init(settings: PGPSettings, workHome: String) throws {
        guard Self.version != nil else { throw PGPError(.keyUnusable, "GPGME could not start (is gnupg installed?)") }
        self.settings = settings
        home = settings.keyring ?? workHome
        if settings.keyring == nil {
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        var ctx: gpgme_ctx_t?
        try Self.check(gpgme_new(&ctx), .keyUnusable, "GPGME context")
        context = ctx!
        try Self.check(gpgme_ctx_set_engine_info(context, GPGME_PROTOCOL_OpenPGP, nil, home), .keyUnusable, "keyring \(home)")
        gpgme_set_armor(context, settings.fileExtension == ".asc" ? 1 : 0)
        if let passphrase = settings.passphrase {
            passphraseBox = PassphraseBox(source: passphrase)
            gpgme_set_pinentry_mode(context, GPGME_PINENTRY_MODE_LOOPBACK)
            gpgme_set_passphrase_cb(context, { hook, _, _, previousWasBad, fd in
                let box = Unmanaged<PassphraseBox>.fromOpaque(hook!).takeUnretainedValue()
                guard previousWasBad == 0, let secret = try? box.source.read() else {
                    return gpgme_error(GPG_ERR_CANCELED)
                }
                let line = secret + "\n"
                _ = line.withCString { gpgme_io_writen(fd, $0, strlen($0)) }
                return 0
            }, Unmanaged.passUnretained(passphraseBox!).toOpaque())
        }
        for file in settings.keyFiles { try importKey(file) }
    }

    deinit { gpgme_release(context) }

    private final class PassphraseBox {
        let source: SecretSource
        init(source: SecretSource) { self.source = source }
    }

    private static func check(_ error: gpgme_error_t, _ code: PGPError.Code, _ what: String) throws {
        guard error != 0 else { return }
        throw PGPError(code, "\(what): \(describe(error))")
    }

    static func describe(_ error: gpgme_error_t) -> String { String(cString: gpgme_strerror(error)) }

    private func importKey(_ path: String) throws {
        var data: gpgme_data_t?
        try Self.check(gpgme_data_new_from_file(&data, path, 1), .keyUnusable, "key file \(path)")
        defer { gpgme_data_release(data) }
        try Self.check(gpgme_op_import(context, data), .keyUnusable, "importing \(path)")
        if let result = gpgme_op_import_result(context), result.pointee.considered == 0 {
            throw PGPError(.keyUnusable, "\(path) holds no OpenPGP key")
        }
    }

    /// The key a reference names, with its secret part when `secret`.
    private func key(_ reference: String, secret: Bool) -> gpgme_key_t? {
        var found: gpgme_key_t?
        if gpgme_get_key(context, reference, &found, secret ? 1 : 0) == 0 { return found }
        // An e-mail address or a user id: the first match.
        guard gpgme_op_keylist_start(context, reference, secret ? 1 : 0) == 0 else { return nil }
        defer { gpgme_op_keylist_end(context) }
        return gpgme_op_keylist_next(context, &found) == 0 ? found : nil
    }

    private func usableKey(_ reference: String, role: String, secret: Bool) throws -> gpgme_key_t {
        guard let key = key(reference, secret: secret) else {
            throw PGPError(.keyUnusable, "no \(secret ? "secret " : "")key \(reference) (\(role)) in the keyring \(home)")
        }
        let k = key.pointee
        if k.revoked != 0 || k.expired != 0 || k.disabled != 0 || k.invalid != 0 {
            gpgme_key_unref(key)
            let why = k.revoked != 0 ? "revoked" : k.expired != 0 ? "expired" : "disabled or invalid"
            throw PGPError(.keyUnusable, "key \(reference) (\(role)) is \(why)")
        }
        return key
    }

    private func openFile(_ path: String, writing: Bool) throws -> Int32 {
        let fd = writing ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw PGPError(writing ? .encryptFailed : .decryptFailed, "\(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Encrypts `input` to the warehouse's keys and signs it with ours, streaming into `output`.
    public func encrypt(_ input: String, to output: String) throws {
        var recipients: [gpgme_key_t?] = try settings.encryptTo.map { try usableKey($0, role: "encrypt-to", secret: false) }
        defer { recipients.forEach { gpgme_key_unref($0) } }
        recipients.append(nil)
        gpgme_signers_clear(context)
        if let signer = settings.signWith {
            let key = try usableKey(signer, role: "sign-with", secret: true)
            defer { gpgme_key_unref(key) }
            try Self.check(gpgme_signers_add(context, key), .keyUnusable, "signing key \(signer)")
        }
        // Trust is ours to decide: the keys are the ones the configuration names, by fingerprint.
        let flags = gpgme_encrypt_flags_t(GPGME_ENCRYPT_ALWAYS_TRUST.rawValue)
        let error = try streaming(input, to: output, failure: .encryptFailed) { plain, cipher, _ in
            settings.signWith == nil
                ? gpgme_op_encrypt(context, &recipients, flags, plain, cipher)
                : gpgme_op_encrypt_sign(context, &recipients, flags, plain, cipher)
        }
        if error != 0 {
            if gpgme_err_code(error) == GPG_ERR_BAD_PASSPHRASE || gpgme_err_code(error) == GPG_ERR_CANCELED {
                throw PGPError(.keyUnusable, "the passphrase of \(settings.signWith ?? "our key") was refused or not given "
                               + "(\(settings.passphrase?.description ?? "no passphrase configured"))")
            }
            throw PGPError(.encryptFailed, "encrypting \(input): \(Self.describe(error))")
        }
    }

    /// Runs `operation` from the file `input` into the file `output` (created, mode 600), both streamed by
    /// GPGME through their descriptors; the output is synced to disk when the operation succeeds.
    private func streaming(_ input: String, to output: String, failure: PGPError.Code,
                           _ operation: (gpgme_data_t?, gpgme_data_t?, Int32) -> gpgme_error_t) throws -> gpgme_error_t {
        let inFD = try openFile(input, writing: false)
        defer { close(inFD) }
        let outFD = try openFile(output, writing: true)
        defer { close(outFD) }
        var source: gpgme_data_t?
        var sink: gpgme_data_t?
        try Self.check(gpgme_data_new_from_fd(&source, inFD), failure, input)
        defer { gpgme_data_release(source) }
        try Self.check(gpgme_data_new_from_fd(&sink, outFD), failure, output)
        defer { gpgme_data_release(sink) }
        let error = operation(source, sink, outFD)
        if error == 0 && fsync(outFD) != 0 { throw PGPError(failure, "\(output): \(String(cString: strerror(errno)))") }
        return error
    }

    /// What a decrypted file was signed by.
    public struct Verified: Sendable, Hashable {
        /// The primary key fingerprint of the signer, when signed.
        public var signer: String?
    }

    /// Decrypts `input` into `output` and checks its signature against ``PGPSettings/verifyWith``; on any
    /// failure `output` is removed, so nothing unverified is left to read.
    @discardableResult
    public func decrypt(_ input: String, to output: String) throws -> Verified {
        do {
            return try decryptVerifying(input, to: output)
        } catch {
            unlink(output)
            throw error
        }
    }

    private func decryptVerifying(_ input: String, to output: String) throws -> Verified {
        let error = try streaming(input, to: output, failure: .decryptFailed) { cipher, plain, _ in
            gpgme_op_decrypt_verify(context, cipher, plain)
        }
        if error != 0 {
            let code = gpgme_err_code(error)
            let reason: String
            switch code {
            case GPG_ERR_NO_DATA: reason = "it is not an OpenPGP message (not encrypted?)"
            case GPG_ERR_NO_SECKEY: reason = "it is not encrypted to a key in the keyring \(home)"
            case GPG_ERR_BAD_DATA, GPG_ERR_INV_PACKET, GPG_ERR_CHECKSUM:
                reason = "the message is damaged or was changed (\(Self.describe(error)))"
            default: reason = Self.describe(error)
            }
            throw PGPError(.decryptFailed, reason)
        }
        var verified = Verified(signer: nil)
        let signature = gpgme_op_verify_result(context)?.pointee.signatures
        guard !settings.verifyWith.isEmpty else {
            verified.signer = signature.flatMap { $0.pointee.fpr.map { String(cString: $0) } }
            return verified
        }
        guard let signature else { throw PGPError(.unsigned, "the file is not signed; the warehouse's signature is required") }
        let s = signature.pointee
        let fingerprint = s.fpr.map { String(cString: $0) } ?? "?"
        switch gpgme_err_code(s.status) {
        case GPG_ERR_NO_ERROR: break
        case GPG_ERR_NO_PUBKEY:
            throw PGPError(.unknownSigner, "signed by \(fingerprint), a key not in the keyring (expected "
                           + settings.verifyWith.joined(separator: ", ") + ")")
        case GPG_ERR_BAD_SIGNATURE:
            throw PGPError(.badSignature, "the signature by \(fingerprint) does not match the content")
        case GPG_ERR_KEY_EXPIRED, GPG_ERR_SIG_EXPIRED, GPG_ERR_CERT_REVOKED:
            throw PGPError(.badSignature, "signed by \(fingerprint), whose key or signature has expired or is revoked ("
                           + Self.describe(s.status) + ")")
        default:
            throw PGPError(.badSignature, "the signature by \(fingerprint) could not be verified: \(Self.describe(s.status))")
        }
        // The signing (sub)key's primary key must be one the configuration names.
        var primary = fingerprint
        if let key = key(fingerprint, secret: false) {
            primary = key.pointee.fpr.map { String(cString: $0) } ?? fingerprint
            gpgme_key_unref(key)
        }
        let accepted = settings.verifyWith.map { $0.replacingOccurrences(of: " ", with: "").uppercased() }
        guard accepted.contains(where: { primary.uppercased().hasSuffix($0) || fingerprint.uppercased().hasSuffix($0) }) else {
            throw PGPError(.unknownSigner, "signed by \(primary), which is not one of the warehouse's keys ("
                           + settings.verifyWith.joined(separator: ", ") + ")")
        }
        verified.signer = primary
        return verified
    }

    /// The configured keys: present, usable, and not expiring within `warnDays` of `now`.
    public func check(now: Date, warnDays: Int = 30) -> [PGPKeyStatus] {
        var roles: [(String, String, Bool)] = settings.encryptTo.map { ("encrypt-to", $0, false) }
        if let signer = settings.signWith { roles.append(("sign-with", signer, true)) }
        roles += settings.verifyWith.map { ("verify-with", $0, false) }
        let nowSeconds = Int64(now.timeIntervalSince1970)
        return roles.map { role, reference, secret in
            guard let key = key(reference, secret: secret) else {
                return PGPKeyStatus(role: role, reference: reference, state: "missing",
                                    detail: "no \(secret ? "secret " : "")key \(reference) in \(home)")
            }
            defer { gpgme_key_unref(key) }
            let k = key.pointee
            let uid = k.uids.flatMap { $0.pointee.uid.map { String(cString: $0) } }
            // The expiry that matters: the primary key's, or the earliest of the subkeys able to do the job.
            var expiry: Int64?
            var capable = false
            var sub = k.subkeys
            while let s = sub {
                let able = role == "encrypt-to" ? s.pointee.can_encrypt != 0 : s.pointee.can_sign != 0
                if able && s.pointee.revoked == 0 && s.pointee.disabled == 0 {
                    capable = true
                    if s.pointee.expires > 0 { expiry = min(expiry ?? Int64.max, Int64(s.pointee.expires)) }
                }
                sub = s.pointee.next
            }
            let fingerprint = k.fpr.map { String(cString: $0) }
            var status = PGPKeyStatus(role: role, reference: reference, fingerprint: fingerprint, userID: uid,
                                      expires: expiry, state: "ok", detail: "")
            if k.revoked != 0 {
                status.state = "revoked"
                status.detail = "the key is revoked"
            } else if k.expired != 0 || (expiry.map { $0 <= nowSeconds } ?? false) {
                status.state = "expired"
                status.detail = "the key expired" + (expiry.map { " at \(Self.day($0))" } ?? "")
            } else if k.invalid != 0 || k.disabled != 0 || !capable {
                status.state = "unusable"
                status.detail = "the key cannot \(role == "encrypt-to" ? "encrypt" : "sign")"
            } else if let expiry, expiry - nowSeconds < Int64(warnDays) * 86_400 {
                status.state = "expires-soon"
                status.detail = "the key expires at \(Self.day(expiry)), in \((expiry - nowSeconds) / 86_400) day(s)"
            } else {
                status.detail = expiry.map { "valid until \(Self.day($0))" } ?? "does not expire"
            }
            return status
        }
    }

    private static func day(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
    }
}
