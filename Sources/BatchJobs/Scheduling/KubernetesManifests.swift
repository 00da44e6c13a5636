import FileTransport
import Foundation

/// A client's schedule as Kubernetes objects: its configuration as a ConfigMap and, per schedule entry, a
/// `batch/v1` CronJob running `voxbatch run JOB` in the image, with the client's keys, known_hosts and API
/// secrets mounted from a Secret the operator creates (its expected keys are listed; values never appear)
/// and the state on a PersistentVolumeClaim — or, with the state in PostgreSQL, nothing shared on disk.
///
/// Kubernetes runs the schedule, so nothing of voxbatch's own scheduler is involved: `concurrencyPolicy:
/// Forbid` keeps a run from overlapping itself (voxbatch's job lock does too), `startingDeadlineSeconds`
/// skips a run missed by more than that, `activeDeadlineSeconds` stops a hung run (SIGTERM first: the job
/// finishes its current file), and `backoffLimit: 0` leaves retries to the next scheduled run, since a job
/// already retries transient failures itself and every run is idempotent.
public struct KubernetesManifests {
    public var client: String
    /// The configuration file's text, as the ConfigMap carries it.
    public var configurationText: String
    public var configuration: Configuration
    public var schedule: Schedule
    public var image: String
    public var namespace: String
    /// Seconds a run may take before Kubernetes stops it.
    public var activeDeadlineSeconds = 3600
    /// Seconds late a run may still start.
    public var startingDeadlineSeconds = 300

    /// Where things are mounted in the container.
    public static let configDirectory = "/etc/voxbatch"
    public static let secretsDirectory = "/etc/voxbatch/secrets"
    public static let stateRoot = "/var/lib/voxbatch"

    public init(client: String, configurationText: String, configuration: Configuration, schedule: Schedule, image: String,
                namespace: String) {
        self.client = client
        self.configurationText = configurationText
        self.configuration = configuration
        self.schedule = schedule
        self.image = image
        self.namespace = namespace
    }

