import ArgumentParser
import BatchJobs
import Foundation
import Logging

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a day of a generated shop against the warehouse simulator, end to end, on the embedded default.",
        discussion: """
            Sets up a local exchange folder, a plain-file storefront with a few hundred products and a few \
            thousand orders (some with SKUs the warehouse does not know, bad or missing postcodes, one \
            exported twice, some cancelled), runs every job and the warehouse simulator in the order a day \
            would, and prints what moved and what needs a person. Nothing outside --folder is touched.
            """
    )

    @Option(help: "Where to put the demo (default: a new temporary folder).")
    var folder: String?

    @Option(help: "How many orders the shop takes.")
    var orders = 2_000

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(help: "Show every job's log lines.")
    var verbose = false

    func run() throws {
        let path = folder ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("voxbatch-demo-\(ProcessInfo.processInfo.processIdentifier)").path
        if FileManager.default.fileExists(atPath: path + "/state") {
            printError("voxbatch: \(path) already holds a demo; choose another --folder")
            throw Exit.usage
        }
        var demo = Demo(folder: path)
        demo.shop.orders = orders
        var logger = Logger(label: "voxbatch.demo")
        logger.logLevel = verbose ? .info : .warning
        demo.logger = logger
        let report = try demo.run(now: CommandClock.now()) { line in if !json { print(line) } }
        if json {
            try JobExecution.printJSON(report)
            return
        }
        print("")
        print("voxbatch demo — \(report.ordersInShop) orders, \(report.products) products, "
              + String(format: "%.1f s", report.seconds))
        print("  orders sent to the warehouse   \(report.ordersSent) in \(report.salesOrderFiles) sales-order files"
              + (report.duplicateOrderSentOnce ? " (the order exported twice went once)" : ""))
        print("  orders despatched              \(report.ordersDespatched) in \(report.packages) packages; "
              + "\(report.ordersPartlyDespatched) in more than one; \(report.ordersCompleted) complete")
        print("  stock updates applied          \(report.stockUpdatesApplied) from \(report.stockFiles) stock files "
              + "(only changes are pushed)")
        print("  return lines refunded          \(report.returnLinesRefunded); \(report.returnLinesWaiting) waiting "
              + "for a final state")
        print("  cancellations                  \(report.cancellationsWithheld) withheld before sending, "
              + "\(report.cancellationsRequested) requested, \(report.cancellationsTooLate) too late (picking)")
        print("  open exceptions by kind:")
        for (kind, e) in report.exceptions.sorted(by: { $0.key < $1.key }) {
            print("    \(kind) (\(e.count), \(e.owner)): \(e.example)")
        }
        print("")
        print("Everything is in \(path): exchange/ (the warehouse side), shop/ (the storefront's files), state/")
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        print("Look around:  \(exe) status --config \(path)/voxbatch.yml")
        print("              \(exe) order WEB-200002 --config \(path)/voxbatch.yml")
        print("              \(exe) report --html \(path)/report.html --config \(path)/voxbatch.yml")
    }
}

struct SimulateWarehouseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate-warehouse",
        abstract: "Act as the Peoplevox side of a local exchange folder (for demos and rehearsing a rollout).",
        discussion: """
            Takes item, sales-order and cancellation files from EXCHANGE/in (refusing orders with unknown \
            item codes, as Peoplevox does), moves orders through picking to despatch (some in two packages), \
            and writes order-status, despatch, stock and returns files to EXCHANGE/out. State is kept in \
            EXCHANGE/.simulator, so repeated runs continue where the last stopped.
            """
    )

    @Option(help: "The exchange folder (with in/ and out/).")
    var exchange: String

    @Option(help: "Leave orders younger than this many seconds alone.")
    var delay: Double = 0

    @Option(help: "How many steps to run.")
    var steps = 1

    @Option(help: "Seconds between steps (with --steps > 1).")
    var interval: Double = 10

    @Option(help: "Seed for the simulator's choices (the same seed gives the same day).")
    var seed: UInt64 = 42

    @Flag(help: "Print each step's report as JSON.")
    var json = false

    func run() throws {
        var settings = WarehouseSimulator.Settings()
        settings.delay = delay
        settings.seed = seed
        let simulator = try WarehouseSimulator(exchange: exchange, settings: settings)
        for step in 1...max(1, steps) {
            let report = try simulator.step(now: CommandClock.now())
            if json {
                try JobExecution.printJSON(report)
            } else {
                print("step \(step): \(report.itemsImported) items, \(report.ordersAccepted) orders accepted, "
                      + "\(report.ordersRefused.count) refused, \(report.cancelled) cancelled, "
                      + "\(report.packagesDespatched) packages despatched, \(report.returnLines) return lines; wrote "
                      + (report.filesWritten.isEmpty ? "nothing" : report.filesWritten.joined(separator: ", ")))
            }
            if step < steps { Thread.sleep(forTimeInterval: interval) }
        }
    }
}
