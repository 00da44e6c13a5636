import FileTransport
import Foundation

// pgpbench encrypt|decrypt INPUT OUTPUT KEYRING RECIPIENT SIGNER VERIFY_WITH
// One file through voxbatch's OpenPGP (GPGME, streamed); prints seconds, bytes and this process's peak memory.

let args = CommandLine.arguments
guard args.count == 8, ["encrypt", "decrypt"].contains(args[1]) else {
    FileHandle.standardError.write(Data("usage: pgpbench encrypt|decrypt INPUT OUTPUT KEYRING RECIPIENT SIGNER VERIFY_WITH\n".utf8))
    exit(2)
}
do {
    let pgp = try OpenPGP(settings: PGPSettings(keyring: args[4], encryptTo: [args[5]], signWith: args[6],
                                                verifyWith: [args[7]]), workHome: args[4])
    let start = Date()
    if args[1] == "encrypt" {
        try pgp.encrypt(args[2], to: args[3])
    } else {
        try pgp.decrypt(args[2], to: args[3])
    }
    let seconds = Date().timeIntervalSince(start)
    let bytes = (try FileManager.default.attributesOfItem(atPath: args[2])[.size] as? NSNumber)?.int64Value ?? 0
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first ?? "?"
    print("\(seconds) \(bytes) \(hwm)")
} catch {
    FileHandle.standardError.write(Data("pgpbench: \(error)\n".utf8))
    exit(1)
}
