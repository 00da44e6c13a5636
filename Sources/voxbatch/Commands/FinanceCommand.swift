import ArgumentParser
import BatchJobs
import CSVKit
import Foundation

struct FinanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finance",
        abstract: "A day's money by currency: value sent to the warehouse, despatched, cancelled, refunded, and the orders whose despatched value differs from what was charged.",
        discussion: """
            Values are quantities at the order line's price as the storefront charged it, recorded by the jobs \
            as they act (export-orders, import-despatches, export-cancellations, import-returns). A difference is \
            an order despatched for more than was charged less what was cancelled, or one the warehouse reports \
            despatched with less. Days are UTC days of the jobs' clock. Exit codes: 0 no differences; 1 \
            differences to look at; 2 configuration.
            """
    )

    @OptionGroup var config: ConfigOption

    @Option(help: "The day, YYYY-MM-DD (default: today, UTC, by the command's clock).")
    var day: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: "Also write the report as CSV to this file (for a spreadsheet; formula-guarded).")
    var csv: String?

    func validate() throws {
        if let day, DateFormat("yyyy-MM-dd").parse(day) == nil || day.utf8.count != 10 {  // a real day, zero-padded
            throw ValidationError("--day must be YYYY-MM-DD, not \"\(day)\"")
        }
    }

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        let day = self.day ?? FinanceCommand.utcDay(CommandClock.now())
        let report = try FinanceReport.build(manifest: runner.manifest, day: day)
        if let csv { try Data(try report.csv()).write(to: URL(fileURLWithPath: csv)) }
        if json {
            try JobExecution.printJSON(report)
        } else {
            print("finance for \(day)")
            if report.currencies.isEmpty { print("  nothing sent, despatched, cancelled or refunded that day") }
            print("currency  orders        sent  despatched   cancelled    refunded")
            for t in report.currencies {
                print((t.currency.isEmpty ? "-" : t.currency).padding(toLength: 8, withPad: " ", startingAt: 0)
                      + String(format: " %7d", t.ordersSent)
                      + [t.sentCents, t.despatchedCents, t.cancelledCents, t.refundedCents]
                          .map { " " + String(repeating: " ", count: max(0, 11 - FinanceReport.amount($0).count)) + FinanceReport.amount($0) }
                          .joined())
            }
            print("orders whose despatched value differs from what was charged: \(report.differences.count)")
            for d in report.differences {
                print("  \(d.orderNumber) (\(d.currency.isEmpty ? "-" : d.currency)): charged \(FinanceReport.amount(d.chargedCents)), "
                      + "cancelled \(FinanceReport.amount(d.cancelledCents)), despatched \(FinanceReport.amount(d.despatchedCents)), "
                      + "difference \(FinanceReport.amount(d.differenceCents))" + (d.warehouseState.map { "; warehouse: \($0)" } ?? ""))
            }
        }
        if !report.differences.isEmpty { throw Exit.rejected }
    }

    static func utcDay(_ date: Date) -> String {
        UTCTime.day(date)
    }
}
