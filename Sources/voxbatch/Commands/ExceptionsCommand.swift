import ArgumentParser
import BatchJobs
import Foundation

extension OwnerTeam: ExpressibleByArgument {}

struct ExceptionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exceptions",
        abstract: "The exception queue: problems a person must act on.",
        subcommands: [ExceptionsListCommand.self, ExceptionsShowCommand.self, ExceptionsResolveCommand.self,
                      ExceptionsRetryCommand.self]
    )
}

/// An exception as scripts see it.
struct ExceptionJSON: Encodable {
    var id: Int64, kind: String, reference: String, message: String, owner: String, status: String
    var firstSeen: String, lastSeen: String, occurrences: Int, resolutionNote: String?

    init(_ e: ExceptionEntry) {
        id = e.id
        kind = e.kind
        reference = e.reference
        message = e.message
        owner = e.owner.rawValue
        status = e.status
        firstSeen = UTCTime.iso8601(Date(timeIntervalSince1970: Double(e.firstSeen)))
        lastSeen = UTCTime.iso8601(Date(timeIntervalSince1970: Double(e.lastSeen)))
        occurrences = e.occurrences
        resolutionNote = e.resolutionNote
    }
}

struct ExceptionsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List exceptions (open ones by default).")

    @OptionGroup var config: ConfigOption
    @Option(help: "Only this kind (unknown-sku, invalid-address, rejected-rows...).") var kind: String?
    @Option(help: "Only this owner team: ops, merchandising, customer-service, technical.") var owner: OwnerTeam?
    @Flag(help: "Include resolved exceptions.") var all = false
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        let list = try runner.manifest.exceptions(kind: kind, owner: owner, openOnly: !all)
        if json { return try JobExecution.printJSON(list.map(ExceptionJSON.init)) }
        if list.isEmpty { print("no \(all ? "" : "open ")exceptions") }
        for e in list {
            print("#\(e.id) [\(e.kind), \(e.owner.rawValue)\(e.occurrences > 1 ? ", seen \(e.occurrences)x" : "")"
                  + "\(e.status == "open" ? "" : ", \(e.status)")] \(e.reference): \(e.message)")
        }
    }
}

struct ExceptionsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one exception.")

    @OptionGroup var config: ConfigOption
    @Argument(help: "The exception's id.") var id: Int64
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        guard let e = try runner.manifest.exception(id: id) else {
            printError("voxbatch: no exception #\(id)")
            throw Exit.usage
        }
        let out = ExceptionJSON(e)
        if json { return try JobExecution.printJSON(out) }
        print("exception #\(out.id): \(out.kind) (\(out.status))")
        print("  reference:   \(out.reference)")
        print("  owner:       \(out.owner)")
        print("  message:     \(out.message)")
        print("  first seen:  \(out.firstSeen)")
        print("  last seen:   \(out.lastSeen) (\(out.occurrences) occurrence\(out.occurrences == 1 ? "" : "s"))")
        if let note = out.resolutionNote { print("  resolution:  \(note)") }
        if let job = ExceptionRetry.job(for: e.kind) { print("  retry with:  voxbatch exceptions retry \(out.id)  (runs \(job.rawValue))") }
    }
}

struct ExceptionsResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resolve", abstract: "Close an exception with a note.")

    @OptionGroup var config: ConfigOption
    @Argument(help: "The exception's id.") var id: Int64
    @Option(help: "What was done.") var note: String

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        guard try runner.manifest.exception(id: id) != nil else {
            printError("voxbatch: no exception #\(id)")
            throw Exit.usage
        }
        try runner.manifest.resolve(exception: id, note: note)
        print("exception #\(id) resolved")
    }
}

/// Which job re-runs what an exception's kind is about.
enum ExceptionRetry {
    static func job(for kind: String) -> JobName? {
        switch kind {
        case "unknown-sku", "invalid-address", "invalid-quantity", "invalid-sales-orders", "not-sent", "missing-sku", "missing-field":
            .exportOrders
        case "invalid-items": .exportItems
        case "invalid-cancellations": .exportCancellations
        case "unknown-sku-stock", "stock-difference": .importStock
        case "unknown-order", "despatch-mismatch", "despatch-not-applied": .importDespatches
        case "return-mismatch", "return-not-applied": .importReturns
        default: nil
        }
    }
}

struct ExceptionsRetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Re-run what failed (e.g. re-send an order after its SKU was fixed); still idempotent.",
        discussion: """
            Runs the job the exception belongs to (export-orders for an order that was held back, import-stock \
            --full for stock, ...). For rejected rows or files, fix the file and re-drop it, or use \
            `voxbatch files reprocess NAME`. The exception closes by itself when the retry succeeds.
            """
    )

    @OptionGroup var config: ConfigOption
    @Argument(help: "The exception's id.") var id: Int64
    @Flag(help: "Print the run summary as JSON.") var json = false

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        guard let e = try runner.manifest.exception(id: id) else {
            printError("voxbatch: no exception #\(id)")
            throw Exit.usage
        }
        guard let job = ExceptionRetry.job(for: e.kind) else {
            printError("voxbatch: a \(e.kind) exception is not retried by a job: "
                       + (e.kind.hasPrefix("rejected") ? "fix the file and re-drop it, or run `voxbatch files reprocess \(e.reference)`"
                          : "act on it, then `voxbatch exceptions resolve \(id) --note ...`"))
            throw Exit.usage
        }
        StopRequest.installSignalHandlers()
        let result: JobResult
        do {
            result = try runner.run(job, options: JobOptions(full: job == .importStock))
        } catch {
            let (code, message) = JobExecution.classify(error)
            printError("voxbatch: \(job.rawValue): \(message)")
            throw code
        }
        let after = try runner.manifest.exception(id: id)
        if json { return try JobExecution.printJSON(result) }
        JobExecution.printHuman(result)
        if after?.status == "open" {
            print("exception #\(id) is still open: \(after?.message ?? "")")
            throw Exit.rejected
        }
        print("exception #\(id) is resolved\(after?.resolutionNote.map { ": \($0)" } ?? "")")
    }
}
