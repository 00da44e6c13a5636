import ArgumentParser
import BatchJobs
import Foundation

/// Options every command that reads the configuration shares.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The configuration file (default: $VOXBATCH_CONFIG or ./voxbatch.yml).")
    var config: String?

    init() {}

    init(config: String?) {
        self.config = config
    }

    var path: String {
        config ?? ProcessInfo.processInfo.environment["VOXBATCH_CONFIG"] ?? "voxbatch.yml"
    }

    func load() throws -> Configuration {
        do {
            return try Configuration.load(path: path)
        } catch let error as ConfigError {
            printError("voxbatch: \(error)")
            throw Exit.usage
        }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the configuration file.",
        subcommands: [ConfigCheckCommand.self]
    )
}

struct ConfigCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration and print every problem with its YAML path.",
        discussion: "Exit codes: 0 valid, 2 problems found or the file cannot be read."
    )

    @OptionGroup var config: ConfigOption

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        do {
            let c = try Configuration.load(path: config.path)
            if json {
                print(#"{"file": "\#(config.path)", "valid": true, "problems": []}"#)
            } else {
                print("\(config.path): valid")
                print("  client: \(c.client)")
                print("  warehouse: \(c.warehouse.transport.location.description)")
                print("  storefront: \(c.storefront.kind)")
                if let master = c.inventoryMaster { print("  inventory master: \(master.kind) (\(master.tenant), warehouse location \(master.warehouseLocation))") }
                print("  state: \(c.stateDirectory)")
            }
        } catch let error as ConfigError {
            if json {
                let problems = error.problems.map { ["path": $0.path, "line": String($0.line), "message": $0.message] }
                let data = try JSONSerialization.data(withJSONObject: ["file": config.path, "valid": false,
                                                                       "problems": problems],
                                                      options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                printError("\(error)")
            }
            throw Exit.usage
        }
    }
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented starter configuration that works on the embedded default.",
        discussion: """
            Creates voxbatch.yml (or --config PATH) with a local exchange folder and the plain-file \
            storefront under .voxbatch/, and creates those folders. An existing file is never overwritten.
            """
    )

    @OptionGroup var config: ConfigOption

    @Option(help: "The client's name.")
    var client = "my-shop"

    func run() throws {
        let path = config.path
        guard !FileManager.default.fileExists(atPath: path) else {
            printError("voxbatch: \(path) already exists; not overwriting it")
            throw Exit.usage
        }
        try StarterConfiguration.text(client: client).write(toFile: path, atomically: true, encoding: .utf8)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        for folder in StarterConfiguration.folders {
            try FileManager.default.createDirectory(at: base.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        print("wrote \(path); check it with: voxbatch config check --config \(path)")
    }
}
