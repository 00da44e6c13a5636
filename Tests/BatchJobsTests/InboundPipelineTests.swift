@testable import BatchJobs
import CSVKit
import FileTransport
import Foundation
import TestSupport
import Testing

/// A despatch flow whose "storefront" is a ledger in memory: enough to observe exactly what the
/// pipeline applies, and how often.
final class LedgerFlow: InboundFlow {
    let name = "despatches"
    let template = PeoplevoxTemplates.despatches
    let filePattern = "DESP_*.csv"
    var applies: [String] = []
    var unknownOrders: Set<String> = []

    func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> DespatchLine {
        DespatchLine.decoder(template: template, header: header)
    }

    func key(of record: DespatchLine) -> String { record.key }

    func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        records.map { record in
            if unknownOrders.contains(record.orderNumber) {
                return .exception(kind: "unknown-order", reference: record.orderNumber,
                                  message: "order \(record.orderNumber) is not in the shop", owner: .customerService)
            }
            if !dryRun { applies.append(record.key + "=" + String(record.quantity)) }
            return .applied
        }
    }
}

/// A flow whose groups are packages (order + despatch number), told by their group keys (the protocol's
/// `sameGroup`); it notes the keys of each batch it applies.
class PackageKeyFlow: InboundFlow {
    let name = "despatches"
    let template = PeoplevoxTemplates.despatches
    let filePattern = "DESP_*.csv"
    var batches: [[String]] = []
    /// The flow's own limit on a batch's records.
    var perBatch = 10_000
    var recordsPerBatch: Int { perBatch }

    func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> DespatchLine {
        DespatchLine.decoder(template: template, header: header)
    }

    func key(of record: DespatchLine) -> String { record.key }
    func groupKey(of record: DespatchLine) -> String { record.orderNumber + "/" + record.despatchNumber }

    func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        batches.append(records.map(\.key))
        return records.map { _ in .applied }
    }
}

/// The same, telling a package by its fields (as the despatch flow does).
final class PackageFlow: InboundFlow {
    let base = PackageKeyFlow()
    let name = "despatches"
    let template = PeoplevoxTemplates.despatches
    let filePattern = "DESP_*.csv"
    var batches: [[String]] { base.batches }

    func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> DespatchLine {
        base.decoder(for: file, header: header)
    }
    func key(of record: DespatchLine) -> String { record.key }
    func groupKey(of record: DespatchLine) -> String { base.groupKey(of: record) }
    func sameGroup(_ a: DespatchLine, _ b: DespatchLine) -> Bool {
        a.orderNumber == b.orderNumber && a.despatchNumber == b.despatchNumber
    }
    func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        try base.apply(records, previous: previous, dryRun: dryRun)
    }
}

/// A flow keyed by order alone (fingerprint: the quantity), each line its own group: one key in many batches.
final class OrderKeyedFlow: InboundFlow {
    let name = "despatches"
    let template = PeoplevoxTemplates.despatches
    let filePattern = "DESP_*.csv"
    var seen: [String] = []

    func decoder(for file: InboundFile, header: CSVHeader) -> (CSVReader) -> DespatchLine {
        DespatchLine.decoder(template: template, header: header)
    }

    func key(of record: DespatchLine) -> String { record.orderNumber }
    func fingerprint(of record: DespatchLine) -> String? { String(record.quantity) }
    func groupKey(of record: DespatchLine) -> String { record.key }

    func apply(_ records: [DespatchLine], previous: [String?], dryRun: Bool) throws -> [ApplyOutcome] {
        for (record, previous) in zip(records, previous) { seen.append("\(previous ?? "nil")→\(record.quantity)") }
        return records.map { _ in .applied }
    }
}

let despatchHeader = "Salesorder number,Despatch number,Carrier,Service,Despatch date,Tracking number,Item code,No of items\r\n"

func despatchRow(_ order: String, _ package: String, _ sku: String, _ qty: String) -> String {
    "\(order),\(package),DPD,Classic,25/11/2026 14:31,1550\(package.suffix(4)),\(sku),\(qty)\r\n"
}

