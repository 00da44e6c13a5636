@testable import BatchJobs
import CSVKit
import FileTransport
import Foundation
import Testing

/// Orders held in memory, as a storefront would return them.
final class OrderSource: OutboundFlow {
    let name = "sales-orders"
    let template = CSVTemplate(name: "orders", columns: [
        ColumnRule("SalesOrderNumber", required: true), ColumnRule("ItemCode", required: true),
        ColumnRule("QuantityOrdered", .integer(min: 1), required: true), ColumnRule("Note"),
    ])
    let fileNamePattern = "SO_{timestamp}_{sequence}.csv"
    var orders: [OutboundRecord] = []

    /// How many times records were rendered.
    let renders = Counter()

    func add(_ number: String, lines: [(String, String)], note: String = "") {
        let renders = renders
        orders.append(OutboundRecord(key: number, rows: {
            renders.add()
            return lines.map { [number, $0.0, $0.1, note] }
        }()))
    }

    func collect() throws -> [OutboundRecord] { orders }
}

/// A count shared with the closures that render records.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

/// The local transport with uploads cut, as a dropped connection would cut them.
final class CutUploads: FileTransport {
    let inner: LocalFolderTransport
    /// How many uploads fail before they work again.
    var cuts = Int.max
    /// How long each upload takes first, in seconds (a slow link).
    var delay = 0.0
    init(_ inner: LocalFolderTransport) { self.inner = inner }
    var displayName: String { inner.displayName }
    func list(_ d: String, matching p: String?) throws -> [RemoteFile] { try inner.list(d, matching: p) }
    func stat(_ p: String) throws -> RemoteFile? { try inner.stat(p) }
    func download(_ p: String, progress: TransferProgress?, into c: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        try inner.download(p, progress: progress, into: c)
    }
    func upload(localPath: String, to remotePath: String, progress: TransferProgress?) throws -> Int64 {
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        if cuts > 0 {
            cuts -= 1
            throw TransportError(.connectionLost, operation: "upload", target: displayName, message: "cut")
        }
        return try inner.upload(localPath: localPath, to: remotePath, progress: progress)
    }
    func rename(_ f: String, to t: String, overwrite: Bool) throws { try inner.rename(f, to: t, overwrite: overwrite) }
    func remove(_ p: String) throws { try inner.remove(p) }
    func makeDirectory(_ p: String) throws { try inner.makeDirectory(p) }
    func close() {}
}

@Suite struct OutboundPipelineTests {
    @Test func aRecordsHashIsStableAcrossVersions() {
        // Manifests keep these hashes: a change of the function would make every sent record look changed.
        // SHA-256 of the fields, each followed by 0x1F and each row by 0x1E; the first 16 bytes, in hex.
        #expect(OutboundPipeline.hash([["WEB-1", "SKU-A", "1"], ["WEB-1", "SKU-B", "2"]]) == "1a6c1d7840f973076b3870697e159972")
    }

    @Test func packedRowsAreWrittenExactlyAsTheRowsThemselves() throws {
        let rows = [["WEB-1", "", "=SUM(A1)", "tab\there", "line\r\nbreak", "\"quoted\""], ["", "", "", "", "", ""],
                    ["é ünïcode", "-1", "+44 113", "@x", "a,b", " "]]
        func csv(_ write: (CSVWriter) throws -> Void) throws -> String {
            let sink = MemorySink()
            let writer = CSVWriter(sink: sink, guardsFormulas: true)
            try write(writer)
            try writer.flush()
            return sink.text
        }
        let direct = try csv { w in for row in rows { try w.write(record: row) } }
        let packed = try csv { w in try OutboundPipeline.write(packed: OutboundPipeline.pack(rows), to: w) }
        #expect(packed == direct)
        #expect(OutboundPipeline.digest(OutboundPipeline.pack(rows)) == OutboundPipeline.hash(rows))
    }

    let root: String
    let transport: LocalFolderTransport
    let manifest: Manifest
    let source = OrderSource()
    var seconds = 0.0

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-outbound-\(UUID().uuidString)").path
        for folder in ["exchange/in", "work"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        transport = try LocalFolderTransport(root: root + "/exchange")
        manifest = try Manifest(path: root + "/state.sqlite", clock: { Date(timeIntervalSince1970: 1_795_508_100) })
    }

    func pipeline(at time: TimeInterval, maxPerFile: Int = 500) -> OutboundPipeline {
        OutboundPipeline(transport: transport, manifest: manifest, inbox: "in", workDirectory: root + "/work",
                         maxRecordsPerFile: maxPerFile, clock: { Date(timeIntervalSince1970: 1_795_508_100 + time) })
    }

