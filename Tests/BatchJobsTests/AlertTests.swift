@testable import BatchJobs
import FileTransport
import Foundation
import TestSupport
import Testing

@Suite struct AlertTests {
    @Test(arguments: Epoch.allCases)
    func anIncidentIsAlertedOnceAndItsRecoveryFollows(epoch: Epoch) throws {
        let server = try HTTPServerFixture { _ in .init(status: 200) }
        let secrets = try secretFiles([("webhook", server.baseURL + "/hooks/T000/B000/XXXX")], prefix: "voxbatch-alert")
        let urlFile = secrets.appendingPathComponent("webhook").path
        let commandOut = secrets.appendingPathComponent("command.jsonl").path
        let f = try FlowFixture(epoch: epoch, extra: """
            alerts:
              webhook_url_file: \(urlFile)
              format: slack
              command: cat >> \(commandOut); echo >> \(commandOut)
              exception_kinds: [unknown-sku]
            """)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-7", lines: [("NEW-1", 1)])])
        try f.run(.exportOrders)

        let runner = try f.runner()
        let alerter = Alerter(configuration: f.configuration, manifest: runner.manifest)
        let first = try alerter.evaluate(runner.health())
        #expect(first.map(\.incident) == ["exceptions:unknown-sku"])
        let posted = try #require(server.requests.first)
        #expect(posted.path == "/hooks/T000/B000/XXXX")
        let text = try #require((posted.json as? [String: String])?["text"])
        #expect(text.contains("voxbatch test-shop: 1 open unknown-sku exception"))
        #expect(text.contains("• WEB-7: order WEB-7 was not sent"))

        // The same state again: no second alert.
        #expect(try alerter.evaluate(runner.health()).isEmpty)
        #expect(server.requests.count == 1)

        // The SKU reaches the warehouse, the order goes out, the exception closes: a recovery follows.
        try f.products(["TSH-M", "NEW-1"])
        try f.stockFile("STOCK_1.csv", [("NEW-1", 3)])
        try f.run(.importStock)
        f.now += 60
        try f.run(.exportOrders)
        let recovered = try alerter.evaluate(try f.runner().health())
        #expect(recovered.map(\.state) == ["recovered"])
        #expect(server.requests.count == 2)
        #expect((server.requests[1].json as? [String: String])?["text"]?.hasPrefix("✅ voxbatch test-shop: resolved:") == true)

        // The command got both, as JSON lines.
        let lines = try String(contentsOfFile: commandOut, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let opened = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(opened?["state"] as? String == "opened" && opened?["count"] as? Int == 1)
    }

    @Test(arguments: Epoch.allCases)
    func aJobFailingRunsInARowIsAnIncidentInTeamsFormat(epoch: Epoch) throws {
        let f = try FlowFixture(epoch: epoch, extra: """
            alerts:
              format: teams
              after_consecutive_failures: 2
            """)
        let manifest = try f.manifest()
        for _ in 0..<2 {
            let id = try manifest.startRun(job: "import-stock")
            try manifest.finishRun(id, outcome: "failed", applied: 0, skipped: 0, failed: 0, error: "connection refused")
        }
        let alerter = Alerter(configuration: f.configuration, manifest: manifest)
        let incidents = alerter.incidents(in: try f.runner().health())
        let alert = try #require(incidents["job-failing:import-stock"])
        #expect(alert.title == "import-stock has failed 2 runs in a row" && alert.examples == ["connection refused"])
        let card = try JSONSerialization.jsonObject(with: try alerter.payload(alert)) as? [String: Any]
        #expect(card?["@type"] as? String == "MessageCard")
        #expect((card?["text"] as? String)?.contains("import-stock has failed 2 runs in a row") == true)
    }
}

extension AlertTests {
    @Test func aPGPKeyExpiringWithinThirtyDaysOrUnusableIsAnIncident() throws {
        let f = try FlowFixture(epoch: Epoch.allCases[0])
        let alerter = Alerter(configuration: f.configuration, manifest: try f.manifest())
        var report = HealthReport(client: "acme", checkedAt: "2026-12-04T08:00:00Z", healthy: true)
        report.pgpKeys = [
            PGPKeyStatus(role: "encrypt-to", reference: "AAAA", fingerprint: "AAAA", userID: nil, expires: nil, state: "ok", detail: ""),
            PGPKeyStatus(role: "verify-with", reference: "BBBB", fingerprint: "BBBB", userID: nil, expires: 1_797_000_000,
                         state: "expires-soon", detail: "the key expires at 2026-12-11, in 7 day(s)"),
            PGPKeyStatus(role: "sign-with", reference: "CCCC", fingerprint: nil, userID: nil, expires: nil, state: "missing",
                         detail: "no secret key CCCC"),
        ]
        let incidents = alerter.incidents(in: report)
        #expect(incidents["pgp-key-expiring"]?.examples == ["BBBB (verify-with): the key expires at 2026-12-11, in 7 day(s)"])
        #expect(incidents["pgp-key-unusable"]?.examples == ["CCCC (sign-with): missing, no secret key CCCC"])
        report.pgpKeys = [report.pgpKeys![0]]
        #expect(alerter.incidents(in: report).keys.filter { $0.hasPrefix("pgp-") }.isEmpty)
    }
}
