@testable import BatchJobs
import Foundation
import Testing
import Yams

/// The Kubernetes objects `schedule print --format kubernetes` writes, checked against the fields the API
/// requires for these kinds (no cluster here: structure, not deployment).
@Suite struct KubernetesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let clusterConfiguration = """
        client: Acme Outdoor
        warehouse:
          url: sftp://acme@sftp.3pl.example.com:22/acme
          identity: /etc/voxbatch/secrets/id_ed25519
          known_hosts: /etc/voxbatch/secrets/known_hosts
        storefront:
          type: woocommerce
          url: https://shop.acme.example.com
          key_file: /etc/voxbatch/secrets/woo-key
          secret_file: /etc/voxbatch/secrets/woo-secret
        state: /var/lib/voxbatch/acme
        """

    func manifests(_ text: String) throws -> KubernetesManifests {
        let configuration = try Configuration.parse(yaml: text, baseDirectory: "/etc/voxbatch")
        let schedule = try Schedule.load(path: Self.root.appendingPathComponent("schedules/standard.yml").path)
        return KubernetesManifests(client: configuration.client, configurationText: text, configuration: configuration,
                                   schedule: schedule, image: "registry.example.com/voxbatch:0.1.0", namespace: "integrations")
    }

    @Test func aConfigMapAndOneCronJobPerEntryWithTheRequiredFields() throws {
        let m = try manifests(Self.clusterConfiguration)
        #expect(m.problems.isEmpty, "\(m.problems)")
        let docs = try Yams.load_all(yaml: m.yaml()).compactMap { $0 as? [String: Any] }
        #expect(docs.count == 1 + m.schedule.entries.count)
        #expect(!docs.contains { $0["kind"] as? String == "Secret" })  // secrets are referenced, never written

        let config = try #require(docs.first { $0["kind"] as? String == "ConfigMap" })
        #expect(config["apiVersion"] as? String == "v1")
        #expect((config["data"] as? [String: String])?["voxbatch.yml"] == Self.clusterConfiguration + "\n")

        let dns = #/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/#
        var names: Set<String> = []
        for job in docs.filter({ $0["kind"] as? String == "CronJob" }) {
            #expect(job["apiVersion"] as? String == "batch/v1")
            let meta = try #require(job["metadata"] as? [String: Any])
            let name = try #require(meta["name"] as? String)
            #expect(name.wholeMatch(of: dns) != nil && name.count <= 52, "\(name)")  // CronJob names: DNS-1123, 52 chars
            #expect(names.insert(name).inserted)
            #expect(meta["namespace"] as? String == "integrations")
            let spec = try #require(job["spec"] as? [String: Any])
            let cron = try #require(spec["schedule"] as? String)
            #expect(cron.split(separator: " ").count == 5)
            #expect(spec["timeZone"] as? String == "Europe/London" && spec["concurrencyPolicy"] as? String == "Forbid")
            #expect(spec["startingDeadlineSeconds"] as? Int == 300)
            let jobSpec = try #require((spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])
            #expect(jobSpec["backoffLimit"] as? Int == 0 && jobSpec["activeDeadlineSeconds"] as? Int == 3600)
            let pod = try #require((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any])
            #expect(["Never", "OnFailure"].contains(pod["restartPolicy"] as? String))
            let container = try #require((pod["containers"] as? [[String: Any]])?.first)
            #expect(container["name"] as? String == "voxbatch" && container["image"] as? String == "registry.example.com/voxbatch:0.1.0")
            let args = try #require(container["args"] as? [String])
            #expect(args.first == "run" && args.suffix(2) == ["--config", "/etc/voxbatch/voxbatch.yml"])
            let volumes = try #require(pod["volumes"] as? [[String: Any]])
            let mounts = try #require(container["volumeMounts"] as? [[String: Any]])
            #expect(Set(mounts.compactMap { $0["name"] as? String }) == Set(volumes.compactMap { $0["name"] as? String }))
            let secret = try #require(volumes.compactMap { $0["secret"] as? [String: Any] }.first)
            #expect(secret["secretName"] as? String == m.secretName && secret["defaultMode"] as? Int == 0o400)
        }
        #expect(names.contains("voxbatch-acme-outdoor-import-stock-full"))
        // The Secret's keys are listed for the operator, by file name.
        #expect(m.yaml().contains("id_ed25519, known_hosts, woo-key, woo-secret"))
    }

    @Test func aConfigurationThatCannotWorkInTheClusterIsSaidSo() throws {
        let local = Self.clusterConfiguration.replacingOccurrences(of: "state: /var/lib/voxbatch/acme", with: "state: .voxbatch")
            .replacingOccurrences(of: "/etc/voxbatch/secrets/woo-key", with: "/home/ops/woo-key")
        let m = try manifests(local)
        #expect(m.problems.count == 2)
        #expect(m.problems[0].contains("must be under /var/lib/voxbatch/"))
        #expect(m.problems[1].contains("/home/ops/woo-key must be under /etc/voxbatch/secrets/"))
        #expect(m.yaml().contains("# WARNING: "))
    }

    @Test func withStateInPostgreSQLNothingIsSharedOnDiskAndThePasswordComesFromTheSecret() throws {
        let pg = Self.clusterConfiguration.replacingOccurrences(of: "state: /var/lib/voxbatch/acme", with: """
            state:
              path: /var/lib/voxbatch/acme
              database: postgres://voxbatch@pg.integrations.svc:5432/voxbatch
              password_file: /etc/voxbatch/secrets/pg-password
              ca_file: /etc/voxbatch/secrets/pg-ca.crt
            """)
        let m = try manifests(pg)
        #expect(m.problems.isEmpty, "\(m.problems)")
        let keys = try #require(m.yaml().split(separator: "\n").first { $0.hasPrefix("# (values never appear here): ") })
        #expect(keys.contains("pg-password") && keys.contains("pg-ca.crt"), "the Secret's keys: \(keys)")
        #expect(m.secretFiles.contains("/etc/voxbatch/secrets/pg-password") && m.secretFiles.contains("/etc/voxbatch/secrets/pg-ca.crt"))
        let docs = try Yams.load_all(yaml: m.yaml()).compactMap { $0 as? [String: Any] }
        for job in docs.filter({ $0["kind"] as? String == "CronJob" }) {
            let spec = try #require(job["spec"] as? [String: Any])
            let jobSpec = try #require((spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])
            let pod = try #require((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any])
            let state = try #require((pod["volumes"] as? [[String: Any]])?.first { $0["name"] as? String == "state" })
            #expect(state["emptyDir"] != nil && state["persistentVolumeClaim"] == nil)
        }

        let fromEnvironment = pg.replacingOccurrences(of: "password_file: /etc/voxbatch/secrets/pg-password",
                                                      with: "password_env: VOXBATCH_PG_PASSWORD")
            .replacingOccurrences(of: "pg.integrations.svc", with: "127.0.0.1")
        let problems = try manifests(fromEnvironment).problems
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.contains { $0.contains("$VOXBATCH_PG_PASSWORD is not set in the CronJobs' pods") })
        #expect(problems.contains { $0.contains("on loopback") })
    }

    @Test func theDockerfileBuildsInOneStageAndRunsInASlimOneAsTheCronJobsUser() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let stages = text.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2 && stages[0].contains(" AS build"))
        #expect(text.contains("swift build -c release --product voxbatch"))
        for package in ["libssh2-1", "libcurl4", "libgpgme11", "gnupg", "libsqlite3-0"] { #expect(text.contains(package), "\(package)") }
        #expect(text.contains("COPY --from=build"))
        #expect(text.contains("USER 10001"))  // the CronJobs' runAsUser
        #expect(text.contains("ENTRYPOINT [\"/usr/local/bin/voxbatch\"]"))
    }
}
