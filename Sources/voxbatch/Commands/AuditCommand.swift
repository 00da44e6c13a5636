import ArgumentParser
import BatchJobs
import Foundation

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Compare the storefront with the warehouse.",
        subcommands: [AuditSKUsCommand.self]
    )
}

struct AuditSKUsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skus",
        abstract: "List SKUs on one side only: in the storefront but unknown to the warehouse, and the reverse.",
        discussion: """
            The warehouse side is what its stock files reported (import-stock). Exit codes: 0 both sides \
            match, 1 SKUs on one side only, 2 configuration problem.
            """
    )

    @OptionGroup var config: ConfigOption

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let configuration = try config.load()
        let runner = try JobExecution.openRunner(configuration)
        let audit = try SKUAudit.run(storefront: runner.storefront, manifest: runner.manifest,
                                     skus: configuration.mappings.skus)
        if json {
            try JobExecution.printJSON(audit)
        } else {
            print("SKUs in both: \(audit.matched)")
            print("In the storefront only (\(audit.storefrontOnly.count)): orders for these would be refused")
            for sku in audit.storefrontOnly { print("  \(sku)") }
            print("In the warehouse only (\(audit.warehouseOnly.count)): stock the storefront cannot sell")
            for sku in audit.warehouseOnly { print("  \(sku)") }
        }
        if !audit.storefrontOnly.isEmpty || !audit.warehouseOnly.isEmpty { throw Exit.rejected }
    }
}