@Suite struct InboundPipelineTests {
    let root: String
    let transport: LocalFolderTransport
    let manifest: Manifest
    let flow = LedgerFlow()
    let pipeline: InboundPipeline

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-inbound-\(UUID().uuidString)").path
        for folder in ["exchange/out", "exchange/archive", "exchange/error", "work"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        transport = try LocalFolderTransport(root: root + "/exchange")
        manifest = try Manifest(path: root + "/state.sqlite", clock: { Epoch.fixtureDay.start })
        pipeline = InboundPipeline(transport: transport, manifest: manifest,
                                   folders: (outbox: "out", archive: "archive", error: "error"),
                                   pickup: Pickup(transport: transport, readiness: .stableListing(interval: 0)),
                                   workDirectory: root + "/work")
    }

    func drop(_ name: String, _ rows: [String]) throws {
        try (despatchHeader + rows.joined()).write(toFile: root + "/exchange/out/" + name, atomically: true, encoding: .utf8)
    }

    @Test func aRepeatedLineIsReportedWhetherKeysAreRememberedOrFoundByAFirstPass() throws {
        for threshold in [Int.max, 0] {  // remembered as the rows go by; found by a first pass (a large file)
            var pipeline = pipeline
            pipeline.duplicateScanThreshold = threshold
            let name = "DESP_\(threshold == 0 ? "scan" : "kept").csv", order = threshold == 0 ? "WEB-2" : "WEB-1"
            try drop(name, [despatchRow(order, "DSP-0001", "SKU-A", "2"), despatchRow(order, "DSP-0001", "SKU-B", "1"),
                            despatchRow(order, "DSP-0001", "SKU-A", "3")])
            flow.applies.removeAll()
            let summary = try pipeline.run(flow)
            #expect(flow.applies == ["\(order)/DSP-0001/SKU-A=2", "\(order)/DSP-0001/SKU-B=1"])
            #expect(summary.files.map(\.outcome) == ["partially-applied"])
            let report = try String(contentsOfFile: root + "/exchange/error/" + InboundPipeline.errorReportName(name),
                                    encoding: .utf8)
            #expect(report.contains("3,4,Salesorder number + Despatch number + Item code,\(order) / DSP-0001 / SKU-A,unique,"))
            #expect(report.contains("already appears in record 1"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/work").isEmpty)  // no key files left
        }
    }

    @Test func goodRowsAreAppliedBadRowsReportedAndTheFileArchived() throws {
        try drop("DESP_1.csv", [despatchRow("WEB-1", "DSP-0001", "SKU-A", "2"), despatchRow("WEB-1", "DSP-0001", "SKU-B", "0"),
                                despatchRow("WEB-2", "DSP-0002", "SKU-C", "1")])
        let summary = try pipeline.run(flow)
        #expect(flow.applies == ["WEB-1/DSP-0001/SKU-A=2", "WEB-2/DSP-0002/SKU-C=1"])
        #expect(summary.files.map(\.outcome) == ["partially-applied"])
        #expect(summary.failed == 1)
        #expect(FileManager.default.fileExists(atPath: root + "/exchange/archive/DESP_1.csv"))
        let report = try String(contentsOfFile: root + "/exchange/error/DESP_1.errors.csv", encoding: .utf8)
        #expect(report.contains("2,3,No of items,0,integer,must be at least 1,WEB-1,DSP-0001"))
        let exceptions = try manifest.exceptions(kind: "rejected-rows")
        #expect(exceptions.count == 1 && exceptions[0].message.contains("re-drop"))
        #expect(try manifest.recentRuns().first?.outcome == "completed-with-exceptions")
    }

    @Test func aRunTwiceAndTheSameContentUnderAnotherNameApplyNothingAgain() throws {
        let rows = [despatchRow("WEB-1", "DSP-0001", "SKU-A", "2")]
        try drop("DESP_1.csv", rows)
        _ = try pipeline.run(flow)
        #expect(try pipeline.run(flow).files.isEmpty)  // nothing left in out/
        try drop("DESP_1 copy.csv", rows)
        let again = try pipeline.run(flow)
        #expect(again.files.map(\.outcome) == ["duplicate"])
        #expect(flow.applies.count == 1)
        #expect(try manifest.files(flow: "despatches").map(\.status) == [.duplicate, .applied])
    }

