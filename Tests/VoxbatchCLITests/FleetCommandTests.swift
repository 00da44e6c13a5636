import Foundation
import TestSupport
import Testing

/// Many clients from one install: a folder of client configurations run, watched and reported as a fleet.
@Suite struct FleetCommandTests {
    /// A fleet folder: clients `a` and `b` (starters), `c` with a configuration that cannot be used, and a
    /// fleet file over the `clients/` folder.
    func fleet(concurrency: Int = 2, timeout: Double = 60, extra: (URL) throws -> Void = { _ in }) throws -> (root: URL, fleet: String) {
        let root = try CLI.temporaryDirectory()
        let clients = root.appendingPathComponent("clients")
        for name in ["a", "b"] {
            let (_, config) = try CLI.starter(in: clients.appendingPathComponent(name))
            let yml = try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(of: "client: ", with: "client: shop-\(name) # ")
            try yml.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: clients.appendingPathComponent("c"), withIntermediateDirectories: true)
        try "client: shop-c\nwarehouse: {url: \"file:///nowhere\"}\n"
            .write(to: clients.appendingPathComponent("c/voxbatch.yml"), atomically: true, encoding: .utf8)
        try extra(clients)
        let fleet = root.appendingPathComponent("fleet.yml").path
        try "clients:\n  - clients/\nconcurrency: \(concurrency)\njob_timeout: \(timeout)\n"
            .write(toFile: fleet, atomically: true, encoding: .utf8)
        return (root, fleet)
    }

