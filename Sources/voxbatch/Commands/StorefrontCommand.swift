import ArgumentParser
import BatchJobs
import Foundation

struct StorefrontCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storefront",
        abstract: "Test the connection to the storefront.",
        subcommands: [StorefrontCheckCommand.self]
    )
}

struct StorefrontCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Authenticate, read one page of ready orders and one of products, and say what was found (and the inventory master's transfers, when the client has one).",
        discussion: """
            Nothing is written to the storefront. The first problem met is printed: a wrong URL, refused \
            credentials (named by where they come from, never by their value), a missing permission, an \
            answer that is not the storefront's API.

            Exit codes: 0 reached and read, 2 configuration or permanent error (bad credentials, missing \
            permission, wrong URL), 3 storefront unavailable (connection refused, timeout, 5xx after retries).
            """
    )

    @OptionGroup var config: ConfigOption

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let configuration = try config.load()
        let found: StorefrontCheck
        do {
            let storefront = try JobRunner.makeStorefront(configuration, clock: CommandClock.now)
            found = try storefront.check(readyStatuses: configuration.storefront.readyStatuses)
        } catch {
            let (code, message) = JobExecution.classify(error)
            if json {
                try JobExecution.printJSON(["ok": "false", "storefront": configuration.storefront.kind, "error": message])
            }
            printError("voxbatch: storefront check failed: \(message)")
            throw code
        }
        if json {
            try JobExecution.printJSON(found)
            return
        }
        func count(_ page: Int, _ total: Int?) -> String { total.map { "\($0)" } ?? "\(page) on the first page" }
        print("\(found.storefront) storefront at \(found.location): reached")
        print("  ready orders (\(configuration.storefront.readyStatuses.joined(separator: ", "))): "
              + count(found.readyOrders, found.totalReadyOrders)
              + (found.exampleOrders.isEmpty ? "" : " — e.g. " + found.exampleOrders.joined(separator: ", ")))
        print("  products: " + count(found.products, found.totalProducts)
              + (found.exampleSKUs.isEmpty ? "" : " — e.g. " + found.exampleSKUs.joined(separator: ", ")))
        for note in found.notes { print("  note: \(note)") }
        if configuration.inventoryMaster != nil { try checkInventoryMaster(configuration) }
    }

    /// The inventory master (WAIR): a token, one page of transfers; nothing written.
    private func checkInventoryMaster(_ configuration: Configuration) throws {
        do {
            let runner = try JobExecution.openRunner(configuration)
            guard let transfers = runner.transfers else { return }
            let found = try transfers.check(readyStatuses: [])
            print("\(found.storefront) inventory master at \(found.location): reached")
            print("  open transfers from the warehouse: \(found.readyOrders) on the first page"
                  + (found.exampleOrders.isEmpty ? "" : " — e.g. " + found.exampleOrders.joined(separator: ", ")))
            for note in found.notes { print("  note: \(note)") }
        } catch {
            let (code, message) = JobExecution.classify(error)
            printError("voxbatch: inventory master check failed: \(message)")
            throw code
        }
    }
}