    @Test func aCorrectedFileReDroppedUnderTheSameNameAppliesOnlyTheChangedRows() throws {
        try drop("DESP_7.csv", [despatchRow("WEB-1", "DSP-0001", "SKU-A", "2"), despatchRow("WEB-1", "DSP-0001", "SKU-B", "zero")])
        _ = try pipeline.run(flow)
        #expect(flow.applies == ["WEB-1/DSP-0001/SKU-A=2"])
        try drop("DESP_7.csv", [despatchRow("WEB-1", "DSP-0001", "SKU-A", "2"), despatchRow("WEB-1", "DSP-0001", "SKU-B", "1")])
        let summary = try pipeline.run(flow)
        #expect(flow.applies == ["WEB-1/DSP-0001/SKU-A=2", "WEB-1/DSP-0001/SKU-B=1"])
        #expect(summary.files[0].skipped == 1 && summary.files[0].applied == 1 && summary.files[0].outcome == "applied")
        #expect(try manifest.files(flow: "despatches").map(\.status) == [.applied, .superseded])
    }

    /// A row's fingerprint is stored in manifests: it must stay what it was, SHA-256 over each field followed
    /// by 0x1F, first 16 bytes in hex, however the fields are fed to the hash (figures from Python's hashlib).
    @Test func aRowsFingerprintIsTheSameWhateverItsLength() throws {
        let rows: [([String], String)] = [
            (["WEB-1", "DSP-0001", "DPD", "Classic", "25/11/2026 14:31", "15500001", "SKU-A", "2"], "d5c7144b909d775434a109e043993986"),
            (["WEB-2", String(repeating: "N", count: 600), "x"], "b224218f8b3d89a762b32df5493c1349"),  // a field past the buffer
            ((0..<40).map { String(format: "f%02d-", $0) + String(repeating: "y", count: 16) }, "10f182adbce277992398a3ce60442549"),
            (["", "", "a", "", "é€"], "c4593e7faba5a9ba2a9d253f3f3b4601"),
            ([String(repeating: "z", count: 511)], "3f47d2ab66ded23d07864c414273513e"),  // the buffer exactly
            ([String(repeating: "z", count: 510), "q"], "3bf6cd4ad479aaf485cb4506d7f5958f"),
        ]
        for (n, (fields, expected)) in rows.enumerated() {  // a file each: the rows have different widths
            let path = root + "/row\(n).csv"
            try (fields.joined(separator: ",") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let reader = try CSVReader(path: path, configuration: CSVConfiguration(hasHeader: false))
            #expect(try reader.next())
            #expect(reader.fieldCount == fields.count)
            #expect(InboundPipeline.hash(reader) == expected, "\(fields.prefix(2))")
        }
    }

    /// Keys, ids and event details put together in one buffer read exactly as the same parts joined with `+`:
    /// empty parts, small strings (kept inline) and long ones, multi-byte text, every sign and size of number.
    @Test func textPutTogetherInOneBufferIsTheTextJoinedPartByPart() {
        let parts = ["", "a", "WEB-0000001", "DSP-00000000000001", "é€", String(repeating: "ß", count: 40), "15/11"]
        for a in parts {
            for b in parts {
                #expect(String.keyPath(a, b) == a + "/" + b)
                for c in parts { #expect(String.keyPath(a, b, c) == a + "/" + b + "/" + c) }
                #expect(String.keyPath(a, b, nil) == a + "/" + b)
            }
        }
        var buffer = TextBuffer(capacity: 4)  // grown past its first capacity
        for n in [0, 7, -7, 10, 1_234_567_890, Int.max, Int.min, -100] {
            buffer.removeAll()
            buffer.append("n=")
            buffer.append(n)
            buffer.append(" é")
            #expect(buffer.text == "n=" + String(n) + " é")
        }
        buffer.removeAll()
        for part in parts { buffer.append(part) }
        #expect(buffer.text == parts.joined())
        let numbers = [0, 7, -7, 10, 202_611_300_800, 1_234_567_890, Int.max, Int.min, -100]
        for a in numbers {
            for b in numbers { #expect(String.decimals(a, b) == "\(a)|\(b)") }
        }
    }

    /// The lines of one package are applied in one batch, however full the batch is when the package starts: told
    /// by the flow's `sameGroup`, or by comparing group keys where the flow leaves it at that.
    @Test(arguments: [true, false])
    func aPackageIsNeverSplitAcrossBatches(comparesFields: Bool) throws {
        var pipeline = pipeline
        pipeline.batchSize = 2
        try drop("DESP_9.csv", [despatchRow("WEB-1", "DSP-0001", "SKU-A", "1"), despatchRow("WEB-1", "DSP-0001", "SKU-B", "1"),
                                despatchRow("WEB-1", "DSP-0001", "SKU-C", "1"), despatchRow("WEB-2", "DSP-0002", "SKU-A", "1"),
                                despatchRow("WEB-3", "DSP-0003", "SKU-A", "1"), despatchRow("WEB-3", "DSP-0003", "SKU-B", "1")])
        let batches: [[String]]
        if comparesFields {
            let flow = PackageFlow()
            _ = try pipeline.run(flow)
            batches = flow.batches
        } else {
            let flow = PackageKeyFlow()
            _ = try pipeline.run(flow)
            batches = flow.batches
        }
        #expect(batches == [["WEB-1/DSP-0001/SKU-A", "WEB-1/DSP-0001/SKU-B", "WEB-1/DSP-0001/SKU-C"],
                                 ["WEB-2/DSP-0002/SKU-A", "WEB-3/DSP-0003/SKU-A", "WEB-3/DSP-0003/SKU-B"]])
    }

    /// A flow whose records weigh more asks for smaller batches than the pipeline's: the smaller of the two is used
    /// (and a package is still never split).
    @Test(arguments: [(10_000, 2), (2, 10_000)])
    func theSmallerOfThePipelinesAndTheFlowsBatchSizeIsUsed(pipelineSize: Int, flowSize: Int) throws {
        var pipeline = pipeline
        pipeline.batchSize = pipelineSize
        try drop("DESP_8.csv", [despatchRow("WEB-1", "DSP-0001", "SKU-A", "1"), despatchRow("WEB-2", "DSP-0002", "SKU-A", "1"),
                                despatchRow("WEB-3", "DSP-0003", "SKU-A", "1"), despatchRow("WEB-3", "DSP-0003", "SKU-B", "1"),
                                despatchRow("WEB-3", "DSP-0003", "SKU-C", "1"), despatchRow("WEB-4", "DSP-0004", "SKU-A", "1")])
        let flow = PackageKeyFlow()
        flow.perBatch = flowSize
        _ = try pipeline.run(flow)
        #expect(flow.batches.map(\.count) == [2, 3, 1])
    }

    /// Batches are committed on another thread while the next is applied: a key met again in a later batch is
    /// judged against the version the earlier batch put in effect, whether or not its commit has landed.
    @Test func aKeyInConsecutiveBatchesSeesTheVersionTheEarlierBatchApplied() throws {
        let flow = OrderKeyedFlow()
        var pipeline = pipeline
        pipeline.batchSize = 1
        try drop("DESP_3.csv", [despatchRow("WEB-1", "DSP-0001", "SKU-A", "1"), despatchRow("WEB-1", "DSP-0002", "SKU-A", "2"),
                                despatchRow("WEB-1", "DSP-0003", "SKU-A", "2"), despatchRow("WEB-1", "DSP-0004", "SKU-A", "3")])
        let summary = try pipeline.run(flow)
        #expect(flow.seen == ["nil→1", "1→2", "2→3"])  // the third row's version was in effect already: skipped
        #expect(summary.files[0].applied == 3 && summary.files[0].skipped == 1)
        #expect(try manifest.appliedHash(flow: "despatches", key: "WEB-1") == "3")
    }

    @Test func pendingBatchesStandInForTheManifestUntilCommitted() {
        let pending = PendingRecords()
        let first = pending.add([("A", "a1"), ("B", "b1"), ("A", "a2")])  // a key twice: its later version
        let second = pending.add([("B", "b2")])
        var known = ["A": "a0", "C": "c0"]
        let before = pending.waiting()
        before.overlay(&known, keys: ["A", "B", "C", "D"])
        #expect(known == ["A": "a2", "B": "b2", "C": "c0"])
        pending.remove(sequence: second)
        known = [:]
        pending.waiting().overlay(&known, keys: ["B"])
        #expect(known == ["B": "b1"])
        // Taken before the manifest was read, the batches stay in hand even if their commits land meanwhile.
        known = [:]
        before.overlay(&known, keys: ["B"])
        #expect(known == ["B": "b2"])
        pending.remove(sequence: first)
        known = ["B": "from-the-manifest"]
        pending.waiting().overlay(&known, keys: ["A", "B"])
        #expect(known == ["B": "from-the-manifest"])
    }

    @Test func aFileThatIsNotCSVIsRejectedWhole() throws {
        var bytes = Array("Salesorder number,\"Despatch".utf8)
        bytes += [0, 0, 0xFF, 0xFE, 0x0A]
        #expect(FileManager.default.createFile(atPath: root + "/exchange/out/DESP_bin.csv", contents: Data(bytes)))
        let summary = try pipeline.run(flow)
        #expect(summary.files.map(\.outcome) == ["rejected"])
        #expect(FileManager.default.fileExists(atPath: root + "/exchange/error/DESP_bin.csv"))
        #expect(try manifest.exceptions(kind: "rejected-file").count == 1)
        #expect(flow.applies.isEmpty)
    }

    @Test func recordsTheStorefrontCannotTakeBecomeExceptions() throws {
        flow.unknownOrders = ["WEB-404"]
        try drop("DESP_2.csv", [despatchRow("WEB-404", "DSP-0009", "SKU-A", "1"), despatchRow("WEB-3", "DSP-0003", "SKU-A", "1")])
        let summary = try pipeline.run(flow)
        #expect(summary.exceptions == 1 && summary.applied == 1)
        let open = try manifest.exceptions(owner: .customerService)
        #expect(open.map(\.reference) == ["WEB-404"])
    }

    @Test func dryRunChangesNothing() throws {
        try drop("DESP_1.csv", [despatchRow("WEB-1", "DSP-0001", "SKU-A", "2")])
        let summary = try pipeline.run(flow, dryRun: true)
        #expect(summary.dryRun && summary.applied == 1)
        #expect(flow.applies.isEmpty)
        #expect(FileManager.default.fileExists(atPath: root + "/exchange/out/DESP_1.csv"))
        #expect(try manifest.files().isEmpty && manifest.recentRuns().isEmpty)
    }
}

@Suite(.serialized) final class InboundOverSFTPTests {
    let server: SSHServerFixture

