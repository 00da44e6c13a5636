import ArgumentParser
import FileTransport
import Foundation

struct TransportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Test the connection to the warehouse's exchange folder.",
        subcommands: [TransportCheckCommand.self, TransportKnownHostCommand.self]
    )
}

struct TransportCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Connect, verify the host key, authenticate and list the exchange folders.",
        discussion: """
            URL is sftp://user@host[:port]/folder, ftps://user@host[:port]/folder (explicit TLS), \
            ftps-implicit://user@host[:port]/folder, ftp://… (plain, only with --allow-plaintext) or \
            file:///folder. Secrets never go in the URL or on the command line: a password or key passphrase \
            comes from an environment variable or from a file readable only by its owner (mode 600). FTPS \
            certificates are verified against the system's trust store or --ca-file.

            Exit codes: 0 connected, 2 configuration or permanent error (host key, certificate, \
            authentication, permissions), 3 server unavailable (connection refused, timeout).
            """
    )

    @Argument(help: "sftp://user@host[:port]/folder or file:///folder; omit it to use the configuration's warehouse.")
    var url: String?

    @Option(help: "Take the warehouse section from this configuration file (default when no URL is given: $VOXBATCH_CONFIG or ./voxbatch.yml).")
    var config: String?

    @Option(help: "Private key file for SFTP (mode 600).")
    var identity: String?

    @Option(help: "Environment variable holding the key's passphrase.")
    var passphraseEnv: String?

    @Option(help: "Environment variable holding the SFTP password.")
    var passwordEnv: String?

    @Option(help: "File holding the SFTP password (mode 600).")
    var passwordFile: String?

    @Option(help: "OpenSSH known_hosts file (default ~/.ssh/known_hosts).")
    var knownHosts: String?

    @Option(help: "FTPS: CA certificates (PEM) the server's certificate must chain to (default: the system's store).")
    var caFile: String?

    @Flag(help: "Allow ftp:// (nothing encrypted, not even the password).")
    var allowPlaintext = false

    @Option(help: "strict (refuse unknown hosts) or accept-new (record them).")
    var hostKeyPolicy: String = "strict"

    @Option(help: "Folders to look for.")
    var folders: [String] = ["in", "out", "archive", "error"]

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        guard let policy = SFTPSettings.HostKeyPolicy(rawValue: hostKeyPolicy) else {
            throw ValidationError("--host-key-policy must be strict or accept-new")
        }
        let options: TransportOptions
        if let url, config == nil {
            do {
                var parsed = TransportOptions(
                    location: try TransportLocation(url: url), identityFile: identity,
                    passphrase: passphraseEnv.map { .environment($0) },
                    password: passwordEnv.map { .environment($0) } ?? passwordFile.map { .file($0) },
                    knownHostsPath: knownHosts ?? defaultKnownHosts(), hostKeyPolicy: policy)
                parsed.caFile = caFile
                parsed.allowPlaintext = allowPlaintext
                options = parsed
            } catch let error as TransportError {
                printError("voxbatch: \(error.message)")
                throw Exit.usage
            }
        } else {
            options = try ConfigOption(config: config).load().warehouse.transport
        }
        var report = TransportReport(url: options.location.description)
        do {
            let transport = try options.makeTransport()
            defer { transport.close() }
            if let sftp = transport as? SFTPTransport {
                let key = try sftp.connect()
                report.hostKey = "\(key.typeName) \(key.fingerprint)"
            }
            if let ftp = transport as? FTPSTransport {
                try ftp.connect()
                report.tls = ftp.settings.security == .plaintext
                    ? "none: plain FTP, the password and files are not encrypted"
                    : "certificate verified against " + (ftp.settings.caFile.map { "CA file \($0)" } ?? "the system's trust store")
            }
            for folder in folders {
                if let entry = try transport.stat(folder), entry.isDirectory {
                    let files = try transport.list(folder).filter { !$0.isDirectory }
                    report.folders.append(.init(name: folder, exists: true, files: files.count,
                                                bytes: files.reduce(0) { $0 + $1.size }))
                } else {
                    report.folders.append(.init(name: folder, exists: false, files: 0, bytes: 0))
                }
            }
            report.ok = true
        } catch let error as TransportError {
            report.error = error.description
            report.errorCode = error.code.description
            report.transient = error.isTransient
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.human)
        }
        if !report.ok { throw report.transient == true ? Exit.unavailable : Exit.usage }
    }
}

struct TransportReport: Encodable {
    struct Folder: Encodable {
        var name: String
        var exists: Bool
        var files: Int
        var bytes: Int64
    }

    var url: String
    var ok = false
    var hostKey: String?
    var tls: String?
    var folders: [Folder] = []
    var error: String?
    var errorCode: String?
    var transient: Bool?

    var human: String {
        var lines = ["\(url)"]
        if let hostKey { lines.append("  host key verified: \(hostKey)") }
        if let tls { lines.append("  TLS: \(tls)") }
        for f in folders {
            lines.append("  \(f.name)/: " + (f.exists ? "\(f.files) file(s), \(f.bytes) bytes" : "missing"))
        }
        if let error { lines.append("  FAILED (\(errorCode ?? "")): \(error)") } else { lines.append("  OK") }
        return lines.joined(separator: "\n")
    }
}

struct TransportKnownHostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "known-host",
        abstract: "Print a server's host key fingerprint and its known_hosts line, for a person to confirm.",
        discussion: """
            Nothing is trusted or written: compare the fingerprint with the one the warehouse gives you \
            (out of band), then append the printed line to your known_hosts file.
            """
    )

    @Argument(help: "HOST or HOST:PORT (default port 22).")
    var server: String

    func run() throws {
        var host = server
        var port = 22
        if let colon = server.lastIndex(of: ":"), let p = Int(server[server.index(after: colon)...]) {
            host = String(server[..<colon])
            port = p
        }
        do {
            let key = try SFTPTransport.fetchHostKey(host: host, port: port)
            printError("\(host):\(port) presents a \(key.typeName) key, fingerprint \(key.fingerprint)")
            print(key.knownHostsLine(host: host, port: port))
        } catch let error as TransportError {
            printError("voxbatch: \(error)")
            throw error.isTransient ? Exit.unavailable : Exit.usage
        }
    }
}

func defaultKnownHosts() -> String {
    (ProcessInfo.processInfo.environment["HOME"] ?? "/root") + "/.ssh/known_hosts"
}
