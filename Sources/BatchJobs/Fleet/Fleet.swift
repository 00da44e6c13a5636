import CSVKit
import Foundation

/// Many clients from one install: a fleet file lists their configuration files (or folders of them) and
/// how many run at once.
///
/// ```yaml
/// clients:                  # configuration files, or folders holding them (each *.yml directly in the
///   - clients/              #   folder, and each */voxbatch.yml one level down)
///   - /etc/voxbatch/acme.yml
/// concurrency: 4            # clients running at the same time (default: the number of cores)
/// job_timeout: 900          # seconds a client's command may take before it is stopped (default 1800)
/// ```
///
/// Each client runs in its own process, so one client's failure, hang or bad configuration never stops
/// the others; a client that outlives `job_timeout` is stopped (SIGTERM, then SIGKILL) and reported.
public struct Fleet: Sendable, Hashable {
    /// The fleet file.
    public var path: String
    /// Every client's configuration file, absolute, in a stable order.
    public var clients: [String]
    public var concurrency: Int
    public var jobTimeout: Double

    /// Reads a fleet file; relative paths are relative to its folder.
    ///
    /// - Throws: ``ConfigError`` with every problem and its YAML path.
    public static func load(path: String) throws -> Fleet {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(path: path, problems: [YAMLProblem(path: "", line: 0, message: "cannot read the file")])
        }
        let doc: StrictYAML
        do {
            doc = try StrictYAML(text: text)
        } catch let problem as YAMLProblem {
            throw ConfigError(path: path, problems: [problem])
        }
        let base = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        var fleet = Fleet(path: path, clients: [], concurrency: max(1, ProcessInfo.processInfo.activeProcessorCount),
                          jobTimeout: 1800)
        guard let map = doc.root.mapping(allowed: ["clients", "concurrency", "job_timeout"]) else {
            throw ConfigError(path: path, problems: doc.problems)
        }
        if let v = map["concurrency"] {
            if let n = v.int, n >= 1 { fleet.concurrency = n } else { doc.report(v, "concurrency must be a whole number ≥ 1") }
        }
        if let v = map["job_timeout"] {
            if let n = v.double, n > 0 { fleet.jobTimeout = n } else { doc.report(v, "job_timeout must be a number of seconds > 0") }
        }
        var found: [String] = []
        if let list = map.required("clients")?.list {
            for entry in list {
                guard let text = entry.string else { continue }
                let full = text.hasPrefix("/") ? text : base + "/" + text
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else {
                    doc.report(entry, "\(full) does not exist")
                    continue
                }
                found += isDirectory.boolValue ? Self.configurations(in: full) : [full]
            }
            if found.isEmpty && doc.problems.isEmpty { doc.report(map["clients"], "no client configuration found") }
        }
        guard doc.problems.isEmpty else { throw ConfigError(path: path, problems: doc.problems) }
        var seen: Set<String> = []
        fleet.clients = found.map { URL(fileURLWithPath: $0).standardizedFileURL.path }.filter { seen.insert($0).inserted }
        return fleet
    }

    /// The configuration files in a folder: `*.yml` directly in it, and `*/voxbatch.yml` one level down.
    static func configurations(in folder: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        var found: [String] = []
        for name in names {
            let path = folder + "/" + name
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                if FileManager.default.fileExists(atPath: path + "/voxbatch.yml") { found.append(path + "/voxbatch.yml") }
            } else if name.hasSuffix(".yml") || name.hasSuffix(".yaml") {
                found.append(path)
            }
        }
        return found
    }

    /// What is wrong with the fleet as a whole, beyond each client's own configuration: two clients with the
    /// same name, the same state folder or the same schema of one state database would mix their manifests,
    /// locks and exceptions.
    public static func conflicts(_ loaded: [(path: String, configuration: Configuration)]) -> [String] {
        var problems: [String] = []
        for (what, key) in [("client name", { (c: Configuration) -> String? in c.client }),
                            ("state folder", { (c: Configuration) -> String? in c.stateDirectory }),
                            ("state database", { (c: Configuration) -> String? in c.stateDatabase?.displayURL })] {
            let keyed = loaded.compactMap { entry in key(entry.configuration).map { (value: $0, path: entry.path) } }
            let groups = Dictionary(grouping: keyed, by: \.value)
            for (value, members) in groups.sorted(by: { $0.key < $1.key }) where members.count > 1 {
                problems.append("\(members.map(\.path).joined(separator: " and ")) share the \(what) \(value)")
            }
        }
        return problems
    }
}