    init() throws {
        server = try SSHServerFixture()
        try server.makeFolders(["out", "archive", "error"])
    }

    private func makeTransport() -> SFTPTransport {
        SFTPTransport(settings: SFTPSettings(
            host: "127.0.0.1", port: server.port, user: server.user, baseDirectory: server.exchange,
            authentication: .privateKey(path: server.clientKey, passphrase: nil), knownHostsPath: server.knownHosts))
    }

    @Test func endToEndInboundRunOverARealSSHServer() throws {
        try (despatchHeader + despatchRow("WEB-1", "DSP-0001", "SKU-A", "2") + despatchRow("WEB-1", "DSP-0002", "SKU-B", "-1"))
            .write(toFile: server.exchange + "/out/DESP_9.csv", atomically: true, encoding: .utf8)
        let transport = makeTransport()
        defer { transport.close() }
        let work = server.directory.appendingPathComponent("work").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let flow = LedgerFlow()
        let pipeline = InboundPipeline(transport: transport, manifest: try Manifest(path: work + "/state.sqlite", clock: { Epoch.fixtureDay.start }),
                                       folders: (outbox: "out", archive: "archive", error: "error"),
                                       pickup: Pickup(transport: transport, readiness: .stableListing(interval: 0)),
                                       workDirectory: work)
        let summary = try pipeline.run(flow)
        #expect(flow.applies == ["WEB-1/DSP-0001/SKU-A=2"])
        #expect(summary.files.map(\.outcome) == ["partially-applied"])
        #expect(FileManager.default.fileExists(atPath: server.exchange + "/archive/DESP_9.csv"))
        #expect(FileManager.default.fileExists(atPath: server.exchange + "/error/DESP_9.errors.csv"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.exchange + "/error").count == 1)
    }

