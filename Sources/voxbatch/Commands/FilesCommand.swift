import ArgumentParser
import BatchJobs
import CSVKit
import FileTransport
import Foundation

struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "Files sent and received, and what became of every row.",
        subcommands: [FilesListCommand.self, FilesShowCommand.self, FilesReprocessCommand.self]
    )
}

/// A manifest file entry as scripts see it.
struct FileJSON: Encodable {
    var name: String, flow: String, status: String, size: Int64, sha256: String, firstSeen: String
    var applied: Int, skipped: Int, failed: Int, errorReport: String?

    init(_ f: FileEntry) {
        name = f.name
        flow = f.flow
        status = f.status.rawValue
        size = f.size
        sha256 = f.sha256
        firstSeen = UTCTime.iso8601(Date(timeIntervalSince1970: Double(f.firstSeen)))
        applied = f.applied
        skipped = f.skipped
        failed = f.failed
        errorReport = f.errorReport
    }
}

struct FilesListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List recent files, newest first.")

    @OptionGroup var config: ConfigOption
    @Option(help: "Only this flow: sales-orders, items, cancellations, despatches, stock, returns, order-status.")
    var flow: String?
    @Option(help: "How many.") var limit = 50
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        let files = try runner.manifest.files(flow: flow, limit: limit)
        if json { return try JobExecution.printJSON(files.map(FileJSON.init)) }
        if files.isEmpty { print("no files yet") }
        for f in files.map(FileJSON.init) {
            print("\(f.firstSeen)  \(f.flow.padding(toLength: 13, withPad: " ", startingAt: 0)) "
                  + "\(f.name.padding(toLength: 36, withPad: " ", startingAt: 0)) \(f.status.padding(toLength: 18, withPad: " ", startingAt: 0)) "
                  + "\(f.applied) applied, \(f.skipped) skipped, \(f.failed) rejected")
        }
    }
}

struct FilesShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a file and every row's outcome: the records it applied or carried, and the rows it rejected with why."
    )

    @OptionGroup var config: ConfigOption
    @Argument(help: "The file's name.") var name: String
    @Flag(help: "Print as JSON.") var json = false

    struct Output: Encodable {
        var file: FileJSON
        var records: [String]
        var rejectedRows: [[String: String]]
    }

    func run() throws {
        let runner = try JobExecution.openRunner(try config.load())
        guard let entry = try runner.manifest.latestFile(name: name) else {
            printError("voxbatch: no file called \(name) in the manifest")
            throw Exit.usage
        }
        let records = try runner.manifest.recordKeys(fileID: entry.id)
        var rejected: [[String: String]] = []
        let report = runner.keptErrorReport(for: name)
        if entry.failed > 0, FileManager.default.fileExists(atPath: report) {
            let reader = try CSVReader(path: report)
            while try reader.next() {
                var row: [String: String] = [:]
                for (i, column) in (reader.header?.names ?? []).enumerated() where i < reader.fieldCount {
                    row[column] = reader.field(i)
                }
                rejected.append(row)
            }
        }
        let out = Output(file: FileJSON(entry), records: records, rejectedRows: rejected)
        if json { return try JobExecution.printJSON(out) }
        let f = out.file
        print("\(f.name) (\(f.flow)): \(f.status), first seen \(f.firstSeen), \(f.size) bytes, sha256 \(f.sha256.prefix(16))…")
        print("  \(f.applied) applied, \(f.skipped) skipped, \(f.failed) rejected")
        if let r = f.errorReport { print("  error report on the server: \(r)") }
        print("  records (\(records.count)):")
        for key in records.prefix(200) { print("    ✓ \(key)") }
        if records.count > 200 { print("    … and \(records.count - 200) more (use --json for all)") }
        if !rejected.isEmpty {
            print("  rejected rows:")
            for row in rejected {
                print("    ✗ row \(row["error_row"] ?? "?") (line \(row["error_line"] ?? "?")), \(row["error_column"] ?? ""): "
                      + "\(row["error_message"] ?? "")" + ((row["error_value"] ?? "").isEmpty ? "" : " — \"\(row["error_value"]!)\""))
            }
        }
    }
}

struct FilesReprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reprocess",
        abstract: "Process a received file again on purpose (still idempotent per record).",
        discussion: """
            Moves the file from the warehouse's archive/ (or error/) folder back to its outbox and runs its \
            import job. Records applied before with the same content are skipped; the rest are applied.
            """
    )

    @OptionGroup var config: ConfigOption
    @Argument(help: "The file's name.") var name: String
    @Flag(help: "Print the run summary as JSON.") var json = false

    func run() throws {
        let configuration = try config.load()
        let runner = try JobExecution.openRunner(configuration)
        guard let entry = try runner.manifest.latestFile(name: name) else {
            printError("voxbatch: no file called \(name) in the manifest")
            throw Exit.usage
        }
        let jobs: [String: JobName] = ["despatches": .importDespatches, "stock": .importStock, "returns": .importReturns,
                                       "order-status": .importOrderStatus]
        guard let job = jobs[entry.flow] else {
            printError("voxbatch: \(name) is a file voxbatch sent (\(entry.flow)); only received files are reprocessed")
            throw Exit.usage
        }
        let w = configuration.warehouse
        do {
            let transport = try configuration.warehouse.transport.makeTransport()
            defer { transport.close() }
            let source = try [w.archive, w.error].first { try transport.stat($0 + "/" + name) != nil }
            guard let source else {
                printError("voxbatch: \(name) is in neither \(w.archive)/ nor \(w.error)/ on the warehouse server")
                throw Exit.usage
            }
            try runner.manifest.allowReprocessing(flow: entry.flow, sha256: entry.sha256)
            try transport.rename(source + "/" + name, to: w.outbox + "/" + name, overwrite: false)
        } catch let error as TransportError {
            printError("voxbatch: \(error)")
            throw Exit.unavailable
        }
        let result: JobResult
        do {
            result = try runner.run(job)
        } catch {
            let (code, message) = JobExecution.classify(error)
            printError("voxbatch: \(job.rawValue): \(message)")
            throw code
        }
        if json { try JobExecution.printJSON(result) } else { JobExecution.printHuman(result) }
        if result.needsAttention { throw Exit.rejected }
    }
}
