import BatchJobs
import CSVKit
import FileTransport
import Foundation
import Glibc

// A child process for crash tests: runs the inbound pipeline once over a local exchange, applying
// despatches to a ledger file (the "storefront"), and kills itself with SIGKILL at a chosen point; or
// runs the outbound pipeline for a generated set of orders.
//
//   voxbatch-crash-harness EXCHANGE STATE_DIR LEDGER
//   voxbatch-crash-harness --outbound EXCHANGE STATE_DIR ORDERS
//   VOXBATCH_CRASH_AT_APPLY=N       SIGKILL right after the N-th effect, before its manifest commit
//   VOXBATCH_CRASH_AFTER_MS=N       SIGKILL after N milliseconds, wherever the run is
//   VOXBATCH_CRASH_STATE_URL=postgres://user@host:port/db   the manifest and job lock in PostgreSQL,
//   VOXBATCH_CRASH_STATE_SCHEMA=S, VOXBATCH_CRASH_STATE_PASSWORD_FILE=F   in schema S (else SQLite in STATE_DIR)

/// Applies despatch lines to an append-only ledger, idempotently: a line already in the ledger is not
/// written again (the storefront-side check that makes a crash between effect and record harmless).
final class LedgerFileFlow: InboundFlow {
    let name = "despatches"
    let template = PeoplevoxTemplates.despatches
    let filePattern = "DESP_*.csv"
    let ledger: String
    var present: Set<String>
    var effects = 0
    let crashAt: Int?

    init(ledger: String, crashAt: Int?) {
        self.ledger = ledger
        self.crashAt = crashAt
        let text = (try? String(contentsOfFile: ledger, encoding: .utf8)) ?? ""
        present = Set(text.split(separator: "\n").map(String.init))
    }

    func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> DespatchLine {
        DespatchLine.decoder(template: template, header: header)
    }

    func key(of record: DespatchLine) -> String { record.key }

    func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        records.map { record in
            let line = record.key + "=" + String(record.quantity)
            if present.contains(line) { return .applied }  // already in effect
            let fd = open(ledger, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            _ = (line + "\n").withCString { write(fd, $0, strlen($0)) }
            fsync(fd)
            close(fd)
            present.insert(line)
            effects += 1
            if let crashAt, effects == crashAt { kill(getpid(), SIGKILL) }
            return .applied
        }
    }
}

/// Orders WEB-1...WEB-N, two lines each, as a storefront would return them on every run.
struct GeneratedOrders: OutboundFlow {
    let name = "sales-orders"
    let template = CSVTemplate(name: "orders", columns: [ColumnRule("SalesOrderNumber", required: true),
                                                         ColumnRule("ItemCode", required: true),
                                                         ColumnRule("QuantityOrdered", .integer(min: 1))])
    let fileNamePattern = "SO_{timestamp}_{sequence}.csv"
    let count: Int

    func collect() throws -> [OutboundRecord] {
        (1...count).map { OutboundRecord(key: "WEB-\($0)", rows: [["WEB-\($0)", "SKU-A", "1"], ["WEB-\($0)", "SKU-B", "2"]]) }
    }
}

var args = CommandLine.arguments
let outbound = args.count > 1 && args[1] == "--outbound"
if outbound { args.remove(at: 1) }
guard args.count == 4 else {
    FileHandle.standardError.write(Data("usage: voxbatch-crash-harness EXCHANGE STATE_DIR LEDGER\n".utf8))
    exit(2)
}
let env = ProcessInfo.processInfo.environment
if let ms = env["VOXBATCH_CRASH_AFTER_MS"].flatMap(Int.init) {
    Thread.detachNewThread {
        usleep(UInt32(ms * 1000))
        kill(getpid(), SIGKILL)
    }
}
do {
    let transport = try LocalFolderTransport(root: args[1])
    // A process entry point, like the CLI's: it runs on the real time and hands it down.
    let clock: () -> Date = Date.init
    let location: StateLocation
    if let url = env["VOXBATCH_CRASH_STATE_URL"] {
        location = .postgres(try PostgresSettings(url: url, schema: env["VOXBATCH_CRASH_STATE_SCHEMA"] ?? "voxbatch",
                                                  password: env["VOXBATCH_CRASH_STATE_PASSWORD_FILE"].map { .file($0) },
                                                  caFile: nil))
    } else {
        location = .sqlite(path: args[2] + "/state.sqlite")
    }
    let manifest = try Manifest(location: location, clock: clock)
    let work = args[2] + "/work"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    if outbound {
        let lock = try JobLock(job: "export-sales-orders", location: location, stateDirectory: args[2])
        let pipeline = OutboundPipeline(transport: transport, manifest: manifest, inbox: "in", workDirectory: work,
                                        maxRecordsPerFile: 5, clock: clock)
        let summary = try pipeline.run(GeneratedOrders(count: Int(args[3]) ?? 10))
        _ = lock
        print("sent=\(summary.applied) files=\(summary.files.count)")
        exit(0)
    }
    let lock = try JobLock(job: "import-despatches", location: location, stateDirectory: args[2])
    var pipeline = InboundPipeline(transport: transport, manifest: manifest,
                                   folders: (outbox: "out", archive: "archive", error: "error"),
                                   pickup: Pickup(transport: transport, readiness: .stableListing(interval: 0)),
                                   workDirectory: work)
    pipeline.batchSize = 7
    let summary = try pipeline.run(LedgerFileFlow(ledger: args[3], crashAt: env["VOXBATCH_CRASH_AT_APPLY"].flatMap(Int.init)))
    _ = lock
    print("applied=\(summary.applied) skipped=\(summary.skipped) failed=\(summary.failed)")
} catch {
    FileHandle.standardError.write(Data("crash-harness: \(error)\n".utf8))
    exit(1)
}