    func outcomes(_ r: CLI.Result) throws -> [String: [String: Any]] {
        let list = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r.stdout)")
        return Dictionary(uniqueKeysWithValues: list.map { ($0["client"] as? String ?? "", $0) })
    }

    @Test func everyClientRunsAndABadConfigurationStopsNoneOfTheOthers() throws {
        let (root, fleet) = try fleet()
        let r = try CLI.run(["fleet", "run", "all", "--fleet", fleet, "--json"])
        #expect(r.status == 2, "\(r.stderr)")  // the worst: c's configuration
        let by = try outcomes(r)
        #expect(by.keys.sorted() == ["shop-a", "shop-b", "shop-c"])
        #expect(by["shop-a"]?["exitCode"] as? Int == 0 && by["shop-b"]?["exitCode"] as? Int == 0)
        #expect(by["shop-c"]?["exitCode"] as? Int == 2)
        #expect((by["shop-c"]?["error"] as? String)?.contains("storefront") == true)
        #expect(((by["shop-a"]?["result"] as? [[String: Any]])?.count ?? 0) >= 8)  // every job's summary
        for name in ["a", "b"] {
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("clients/\(name)/.voxbatch/manifest.sqlite").path))
        }
    }

    @Test func aClientThatHangsIsStoppedAtItsTimeAndTheOthersFinish() throws {
        let slow = try HTTPServerFixture { _ in HTTPServerFixture.Response.json([]).delayed(60) }
        let woo = try WooCommerceFixture()
        defer { slow.stop() }
        let (_, fleet) = try fleet(concurrency: 3, timeout: 3) { clients in
            let (config, _) = try CLI.wooStarter(woo, secret: "cs_test", in: clients.appendingPathComponent("d"))
            var yml = try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(of: woo.server.baseURL, with: slow.baseURL)
            yml = yml.replacingOccurrences(of: "client: ", with: "client: shop-d # ")
            try yml.write(toFile: config, atomically: true, encoding: .utf8)
        }
        let stopwatch = ContinuousClock.now
        let r = try CLI.run(["fleet", "run", "export-orders", "--fleet", fleet, "--json"])
        let elapsed = ContinuousClock.now - stopwatch
        let by = try outcomes(r)
        #expect(by["shop-d"]?["timedOut"] as? Bool == true && by["shop-d"]?["exitCode"] as? Int == 3)
        #expect((by["shop-d"]?["error"] as? String)?.contains("job_timeout") == true)
        #expect(by["shop-a"]?["exitCode"] as? Int == 0 && by["shop-b"]?["exitCode"] as? Int == 0)
        #expect(elapsed < .seconds(30))  // d's 60 s wait was cut at its 3 s limit (plus the stop's grace)
    }

    @Test func aStopRequestReachesEveryRunningClient() throws {
        let slow = try HTTPServerFixture { _ in HTTPServerFixture.Response.json([]).delayed(60) }
        let woo = try WooCommerceFixture()
        defer { slow.stop() }
        let (root, fleet) = try fleet(concurrency: 4, timeout: 120) { clients in
            let (config, _) = try CLI.wooStarter(woo, secret: "cs_test", in: clients.appendingPathComponent("d"))
            let yml = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: woo.server.baseURL, with: slow.baseURL)
            try yml.replacingOccurrences(of: "client: ", with: "client: shop-d # ").write(toFile: config, atomically: true, encoding: .utf8)
        }
        let log = root.appendingPathComponent("fleet.log").path
        let child = try ChildProcess([CLI.binary.path, "fleet", "run", "export-orders", "--fleet", fleet], outputPath: log)
        usleep(1_500_000)  // every client has started; d waits on its shop
        let stopwatch = ContinuousClock.now
        kill(child.pid, SIGTERM)
        let status = child.wait()
        #expect(ContinuousClock.now - stopwatch < .seconds(30))  // not d's 60 s, nor the 120 s limit
        #expect(status == 3)
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(output.contains("shop-d") && !output.contains("job_timeout"), "\(output)")
    }

    @Test func statusGivesOneLinePerClientAndTheWorstExitCode() throws {
        let (_, fleet) = try fleet()
        #expect(try CLI.run(["fleet", "run", "all", "--fleet", fleet]).status == 2)
        let text = try CLI.run(["fleet", "status", "--fleet", fleet])
        #expect(text.status == 2)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.contains { $0.hasPrefix("shop-a") && $0.contains("HEALTHY") })
        #expect(lines.contains { $0.hasPrefix("shop-c") && $0.contains("CONFIGURATION ERROR") })
        let json = try outcomes(try CLI.run(["fleet", "status", "--fleet", fleet, "--json"]))
        #expect((json["shop-b"]?["result"] as? [String: Any])?["healthy"] as? Bool == true)
    }

    @Test func theFleetReportShowsTheClientsThatNeedAttentionFirstAndLinksTheirReports() throws {
        let (root, fleet) = try fleet()
        _ = try CLI.run(["fleet", "run", "all", "--fleet", fleet])
        let page = root.appendingPathComponent("fleet.html")
        let r = try CLI.run(["fleet", "report", "--fleet", fleet, "--html", page.path])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("voxbatch fleet — 3 clients") && html.contains("1 need attention"))
        let c = try #require(html.range(of: "shop-c")), a = try #require(html.range(of: "shop-a"))
        #expect(c.lowerBound < a.lowerBound)  // the misconfigured client comes first
        #expect(html.contains("href=\"fleet-clients/a-voxbatch.html\""))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("fleet-clients/a-voxbatch.html").path))
        #expect(!html.contains("<script"))
    }

    @Test func configCheckFindsBadConfigurationsAndClientsSharingAStateFolder() throws {
        let (root, fleet) = try fleet { clients in
            // A second configuration in a's folder with a's state folder: the two would mix their manifests.
            let a = try String(contentsOf: clients.appendingPathComponent("a/voxbatch.yml"), encoding: .utf8)
            try a.replacingOccurrences(of: "client: shop-a", with: "client: shop-a2")
                .write(to: clients.appendingPathComponent("a2.yml"), atomically: true, encoding: .utf8)
        }
        // a2.yml sits in clients/, so its relative state folder differs; point it at a's explicitly.
        let a2 = root.appendingPathComponent("clients/a2.yml")
        var yml = try String(contentsOf: a2, encoding: .utf8)
        yml = yml.replacingOccurrences(of: "\nstate: ", with: "\nstate: a/") 
        try yml.write(to: a2, atomically: true, encoding: .utf8)
        let r = try CLI.run(["fleet", "config", "check", "--fleet", fleet, "--json"])
        #expect(r.status == 2)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let clients = try #require(result["clients"] as? [[String: Any]])
        #expect(clients.count == 4)
        #expect(clients.first { ($0["config"] as? String)?.hasSuffix("c/voxbatch.yml") == true }.map { !(($0["problems"] as? [String]) ?? []).isEmpty } == true)
        let conflicts = try #require(result["conflicts"] as? [String])
        #expect(conflicts.count == 1 && conflicts[0].contains("share the state folder"), "\(conflicts)")
        #expect(try CLI.run(["fleet", "config", "check", "--fleet", root.appendingPathComponent("nope.yml").path]).status == 2)
    }

    @Test func metricsAreWrittenAfterEveryRunAndTheFleetShowsThemAll() throws {
        let (root, fleet) = try fleet { clients in
            let config = clients.appendingPathComponent("a/voxbatch.yml")
            try (try String(contentsOf: config, encoding: .utf8) + "\nmetrics_file: metrics.prom\n")
                .write(to: config, atomically: true, encoding: .utf8)
        }
        _ = try CLI.run(["fleet", "run", "all", "--fleet", fleet])
        let written = try String(contentsOfFile: root.appendingPathComponent("clients/a/metrics.prom").path, encoding: .utf8)
        #expect(written.contains("voxbatch_healthy{client=\"shop-a\"} 1\n"))
        #expect(written.contains("voxbatch_job_last_run_ok{client=\"shop-a\",job=\"export-orders\"} 1\n"))
        let r = try CLI.run(["fleet", "status", "--fleet", fleet, "--prometheus"])
        #expect(r.status == 2)
        #expect(r.stdout.contains("voxbatch_healthy{client=\"shop-b\"} 1\n"))
        #expect(r.stdout.contains("voxbatch_fleet_client_exit_code{client=\"shop-c\",state=\"configuration-error\"} 2\n"))
        #expect(r.stdout.contains("voxbatch_fleet_client_exit_code{client=\"shop-a\",state=\"healthy\"} 0\n"))
    }
}