    /// A DNS-1123 name (lower-case letters, digits, `-`; at most `limit` characters), as object names must be.
    static func dnsName(_ text: String, limit: Int) -> String {
        var name = String(text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
        while name.contains("--") { name = name.replacingOccurrences(of: "--", with: "-") }
        name = String(name.trimmingCharacters(in: CharacterSet(charactersIn: "-")).prefix(limit))
        return name.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    var base: String { "voxbatch-" + Self.dnsName(client, limit: 30) }
    public var secretName: String { base + "-secrets" }

    /// The files the configuration reads secrets from, by the name they must have in the Secret.
    public var secretFiles: [String] {
        var paths: [String] = []
        let t = configuration.warehouse.transport
        if case .sftp = t.location {
            if let key = t.identityFile { paths.append(key) }
            paths.append(t.knownHostsPath)
        }
        if case .ftp = t.location {
            // The CA file is not secret, but it travels with the client's keys: one mount.
            paths += [t.caFile, t.clientCertificate, t.clientKey].compactMap { $0 }
        }
        if let pgp = configuration.warehouse.pgp { paths += pgp.keyFiles }
        if let ca = configuration.stateDatabase?.caFile { paths.append(ca) }
        for source in secretSources {
            if case .file(let p)? = source { paths.append(p) }
        }
        return paths
    }

    /// Where the configuration reads each secret value from.
    private var secretSources: [SecretSource?] {
        let t = configuration.warehouse.transport
        return [t.passphrase, t.password, configuration.storefront.key, configuration.storefront.secret,
                configuration.alerts.webhookURL, configuration.warehouse.pgp?.passphrase, configuration.stateDatabase?.password]
    }

    /// With the state in PostgreSQL the jobs share nothing on disk: the state folder holds only a run's
    /// scratch files, so it is the pod's own `emptyDir` and any job can run on any node.
    public var sharesStateOnDisk: Bool { configuration.stateDatabase == nil }

    /// Problems that would make the objects fail in a cluster, to fix in the configuration first.
    public var problems: [String] {
        var found: [String] = []
        if !configuration.stateDirectory.hasPrefix(Self.stateRoot + "/") {
            found.append("state is \(configuration.stateDirectory): in the cluster it must be under \(Self.stateRoot)/ "
                         + "(e.g. state: \(Self.stateRoot)/\(Self.dnsName(client, limit: 40))), the volume the jobs share")
        }
        for path in secretFiles where !path.hasPrefix(Self.secretsDirectory + "/") {
            found.append("\(path) must be under \(Self.secretsDirectory)/ (it is mounted from the Secret \(secretName))")
        }
        for case .environment(let name)? in secretSources {
            found.append("the secret in $\(name) is not set in the CronJobs' pods: use the _file form with a file under "
                         + "\(Self.secretsDirectory)/ (mounted from the Secret \(secretName))")
        }
        if let database = configuration.stateDatabase, database.isLoopback {
            found.append("state.database is \(database.displayURL): on loopback, which in a pod is the pod itself; "
                         + "use the database service's name")
        }
        return found
    }

    /// Every object, as one multi-document YAML stream.
    public func yaml() -> String {
        var docs: [String] = []
        docs.append("""
            # voxbatch for client \(client): create the Secret \(secretName) in namespace \(namespace) with these keys
            # (values never appear here): \(secretFiles.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", "))
            # e.g. kubectl -n \(namespace) create secret generic \(secretName) \(secretFiles.map { "--from-file=\(URL(fileURLWithPath: $0).lastPathComponent)=LOCAL-FILE" }.joined(separator: " "))
            \(problems.map { "# WARNING: " + $0 }.joined(separator: "\n"))
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: \(base)-config
              namespace: \(namespace)
              labels: {app.kubernetes.io/name: voxbatch, voxbatch/client: \(quote(client))}
            data:
              voxbatch.yml: |
            \(configurationText.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"))
            """)
        for entry in schedule.entries {
            let name = base + "-" + Self.dnsName(entry.name, limit: 20)
            let args = (entry.arguments + ["--config", Self.configDirectory + "/voxbatch.yml"]).map(quote).joined(separator: ", ")
            docs.append("""
                # \(entry.job.summary)\(entry.jitter > 0 ? " (jitter \(entry.jitter) s is not applied: CronJobs have none)" : "")
                apiVersion: batch/v1
                kind: CronJob
                metadata:
                  name: \(name)
                  namespace: \(namespace)
                  labels: {app.kubernetes.io/name: voxbatch, voxbatch/client: \(quote(client)), voxbatch/job: \(entry.name)}
                spec:
                  schedule: \(quote(entry.cron.fields.joined(separator: " ")))
                  timeZone: \(schedule.timeZone.identifier)
                  concurrencyPolicy: Forbid
                  startingDeadlineSeconds: \(startingDeadlineSeconds)
                  successfulJobsHistoryLimit: 3
                  failedJobsHistoryLimit: 5
                  jobTemplate:
                    spec:
                      backoffLimit: 0
                      activeDeadlineSeconds: \(activeDeadlineSeconds)
                      template:
                        metadata:
                          labels: {app.kubernetes.io/name: voxbatch, voxbatch/client: \(quote(client)), voxbatch/job: \(entry.name)}
                        spec:
                          restartPolicy: Never
                          terminationGracePeriodSeconds: 300
                          securityContext: {runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001}
                          containers:
                            - name: voxbatch
                              image: \(quote(image))
                              args: [\(args)]
                              env:
                                - {name: VOXBATCH_LOG_LEVEL, value: info}
                              volumeMounts:
                                - {name: config, mountPath: \(Self.configDirectory)/voxbatch.yml, subPath: voxbatch.yml, readOnly: true}
                                - {name: secrets, mountPath: \(Self.secretsDirectory), readOnly: true}
                                - {name: state, mountPath: \(Self.stateRoot)}
                          volumes:
                            - name: config
                              configMap: {name: \(base)-config}
                            - name: secrets
                              secret: {secretName: \(secretName), defaultMode: 256}  # 0400: voxbatch refuses secret files others can read
                            - name: state
                              \(sharesStateOnDisk ? "persistentVolumeClaim: {claimName: voxbatch-state}"
                                  : "emptyDir: {}  # the manifest and job locks are in PostgreSQL: scratch space only")
                """)
        }
        return docs.joined(separator: "\n---\n") + "\n"
    }

    private func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
