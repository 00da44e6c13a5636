import Foundation
import TestSupport
import Testing

/// The warehouse over FTPS (explicit TLS) end to end: the real `voxbatch` processes against a real vsftpd
/// the test starts, the simulator playing Peoplevox on its folder — every job killed (SIGKILL) at random
/// moments and rerun: each order sent once, each despatch line and stock level in effect once, no
/// half-published file on the server.
@Suite(.serialized) struct FTPSEndToEndTests {
    @Test func everyJobOverFTPSKilledAndRerunAppliesEverythingExactlyOnce() throws {
        let ftp = try FTPServerFixture()
        defer { ftp.stop() }
        try ftp.makeFolders()
        let password = ftp.directory.appendingPathComponent("ftp-password").path
        try writeSecret(FTPServerFixture.password, to: password)
        var w = try CrashWorkload(orders: 60, seed: 20_261_204, edits: [
            ("attempts: 5", "attempts: 2"), ("initial_delay: 1", "initial_delay: 0.1"),
            ("url: file://.voxbatch/exchange", """
                url: \(ftp.url)
                  password_file: \(password)
                  ca_file: \(ftp.certificate)
                """),
        ], exchange: ftp.exchange)
        w.afterSimulation = { try FTPServerFixture.share(ftp.exchange) }

        let check = try CLI.run(["transport", "check", "--config", w.config, "--json"])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.contains("certificate verified against CA file"))

        try w.crashLoop("export-items", kills: 1)
        try w.simulate(steps: 1)
        try w.crashLoop("import-stock", kills: 2)
        try w.crashLoop("export-orders", kills: 3)
        try w.simulate(steps: 4)
        try w.crashLoop("import-despatches", kills: 3)
        try w.crashLoop("import-returns", kills: 1)
        print("ftps end-to-end: \(w.kills.count) kill points interrupted a run: " + w.kills.joined(separator: " "))

        let fileOf = try w.salesOrderFiles()
        #expect(fileOf.count == w.orders)
        #expect(fileOf.values.allSatisfy { $0.count == 1 })
        let updates = w.dir.appendingPathComponent(".voxbatch/shop/updates").path
        let despatched = try w.rows(in: ftp.exchange + "/archive", prefix: "DESP_")
        #expect(!despatched.isEmpty)
        let ids = try w.rows(in: updates, prefix: "fulfilments").map { $0["fulfilment_id"]! }
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids) == Set(despatched.map { "\($0["Salesorder number"]!)/\($0["Despatch number"]!)/\($0["Item code"]!)" }))
        var shown: [String: Int] = [:]
        for row in try w.rows(in: updates, prefix: "stock") { shown[row["sku"]!] = Int(row["available"]!)! }
        #expect(shown == (try w.latestStock()))
        for folder in ["in", "out", "archive", "error"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: ftp.exchange + "/" + folder)) ?? []
            #expect(!names.contains { $0.hasSuffix(".part") }, "\(folder): \(names)")
        }
        // Every command went over TLS on both channels (vsftpd would refuse otherwise), and never in plain.
        #expect(ftp.log.contains("PROT P") && ftp.log.contains("OK UPLOAD"))
    }

    @Test func plainFTPIsAConfigurationErrorUntilAllowed() throws {
        let (_, config) = try CLI.starter(edits: [("url: file://.voxbatch/exchange", """
            url: ftp://wh@127.0.0.1:2121/exchange
              password_env: WH_FTP_PASSWORD
            """)])
        let refused = try CLI.run(["config", "check", "--config", config])
        #expect(refused.status == 2)
        #expect((refused.stdout + refused.stderr).contains("allow_plaintext"))
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        yml = yml.replacingOccurrences(of: "  password_env: WH_FTP_PASSWORD", with: "  password_env: WH_FTP_PASSWORD\n  allow_plaintext: true")
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
        let allowed = try CLI.run(["config", "check", "--config", config], environment: ["WH_FTP_PASSWORD": "x"])
        #expect(!(allowed.stdout + allowed.stderr).contains("allow_plaintext"), "\(allowed.stdout)\(allowed.stderr)")
    }
}

extension TransportCommandTests {
    @Test func checkOverFTPSVerifiesTheCertificateAndRefusesAnotherIssuer() throws {
        let ftp = try FTPServerFixture()
        try ftp.makeFolders(["in", "out"])
        let env = ["WH_FTP_PASSWORD": FTPServerFixture.password]
        let ok = try CLI.run(["transport", "check", ftp.url, "--password-env", "WH_FTP_PASSWORD", "--ca-file", ftp.certificate,
                              "--json"], environment: env)
        #expect(ok.status == 0, "\(ok.stdout)")
        let report = try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any]
        #expect((report?["tls"] as? String)?.contains("certificate verified") == true)
        #expect((report?["folders"] as? [[String: Any]])?.map { $0["exists"] as? Bool } == [true, true, false, false])
        let wrong = try CLI.run(["transport", "check", ftp.url, "--password-env", "WH_FTP_PASSWORD", "--ca-file",
                                 ftp.otherCertificate], environment: env)
        #expect(wrong.status == 2)
        #expect(wrong.stdout.contains("FAILED (certificate-rejected)"))
        let plain = try CLI.run(["transport", "check", ftp.url.replacingOccurrences(of: "ftps://", with: "ftp://"),
                                 "--password-env", "WH_FTP_PASSWORD"], environment: env)
        #expect(plain.status == 2)
        #expect(plain.stdout.contains("allow_plaintext"))
    }
}