    @Test func endToEndOutboundRunOverARealSSHServer() throws {
        try FileManager.default.createDirectory(atPath: server.exchange + "/in", withIntermediateDirectories: true)
        try ".part leftover".write(toFile: server.exchange + "/in/SO_old.csv.part", atomically: true, encoding: .utf8)
        let transport = makeTransport()
        defer { transport.close() }
        let work = server.directory.appendingPathComponent("work-out").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let source = OrderSource()
        source.add("WEB-1", lines: [("SKU-A", "1"), ("SKU-B", "3")])
        let clock = { Date(timeIntervalSince1970: 1_795_508_100) }
        let pipeline = OutboundPipeline(transport: transport, manifest: try Manifest(path: work + "/state.sqlite", clock: clock),
                                        inbox: "in", workDirectory: work, clock: clock)
        let summary = try pipeline.run(source)
        #expect(summary.applied == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.exchange + "/in") == ["SO_20261124T081500Z_0001.csv"])
        #expect(try String(contentsOfFile: server.exchange + "/in/SO_20261124T081500Z_0001.csv", encoding: .utf8)
                == "SalesOrderNumber,ItemCode,QuantityOrdered,Note\r\nWEB-1,SKU-A,1,\r\nWEB-1,SKU-B,3,\r\n")
        #expect(try pipeline.run(source).applied == 0)
    }
}

