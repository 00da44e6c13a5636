import ArgumentParser
import BatchJobs
import Foundation

struct OrderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order",
        abstract: "The whole life of one order across both systems — the \"where is my order?\" answer.",
        discussion: """
            What the storefront has (status, lines, despatched and refunded quantities), the warehouse's latest \
            state, the file it was sent in, every package with its tracking number, returns, cancellations, and \
            every exception about it. Exit 1 when the order has open exceptions, 2 when it is unknown.
            """
    )

    @OptionGroup var config: ConfigOption
    @Argument(help: "The order number (as the warehouse sees it).") var number: String
    @Flag(help: "Print as JSON.") var json = false

    struct Output: Encodable {
        var number: String
        var storefront: Storefront?
        var warehouseState: String?
        var sentIn: String?
        var history: [Event]
        var exceptions: [ExceptionJSON]

        struct Storefront: Encodable {
            var id: String, status: String, createdAt: String, email: String, shipTo: String
            var lines: [Line]
        }
        struct Line: Encodable { var sku: String, ordered: Int, despatched: Int, refunded: Int }
        struct Event: Encodable { var at: String, kind: String, detail: String, file: String? }
    }

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        let order = try runner.storefront.order(number: number)
        let events = try runner.manifest.orderEvents(number)
        let exceptions = try runner.manifest.exceptions(openOnly: false).filter { $0.reference == number }
        guard order != nil || !events.isEmpty || !exceptions.isEmpty else {
            printError("voxbatch: no order \(number) in the storefront or the manifest")
            throw Exit.usage
        }
        let out = Output(
            number: number,
            storefront: order.map { o in
                .init(id: o.id, status: o.status, createdAt: o.createdAt, email: o.email,
                      shipTo: [o.shipping.name, o.shipping.line1, o.shipping.city, o.shipping.postcode, o.shipping.country]
                        .filter { !$0.isEmpty }.joined(separator: ", "),
                      lines: o.lines.map { .init(sku: $0.sku, ordered: $0.quantity, despatched: $0.fulfilled, refunded: $0.refunded) })
            },
            warehouseState: try runner.manifest.orderState(number),
            sentIn: try order.flatMap { try runner.manifest.fileName(flow: ExportOrdersFlow.flowName, recordKey: $0.id) },
            history: events.map { .init(at: UTCTime.iso8601(Date(timeIntervalSince1970: Double($0.at))), kind: $0.kind,
                                        detail: $0.detail, file: $0.file) },
            exceptions: exceptions.map(ExceptionJSON.init))
        if json {
            try JobExecution.printJSON(out)
        } else {
            print("order \(number)")
            if let s = out.storefront {
                print("  storefront:  \(s.status) (id \(s.id), created \(s.createdAt), \(s.email))")
                print("  ship to:     \(s.shipTo)")
                for l in s.lines { print("    \(l.sku): ordered \(l.ordered), despatched \(l.despatched), refunded \(l.refunded)") }
            } else {
                print("  storefront:  not found")
            }
            print("  warehouse:   \(out.warehouseState ?? "no state reported yet")")
            print("  sent in:     \(out.sentIn ?? "not sent")")
            print("  history:")
            if out.history.isEmpty { print("    (nothing yet)") }
            for e in out.history { print("    \(e.at)  \(e.kind): \(e.detail)") }
            if !out.exceptions.isEmpty {
                print("  exceptions:")
                for e in out.exceptions { print("    #\(e.id) [\(e.kind), \(e.owner), \(e.status)] \(e.message)") }
            }
        }
        if out.exceptions.contains(where: { $0.status == "open" }) { throw Exit.rejected }
    }
}
