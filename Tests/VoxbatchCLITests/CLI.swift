import Foundation
import TestSupport

/// Runs the built `voxbatch` binary the way a person or cron would, capturing its output.
enum CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The package root, found from this file's location.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `voxbatch` executable next to the test bundle.
    static var binary: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("voxbatch")
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = root
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        // Output goes to files, not pipes: a long-lived process started by another test at the same time
        // could inherit a pipe's write end and keep this reader waiting.
        let dir = try temporaryDirectory()
        let outURL = dir.appendingPathComponent("stdout")
        let errURL = dir.appendingPathComponent("stderr")
        // A file that could not be created makes FileHandle(forWritingTo:) below throw, naming it.
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        let outData = try Data(contentsOf: outURL)
        let errData = try Data(contentsOf: errURL)
        try? FileManager.default.removeItem(at: dir)
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh temporary folder.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A starter set-up (`voxbatch init`) in a fresh folder, where files are taken as complete at once
    /// (the starter waits 5 s between listings), with `edits` made to its YAML.
    static func starter(edits: [(String, String)] = [], in directory: URL? = nil) throws -> (dir: URL, config: String) {
        let dir = try directory ?? temporaryDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("voxbatch.yml").path
        let created = try run(["init", "--config", config])
        guard created.status == 0 else { throw CLIError("voxbatch init failed: \(created.stderr)") }
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        for (old, new) in [("interval: 5", "interval: 0")] + edits {
            yml = yml.replacingOccurrences(of: old, with: new)
        }
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
        return (dir, config)
    }

    /// The `state:` of a configuration whose manifest and job locks are in a schema of their own on the test
    /// run's real PostgreSQL server (node-local files stay in `.voxbatch`).
    static func postgresState(schema: String? = nil) throws -> String {
        let server = try PostgresServerFixture.shared()
        return "state: {path: .voxbatch, database: \"\(server.url)\", schema: \(schema ?? server.freshSchema()), "
            + "password_file: \(server.passwordFile)}"
    }

    /// A starter set-up whose shop has `rows` products, and a stock file of them waiting in the
    /// warehouse's outbox.
    static func starterWithStock(rows: Int) throws -> (dir: URL, config: String) {
        let (dir, config) = try starter()
        let base = dir.appendingPathComponent(".voxbatch")
        let skus = (0..<rows).map { "SKU-\($0)" }
        try ("sku,name\n" + skus.map { "\($0),P\n" }.joined()).write(to: base.appendingPathComponent("shop/products.csv"),
                                                                     atomically: true, encoding: .utf8)
        try ("Item code,Available\r\n" + skus.map { "\($0),3\r\n" }.joined())
            .write(to: base.appendingPathComponent("exchange/out/STOCK_20261130T0800.csv"), atomically: true, encoding: .utf8)
        return (dir, config)
    }

    /// A starter set-up (quick retries) pointed at a WooCommerce fixture, with the API secret `secret`.
    static func wooStarter(_ woo: WooCommerceFixture, secret: String, in directory: URL? = nil) throws
        -> (config: String, secretFile: String)
    {
        let (dir, config) = try quickStarter(in: directory)
        for (name, value) in [("key", "ck_test"), ("secret", secret)] {
            try writeSecret(value, to: dir.appendingPathComponent(name).path)
        }
        try replaceStorefront(in: config, with: """
            type: woocommerce
              url: \(woo.server.baseURL)
              key_file: \(dir.appendingPathComponent("key").path)
              secret_file: \(dir.appendingPathComponent("secret").path)
            """)
        return (config, dir.appendingPathComponent("secret").path)
    }

    /// A starter set-up (quick retries) pointed at a Centra fixture with the Integration API token
    /// `token`, and — given an sshd — at that server's exchange over SFTP instead of the local folder.
    static func centraStarter(_ centra: CentraFixture, token: String = "centra-test-token", sshd: SSHServerFixture? = nil,
                              warehouse: String = "Peoplevox 3PL") throws -> (dir: URL, config: String) {
        try apiStarter(token: token, tokenFile: "centra-token", sshd: sshd) { tokenFile in
            """
            type: centra
              url: \(centra.baseURL)
              token_file: \(tokenFile)
              stock_warehouse: \(warehouse)
              requests_per_second: 0
            """
        }
    }

    /// A starter set-up (quick retries) pointed at a Marketplacer fixture with the Seller API key `token`,
    /// and — given an sshd — at that server's exchange over SFTP.
    static func marketplacerStarter(_ mkp: MarketplacerFixture, token: String = "mkp-test-key", sshd: SSHServerFixture? = nil)
        throws -> (dir: URL, config: String)
    {
        try apiStarter(token: token, tokenFile: "mkp-token", sshd: sshd,
                       edits: [("    Royal Mail: royal-mail\n    DPD: dpd", "    Royal Mail: Royal Mail\n    DPD: DPD")]) { tokenFile in
            """
            type: marketplacer
              url: \(mkp.baseURL)
              token_file: \(tokenFile)
              requests_per_second: 0
            """
        }
    }

    /// A starter set-up (quick retries) pointed at a SCAYLE fixture with the Admin API token `token`, and —
    /// given an sshd — at that server's exchange over SFTP.
    static func scayleStarter(_ scayle: ScayleFixture, token: String = "scayle-test-token", sshd: SSHServerFixture? = nil)
        throws -> (dir: URL, config: String)
    {
        try apiStarter(token: token, tokenFile: "scayle-token", sshd: sshd) { tokenFile in
            """
            type: scayle
              url: \(scayle.baseURL)
              token_file: \(tokenFile)
              shop_key: \(scayle.shopKey)
              country_code: \(scayle.countryCode)
              stock_warehouse: pvx-leeds
              requests_per_second: 0
            """
        }
    }

    /// The plain-file starter with WAIR as its inventory master (credentials in mode-600 files), and —
    /// given an sshd — that server's exchange over SFTP.
    static func wairStarter(_ wair: WairFixture, password: String? = nil, sshd: SSHServerFixture? = nil)
        throws -> (dir: URL, config: String)
    {
        let (dir, config) = try quickStarter(sshd: sshd)
        for (name, value) in [("wair-user", wair.username), ("wair-password", password ?? wair.password)] {
            try writeSecret(value, to: dir.appendingPathComponent(name).path)
        }
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        yml += """

            inventory_master:
              type: wair
              url: \(wair.baseURL)
              tenant: \(wair.tenant)
              username_file: \(dir.appendingPathComponent("wair-user").path)
              password_file: \(dir.appendingPathComponent("wair-password").path)
              warehouse_location: PVX-LEEDS
              requests_per_second: 0

            """
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
        return (dir, config)
    }

    /// A starter set-up with quick retries, the API token in a mode-600 file, the storefront section
    /// `section(tokenFile)`, and — given an sshd — that server's exchange over SFTP.
    private static func apiStarter(token: String, tokenFile name: String, sshd: SSHServerFixture?, edits extra: [(String, String)] = [],
                                   section: (String) -> String) throws -> (dir: URL, config: String) {
        let (dir, config) = try quickStarter(sshd: sshd, edits: extra)
        let tokenFile = dir.appendingPathComponent(name).path
        try writeSecret(token, to: tokenFile)
        try replaceStorefront(in: config, with: section(tokenFile))
        return (dir, config)
    }

    /// A starter set-up with quick retries and `edits`, and — given an sshd — that server's exchange over
    /// SFTP (its generated key and known_hosts) instead of the local folder.
    private static func quickStarter(sshd: SSHServerFixture? = nil, edits extra: [(String, String)] = [],
                                     in directory: URL? = nil) throws -> (dir: URL, config: String) {
        var edits = [("attempts: 5", "attempts: 2"), ("initial_delay: 1", "initial_delay: 0.1")] + extra
        if let sshd {
            edits.append(("url: file://.voxbatch/exchange", """
                url: sftp://\(sshd.user)@127.0.0.1:\(sshd.port)\(sshd.exchange)
                  identity: \(sshd.clientKey)
                  known_hosts: \(sshd.knownHosts)
                """))
        }
        return try starter(edits: edits, in: directory)
    }

    /// Replaces the starter's `storefront:` section with `storefront:\n  ` + `section`.
    static func replaceStorefront(in config: String, with section: String) throws {
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        guard let start = yml.range(of: "\nstorefront:") else { throw CLIError("the starter has no storefront section") }
        let end = yml[start.upperBound...].range(of: "\n\n")?.lowerBound ?? yml.endIndex
        yml.replaceSubrange(start.lowerBound..<end, with: "\nstorefront:\n  " + section)
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
    }

    struct CLIError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