@Suite struct JobLockTests {
    @Test func aSecondRunIsRefusedUntilTheFirstEnds() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-lock-\(UUID().uuidString)").path
        var first: JobLock? = try JobLock(job: "import-stock", stateDirectory: state)
        #expect(throws: JobLockError.held(job: "import-stock", pid: Int(getpid()), path: state + "/locks/import-stock.lock")) {
            _ = try JobLock(job: "import-stock", stateDirectory: state)
        }
        _ = try JobLock(job: "import-despatches", stateDirectory: state)  // other jobs are independent
        first = nil
        _ = first
        #expect(Self.acquireEventually(job: "import-stock", stateDirectory: state) != nil)
    }

    /// Other tests start processes concurrently; a child forked at the wrong instant holds a copy of the
    /// (close-on-exec) lock descriptor until it execs, so a released lock can take a moment to be free.
    static func acquireEventually(job: String, stateDirectory: String) -> JobLock? {
        for _ in 0..<100 {
            if let lock = try? JobLock(job: job, stateDirectory: stateDirectory) { return lock }
            usleep(20_000)
        }
        return nil
    }

    @Test func aKilledHolderReleasesTheLock() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: state + "/locks", withIntermediateDirectories: true)
        let holder = try ChildProcess(["flock", "--exclusive", "--close", state + "/locks/export-orders.lock", "sleep", "30"])
        var held = false
        for _ in 0..<50 {
            do {
                _ = try JobLock(job: "export-orders", stateDirectory: state)
            } catch {
                held = true
                break
            }
            usleep(20_000)
        }
        #expect(held)
        kill(holder.pid, SIGKILL)
        holder.wait()
        #expect(Self.acquireEventually(job: "export-orders", stateDirectory: state) != nil)
    }
}