    func sentFiles() throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/exchange/in") {
            out[name] = try String(contentsOfFile: root + "/exchange/in/" + name, encoding: .utf8)
        }
        return out
    }

    /// A file's rows go to the work folder as they are collected. One left unsent (a stop request before it is sent,
    /// or a killed run's) is removed and never sent; its records go in the next run, once.
    @Test func aFileBeingFilledThatIsNotSentIsRemovedAndItsRecordsGoNextRun() throws {
        for i in 1...5 { source.add("WEB-\(i)", lines: [("SKU-A", "1")]) }
        let stale = root + "/work/.filling-sales-orders-7"
        try "SalesOrderNumber,ItemCode,QuantityOrdered,Note\r\nWEB-OLD,SKU-A,1,\r\n"
            .write(toFile: stale, atomically: true, encoding: .utf8)
        var stopper = pipeline(at: 0, maxPerFile: 2)
        var asked = 0
        stopper.shouldStop = {
            asked += 1
            return asked > 1  // the first file goes, then a stop is requested
        }
        let first = try stopper.run(source)
        #expect(first.stopped && first.files.map(\.name) == ["SO_20261124T081500Z_0001.csv"])
        func filling() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: root + "/work").filter { $0.hasPrefix(".filling-") }
        }
        #expect(try filling().isEmpty)
        let second = try pipeline(at: 60).run(source)
        #expect(second.applied == 3)
        let sent = try sentFiles().values.joined()
        #expect(!sent.contains("WEB-OLD"))
        #expect((1...5).allSatisfy { n in sent.components(separatedBy: "WEB-\(n),").count == 2 })  // each once
        #expect(try filling().isEmpty)
    }

    @Test func sendsValidOrdersInFilesOfTheConfiguredSizeAndNeverTwice() throws {
        for i in 1...5 { source.add("WEB-\(i)", lines: [("SKU-A", "1"), ("SKU-B", "2")]) }
        source.add("WEB-BAD", lines: [("SKU-A", "0")])
        let first = try pipeline(at: 0, maxPerFile: 2).run(source)
        #expect(first.files.map(\.name) == ["SO_20261124T081500Z_0001.csv", "SO_20261124T081500Z_0002.csv",
                                            "SO_20261124T081500Z_0003.csv"])
        #expect(first.applied == 5 && first.failed == 1)
        let files = try sentFiles()
        #expect(files["SO_20261124T081500Z_0001.csv"] == "SalesOrderNumber,ItemCode,QuantityOrdered,Note\r\n"
                + "WEB-1,SKU-A,1,\r\nWEB-1,SKU-B,2,\r\nWEB-2,SKU-A,1,\r\nWEB-2,SKU-B,2,\r\n")
        #expect(try manifest.exceptions(kind: "invalid-sales-orders").map(\.reference) == ["WEB-BAD"])

        // The storefront sends the same orders again (or the job reruns): nothing new goes out.
        source.add("WEB-6", lines: [("SKU-C", "1")])
        let rendered = source.renders.value
        let second = try pipeline(at: 300).run(source)
        #expect(second.files.map(\.name) == ["SO_20261124T082000Z_0001.csv"])
        #expect(second.applied == 1 && second.files[0].skipped == 5)
        // Only the new order and the invalid one (tried again) were rendered: those already sent were not.
        #expect(source.renders.value - rendered == 2)
        #expect(try manifest.fileName(flow: "sales-orders", recordKey: "WEB-3") == "SO_20261124T081500Z_0002.csv")
    }

    /// Found by the crash-injection test: a rerun in the same second as a killed run restarted the
    /// sequence at 0001 and collided with the file the killed run had already dropped.
    /// Records come a page at a time; an order the storefront returns again — in the same page after its
    /// file went out, or in a later page — is sent once, and each file is sent as it fills.
    ///
    /// Sent while the next page is collected (`sendsWhileCollecting`), over a slow link: the first file is still
    /// going out when the second page is looked up, and its orders must count as sent all the same.
    @Test(arguments: [false, true])
    func pagesAreSentAsFilesFillAndARepeatedOrderGoesOnce(sendsWhileCollecting: Bool) throws {
        final class Paged: OutboundFlow {
            let inner: OrderSource
            let pages: [[String]]
            let sendsWhileCollecting: Bool
            init(_ inner: OrderSource, pages: [[String]], sendsWhileCollecting: Bool) {
                self.inner = inner
                self.pages = pages
                self.sendsWhileCollecting = sendsWhileCollecting
            }
            var name: String { inner.name }
            var template: CSVTemplate { inner.template }
            var fileNamePattern: String { inner.fileNamePattern }
            func collect() throws -> [OutboundRecord] { try inner.collect() }
            func collect(pages body: ([OutboundRecord]) throws -> Void) throws {
                let byKey = Dictionary(uniqueKeysWithValues: inner.orders.map { ($0.key, $0) })
                for page in pages { try body(page.compactMap { byKey[$0] }) }
            }
        }
        for n in 1...4 { source.add("WEB-\(n)", lines: [("SKU-A", "1")]) }
        let flow = Paged(source, pages: [["WEB-1", "WEB-2", "WEB-3", "WEB-1"], ["WEB-2", "WEB-4", "WEB-3"]],
                         sendsWhileCollecting: sendsWhileCollecting)
        let slow = CutUploads(transport)
        slow.cuts = 0
        slow.delay = 0.3
        var pipeline = pipeline(at: 0, maxPerFile: 2)
        pipeline.transport = slow
        let summary = try pipeline.run(flow)
        #expect(summary.applied == 4 && summary.skipped == 3)
        #expect(summary.files.map(\.name) == ["SO_20261124T081500Z_0001.csv", "SO_20261124T081500Z_0002.csv"])
        let sent = try sentFiles()
        #expect(sent.keys.sorted() == ["SO_20261124T081500Z_0001.csv", "SO_20261124T081500Z_0002.csv"])
        #expect(sent["SO_20261124T081500Z_0001.csv"]?.contains("WEB-1") == true && sent["SO_20261124T081500Z_0001.csv"]?.contains("WEB-2") == true)
        #expect(sent["SO_20261124T081500Z_0002.csv"]?.contains("WEB-3") == true && sent["SO_20261124T081500Z_0002.csv"]?.contains("WEB-4") == true)
    }

    @Test func aSecondRunInTheSameSecondNeverReusesAFileName() throws {
        source.add("WEB-1", lines: [("SKU-A", "1")])
        _ = try pipeline(at: 0).run(source)
        source.add("WEB-2", lines: [("SKU-A", "1")])
        let second = try pipeline(at: 0).run(source)
        #expect(second.files.map(\.name) == ["SO_20261124T081500Z_0002.csv"])
        #expect(try sentFiles().keys.sorted() == ["SO_20261124T081500Z_0001.csv", "SO_20261124T081500Z_0002.csv"])
        #expect(OutboundPipeline.suffixed("ITEMS_20261124T081500Z.csv", 2) == "ITEMS_20261124T081500Z_0002.csv")
    }

    @Test func formulaLikeValuesGoVerbatimUnlessTheGuardIsOn() throws {
        source.add("WEB-1", lines: [("SKU-A", "1")], note: "=HYPERLINK(\"http://evil.example\")")
        source.add("WEB-2", lines: [("SKU-A", "1")], note: "- ring twice -")
        _ = try pipeline(at: 0).run(source)
        #expect(try sentFiles().values.first == "SalesOrderNumber,ItemCode,QuantityOrdered,Note\r\n"
                + "WEB-1,SKU-A,1,\"=HYPERLINK(\"\"http://evil.example\"\")\"\r\nWEB-2,SKU-A,1,- ring twice -\r\n")

        source.add("WEB-3", lines: [("SKU-A", "1")], note: "=HYPERLINK(\"http://evil.example\")")
        source.add("WEB-4", lines: [("SKU-A", "1")], note: "- ring twice -")
        var guarded = pipeline(at: 60)
        guarded.guardsFormulas = true
        _ = try guarded.run(source)
        #expect(try sentFiles()["SO_20261124T081600Z_0001.csv"] == "SalesOrderNumber,ItemCode,QuantityOrdered,Note\r\n"
                + "WEB-3,SKU-A,1,\"'=HYPERLINK(\"\"http://evil.example\"\")\"\r\nWEB-4,SKU-A,1,'- ring twice -\r\n")
    }

    @Test func aBadValueInAnyRowOfARecordHoldsItAndNamesTheValue() throws {
        // Records of one to three rows, the bad value in the first, a middle or the last row (each row is
        // validated on its own part of the packed record).
        source.add("WEB-1", lines: [("SKU-A", "1"), ("SKU-B", "2"), ("SKU-C", "3")])
        source.add("WEB-2", lines: [("SKU-A", "1"), ("SKU-B", "-2"), ("SKU-C", "3")])
        source.add("WEB-3", lines: [("SKU-A", "1"), ("SKU-B", "2"), ("SKU-C", "x")])
        source.add("WEB-4", lines: [("SKU-A", "0")])
        let summary = try pipeline(at: 0).run(source)
        #expect(summary.applied == 1 && summary.failed == 3)
        let held = try manifest.exceptions(kind: "invalid-sales-orders").sorted { $0.reference < $1.reference }
        #expect(held.map(\.reference) == ["WEB-2", "WEB-3", "WEB-4"])
        #expect(held.map { $0.message.contains("QuantityOrdered \"-2\"") } == [true, false, false])
        #expect(held.map { $0.message.contains("QuantityOrdered \"x\"") } == [false, true, false])
        #expect(held.map { $0.message.contains("QuantityOrdered \"0\"") } == [false, false, true])
        #expect(try sentFiles().values.first == "SalesOrderNumber,ItemCode,QuantityOrdered,Note\r\n"
                + "WEB-1,SKU-A,1,\r\nWEB-1,SKU-B,2,\r\nWEB-1,SKU-C,3,\r\n")
    }

    @Test func aControlCharacterHoldsTheRecordWithAnExceptionAndTheRestGoOut() throws {
        source.add("WEB-1", lines: [("SKU-A", "1")], note: "ring\u{07}twice")
        source.add("WEB-2", lines: [("SKU-A", "1")], note: "tab\there\r\nand a new line")
        // The separators records are packed with, inside a field: held like any control character, not mistaken
        // for a field or row boundary.
        source.add("WEB-3", lines: [("SKU-A", "1")], note: "unit\u{1F}separator")
        source.add("WEB-4", lines: [("SKU-A", "1")], note: "record\u{1E}separator")
        let summary = try pipeline(at: 0).run(source)
        #expect(summary.applied == 1)
        #expect(try sentFiles().values.first?.contains("WEB-2,SKU-A,1,\"tab\there\r\nand a new line\"") == true)
        let held = try manifest.exceptions(kind: "invalid-sales-orders")
        #expect(held.map(\.reference).sorted() == ["WEB-1", "WEB-3", "WEB-4"])
        #expect(held.first?.message.contains("Note \"ring\\u0007twice\" contains the control character U+0007") == true)
        #expect(held.contains { $0.message.contains("contains the control character U+001F") })
        #expect(held.contains { $0.message.contains("contains the control character U+001E") })
    }

    @Test func aFileLeftPreparedIsDroppedOnTheNextRunAndItsOrdersAreNotReSent() throws {
        source.add("WEB-1", lines: [("SKU-A", "1")])
        // The connection is cut during the first run's drop.
        let cutting = CutUploads(transport)
        var first = pipeline(at: 0)
        first.transport = cutting
        first.retry = RetryPolicy(maxAttempts: 3)
        var waits: [Double] = []
        first.sleep = { waits.append($0) }
        #expect(throws: TransportError.self) { try first.run(source) }
        #expect(try manifest.preparedFiles(flow: "sales-orders").map(\.name) == ["SO_20261124T081500Z_0001.csv"])
        #expect(try sentFiles().isEmpty)
        #expect(waits.count == 2)
        #expect(try manifest.recentRuns().first?.outcome == "failed")
        source.add("WEB-2", lines: [("SKU-B", "1")])
        let next = try pipeline(at: 600).run(source)
        let files = try sentFiles()
        #expect(files.keys.sorted() == ["SO_20261124T081500Z_0001.csv", "SO_20261124T082500Z_0001.csv"])
        #expect(files["SO_20261124T081500Z_0001.csv"]?.contains("WEB-1") == true)
        #expect(files["SO_20261124T082500Z_0001.csv"]?.contains("WEB-1") == false)
        #expect(next.applied == 1)
        #expect(try manifest.preparedFiles(flow: "sales-orders").isEmpty)
    }

    @Test func aFileDroppedButNotConfirmedIsRecognisedOnTheServer() throws {
        source.add("WEB-1", lines: [("SKU-A", "1")])
        _ = try pipeline(at: 0).run(source)
        // Simulate a crash between the drop and the confirmation.
        let sent = try manifest.files(flow: "sales-orders")[0]
        try manifest.finishFile(sent.id, status: .prepared, applied: 1, skipped: 0, failed: 0, errorReport: nil)
        _ = try pipeline(at: 60).run(source)
        #expect(try sentFiles().count == 1)
        #expect(try manifest.files(flow: "sales-orders").map(\.status) == [.sent])
    }

    @Test func aCutThatHealsIsRetriedWithinTheRun() throws {
        source.add("WEB-1", lines: [("SKU-A", "1")])
        let cutting = CutUploads(transport)
        cutting.cuts = 2
        var p = pipeline(at: 0)
        p.transport = cutting
        var waits: [Double] = []
        p.sleep = { waits.append($0) }
        #expect(try p.run(source).applied == 1)
        #expect(waits.count == 2)
        #expect(try sentFiles().count == 1)
    }

    @Test func dryRunSendsNothing() throws {
        source.add("WEB-1", lines: [("SKU-A", "1")])
        let summary = try pipeline(at: 0).run(source, dryRun: true)
        #expect(summary.files.map(\.outcome) == ["would-send"])
        #expect(try sentFiles().isEmpty)
        #expect(try manifest.appliedHash(flow: "sales-orders", key: "WEB-1") == nil)
    }
}
