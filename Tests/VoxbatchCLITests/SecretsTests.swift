import Foundation
import TestSupport
import Testing

/// Runs voxbatch with real secrets in play — WooCommerce credentials, an alert webhook whose path is its
/// token, an SFTP password — at the most verbose log level, through failures and retries, and then
/// searches everything it wrote (output, logs, error reports, state files) for the secrets.
@Suite struct SecretsTests {
    @Test func noSecretAppearsInOutputLogsReportsOrState() throws {
        let secrets = ["ck_KEY0123456789", "cs_SECRET9876543210", "T0KEN5ECRETPATH42", "sftp-Passw0rd!xyz"]
        let shop = try HTTPServerFixture { request in
            if request.path.contains("/hooks/") { return .init(status: 500) }  // the webhook fails: retries, errors
            return .json(["code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."], status: 401)
        }
        let dir = try CLI.temporaryDirectory()
        func secretFile(_ name: String, _ value: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try value.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            return path
        }
        let config = dir.appendingPathComponent("voxbatch.yml").path
        try """
            client: secret-test
            warehouse:
              url: sftp://acme@127.0.0.1:1/exchange
              password_file: \(try secretFile("sftp", secrets[3]))
              known_hosts: \(dir.path)/known_hosts
              connect_timeout: 1
            storefront:
              type: woocommerce
              url: \(shop.baseURL)
              key_file: \(try secretFile("key", secrets[0]))
              secret_file: \(try secretFile("secret", secrets[1]))
            alerts:
              webhook_url_file: \(try secretFile("hook", shop.baseURL + "/hooks/" + secrets[2]))
              after_consecutive_failures: 1
            retry: {attempts: 2, initial_delay: 0.01, max_delay: 0.01}
            state: state
            """.write(toFile: config, atomically: true, encoding: .utf8)
        var output = ""
        for args in [["run", "all"], ["run", "export-orders", "--json"], ["status", "--json"], ["config", "check"],
                     ["exceptions", "list", "--all"], ["report", "--html", dir.appendingPathComponent("r.html").path]] {
            let r = try CLI.run(args + ["--config", config], environment: ["VOXBATCH_LOG_LEVEL": "trace"])
            output += r.stdout + r.stderr
        }
        #expect(output.contains("HTTP 401"))  // the failures really happened and were reported
        // Everything voxbatch left on disk, the SQLite manifest included.
        var written = ""
        let files = FileManager.default.enumerator(atPath: dir.appendingPathComponent("state").path)
        while let name = files?.nextObject() as? String {
            if let data = FileManager.default.contents(atPath: dir.appendingPathComponent("state/" + name).path) {
                written += String(decoding: data, as: UTF8.self)
            }
        }
        written += (try? String(contentsOfFile: dir.appendingPathComponent("r.html").path, encoding: .utf8)) ?? ""
        for secret in secrets {
            #expect(!output.contains(secret), "\(secret) in the output")
            #expect(!written.contains(secret), "\(secret) in the state or the report")
        }
        let basic = Data("\(secrets[0]):\(secrets[1])".utf8).base64EncodedString()
        #expect(!output.contains(basic) && !written.contains(basic))
    }
}
