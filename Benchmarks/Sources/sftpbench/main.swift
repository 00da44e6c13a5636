import FileTransport
import Foundation

// sftpbench upload|download LOCAL REMOTE HOST PORT USER KEY KNOWN_HOSTS
// sftpbench ftps-upload|ftps-download LOCAL REMOTE HOST PORT USER PASSWORD_FILE CA_FILE
// One transfer through voxbatch's SFTP (or FTPS) transport; prints seconds and this process's peak memory.

let args = CommandLine.arguments
let modes = ["upload", "download", "ftps-upload", "ftps-download"]
guard args.count == 9, modes.contains(args[1]), let port = Int(args[5]) else {
    FileHandle.standardError.write(Data(("usage: sftpbench upload|download LOCAL REMOTE HOST PORT USER KEY KNOWN_HOSTS\n"
        + "       sftpbench ftps-upload|ftps-download LOCAL REMOTE HOST PORT USER PASSWORD_FILE CA_FILE\n").utf8))
    exit(2)
}
let transport: any FileTransport
if args[1].hasPrefix("ftps-") {
    let ftps = FTPSTransport(settings: FTPSettings(host: args[4], port: port, user: args[6], baseDirectory: "/",
                                                   password: .file(args[7]), caFile: args[8]))
    transport = ftps
    do { try ftps.connect() } catch {
        FileHandle.standardError.write(Data("sftpbench: \(error)\n".utf8))
        exit(1)
    }
} else {
    let sftp = SFTPTransport(settings: SFTPSettings(host: args[4], port: port, user: args[6], baseDirectory: "/",
                                                    authentication: .privateKey(path: args[7], passphrase: nil),
                                                    knownHostsPath: args[8]))
    transport = sftp
    do { try sftp.connect() } catch {
        FileHandle.standardError.write(Data("sftpbench: \(error)\n".utf8))
        exit(1)
    }
}
do {
    let remote = String(args[3].drop { $0 == "/" })
    let start = Date()
    var bytes: Int64 = 0
    if args[1].hasSuffix("upload") {
        bytes = try transport.upload(localPath: args[2], to: remote, progress: nil)
    } else {
        let fd = open(args[2], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        bytes = try transport.download(remote, progress: nil) { chunk in
            var offset = 0
            while offset < chunk.count { offset += write(fd, chunk.baseAddress! + offset, chunk.count - offset) }
        }
    }
    let seconds = Date().timeIntervalSince(start)
    transport.close()
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first ?? "?"
    print("\(seconds) \(bytes) \(hwm)")
} catch {
    FileHandle.standardError.write(Data("sftpbench: \(error)\n".utf8))
    exit(1)
}
