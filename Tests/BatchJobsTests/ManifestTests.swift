@testable import BatchJobs
import Foundation
import GRDB
import TestSupport
import Testing

@Suite struct ManifestTests {
    let path: String
    let manifest: Manifest

    init() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        path = dir.appendingPathComponent("state.sqlite").path
        manifest = try Manifest(path: path, clock: { Epoch.fixtureDay.start })
    }

    @Test func usesWriteAheadLogging() throws {
        let mode = try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func sameContentUnderAnyNameIsFoundByHash() throws {
        let first = try manifest.addFile(flow: "despatches", name: "DESP_1.csv", size: 10, modified: 1, sha256: "abc",
                                         status: .applied, runID: nil)
        #expect(try manifest.file(flow: "despatches", sha256: "abc")?.id == first)
        #expect(try manifest.file(flow: "stock", sha256: "abc") == nil)
        _ = try manifest.addFile(flow: "despatches", name: "DESP_1 (copy).csv", size: 10, modified: 2, sha256: "abc",
                                 status: .duplicate, runID: nil)
        #expect(try manifest.file(flow: "despatches", sha256: "abc")?.name == "DESP_1.csv")
    }

    @Test func reDroppedFileSupersedesTheEarlierVersion() throws {
        let old = try manifest.addFile(flow: "despatches", name: "DESP_1.csv", size: 10, modified: 1, sha256: "v1",
                                       status: .partiallyApplied, runID: nil)
        let new = try manifest.addFile(flow: "despatches", name: "DESP_1.csv", size: 11, modified: 2, sha256: "v2",
                                       status: .processing, runID: nil)
        try manifest.supersede(flow: "despatches", name: "DESP_1.csv", before: new)
        #expect(try manifest.file(id: old)?.status == .superseded)
        #expect(try manifest.latestFile(flow: "despatches", name: "DESP_1.csv")?.id == new)
    }

    @Test func recordKeysAndFileProgressCommitTogether() throws {
        let file = try manifest.addFile(flow: "stock", name: "STOCK_1.csv", size: 1, modified: 1, sha256: "s",
                                        status: .processing, runID: nil)
        try manifest.commit(file: (file, 2, 0, 1), flow: "stock", records: [("SKU-1", "h1"), ("SKU-2", "h2")])
        #expect(try manifest.appliedHash(flow: "stock", key: "SKU-1") == "h1")
        #expect(try manifest.appliedHash(flow: "despatches", key: "SKU-1") == nil)
        #expect(try manifest.file(id: file)?.applied == 2)
        #expect(try manifest.file(id: file)?.failed == 1)
        // A corrected value replaces the hash; the key stays unique.
        try manifest.commit(file: (file, 3, 0, 1), flow: "stock", records: [("SKU-1", "h1b")])
        #expect(try manifest.appliedHash(flow: "stock", key: "SKU-1") == "h1b")
        #expect(try manifest.recordCount(flow: "stock") == 2)
    }

    @Test func reOccurringExceptionsUpdateOneRowUntilResolved() throws {
        let id = try manifest.raise(kind: "unknown-sku", reference: "WEB-1", message: "SKU X unknown", owner: .merchandising)
        let again = try manifest.raise(kind: "unknown-sku", reference: "WEB-1", message: "SKU X still unknown",
                                       owner: .merchandising)
        #expect(again == id)
        var open = try manifest.exceptions(owner: .merchandising)
        #expect(open.count == 1)
        #expect(open[0].occurrences == 2)
        #expect(open[0].message == "SKU X still unknown")
        try manifest.resolve(exception: id, note: "SKU created in Peoplevox")
        #expect(try manifest.exceptions().isEmpty)
        let reopened = try manifest.raise(kind: "unknown-sku", reference: "WEB-1", message: "back", owner: .merchandising)
        #expect(reopened != id)
        open = try manifest.exceptions(openOnly: false)
        #expect(open.map(\.status) == ["resolved", "open"])
        #expect(open[0].resolutionNote == "SKU created in Peoplevox")
    }

    @Test func runsRecordOutcomeAndCounts() throws {
        let run = try manifest.startRun(job: "import-stock")
        try manifest.finishRun(run, outcome: "completed-with-exceptions", applied: 10, skipped: 2, failed: 1)
        let runs = try manifest.recentRuns(job: "import-stock")
        #expect(runs.count == 1)
        #expect(runs[0].outcome == "completed-with-exceptions" && runs[0].applied == 10 && runs[0].finished != nil)
        #expect(try manifest.recentRuns(job: "export-orders").isEmpty)
    }

    @Test func reopeningKeepsEverything() throws {
        _ = try manifest.raise(kind: "k", reference: "r", message: "m", owner: .technical)
        let reopened = try Manifest(path: path, clock: { Epoch.fixtureDay.start })
        #expect(try reopened.exceptions().count == 1)
    }
}
