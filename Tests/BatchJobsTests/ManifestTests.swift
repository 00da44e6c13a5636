@testable import BatchJobs
import Foundation
import GRDB
import TestSupport
import Testing

/// The manifest's promises, on SQLite and on a real PostgreSQL server alike.
@Suite struct ManifestTests {
    /// A fresh manifest on `backend`, and where it is (to reopen it).
    static func open(_ backend: StateBackend) throws -> (manifest: Manifest, location: StateLocation) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let location = try backend.freshLocation(in: dir.path)
        return (try Manifest(location: location, clock: { Epoch.fixtureDay.start }), location)
    }

    @Test func sqliteKeepsNoMemoryStatisticsOnceAManifestIsOpen() throws {
        // Counting every allocation took a process-wide mutex that an import's committing and applying threads
        // contended for (Benchmarks/README.md). The first SQLite use in a process must go through SQLiteProcess.
        let (manifest, _) = try Self.open(.sqlite)
        try #require(SQLiteProcess.configured == 0, "SQLite was initialised before SQLiteProcess configured it")
        try manifest.commit(file: (try manifest.addFile(flow: "stock", name: "S.csv", size: 1, modified: 0, sha256: "a",
                                                        status: .processing, runID: nil), 2, 0, 0),
                            flow: "stock", records: [("A", "1"), ("B", "2")])
        #expect(try manifest.appliedHashes(flow: "stock", keys: ["A", "B"]) == ["A": "1", "B": "2"])
        #expect(SQLiteProcess.memoryCounted == 0)
    }

    @Test(arguments: [false, true])
    func theLogIsCopiedIntoTheDatabaseAndStaysUnderItsLimit(inBackground: Bool) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-wal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state.sqlite"
        func size(_ file: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0 }
        // A checkpoint asked for from 50 pages of log, the writer waiting from 200.
        let state = try SQLiteState(path: path, busyTimeout: 5, checkpointPages: (50, 200))
        state.checkpointInBackground(inBackground)
        try state.write { db in try db.execute(sql: "CREATE TABLE t (v TEXT NOT NULL)", arguments: []) }
        let page = try #require(try state.read { db in try db.fetchValue(sql: "PRAGMA page_size", as: Int.self) })
        let value = String(repeating: "x", count: page * 3 / 4)  // a page a row
        var largestLog = 0
        for _ in 0..<60 {  // 60 commits of 30 pages, back to back: 1,800 pages
            try state.write { db in
                try db.insertRows("INSERT INTO t (v)", width: 1, count: 30) { _, values in values.append(.text(value)) }
            }
            largestLog = max(largestLog, size(path + "-wal"))
        }
        state.checkpointer.waitUntilIdle()
        // While the database is open, only a checkpoint puts rows in its file: they are there.
        #expect(size(path) >= 1_700 * page, "database file: \(size(path)) bytes")
        // The log never grew past the limit (in the commit: the threshold) by more than a commit (and its frames'
        // headers).
        #expect(largestLog <= ((inBackground ? 200 : 50) + 2 * 31) * (page + 24) + 32, "largest log: \(largestLog) bytes")
        #expect(try state.read { db in try db.fetchValue(sql: "SELECT COUNT(*) FROM t", as: Int.self) } == 1_800)
    }

    /// A new manifest is made with 16 KiB pages, and its checkpoints come after as many bytes of log as with 4 KiB
    /// ones; a manifest made with SQLite's default 4 KiB keeps them, and its checkpoints their page counts.
    @Test func aNewManifestHasLargePagesAndAnOldOneKeepsItsOwn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-pages-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func pageSize(_ state: SQLiteState) throws -> Int? {
            try state.read { db in try db.fetchValue(sql: "PRAGMA page_size", as: Int.self) }
        }
        do {
            let state = try SQLiteState(path: dir + "/new.sqlite", busyTimeout: 5)
            #expect(try pageSize(state) == 16_384)
            #expect(state.checkpointer.threshold == 256 && state.checkpointer.limit == 2_048)  // 4 MiB, 32 MiB
        }
        let old = dir + "/old.sqlite"
        do {  // made by SQLite's defaults
            let queue = try DatabaseQueue(path: old)
            try queue.write { db in try db.execute(sql: "CREATE TABLE t (v TEXT)") }
        }
        let state = try SQLiteState(path: old, busyTimeout: 5)
        #expect(try pageSize(state) == 4_096)
        #expect(state.checkpointer.threshold == 1_024 && state.checkpointer.limit == 8_192)
        try state.write { db in try db.execute(sql: "INSERT INTO t (v) VALUES ('kept')") }
        #expect(try state.read { db in try db.fetchValue(sql: "SELECT v FROM t", as: String.self) } == "kept")
    }

    @Test func theSQLiteWriterKeepsStatementJournalsInMemoryAndReadersDoNot() throws {
        // In temporary files, a multi-row statement's journal cost a page write per page it touched.
        let (manifest, _) = try Self.open(.sqlite)
        let writer = try manifest.write { try $0.fetchColumn(sql: "PRAGMA temp_store", as: Int.self) }
        let reader = try manifest.read { try $0.fetchColumn(sql: "PRAGMA temp_store", as: Int.self) }
        #expect(writer == [2] && reader == [0])  // 2: memory; 0: SQLite's default
    }

    /// Rows go in a thousand at a time, in several statements of `perStatement` rows and a short last one: every
    /// row arrives once, in order, whatever the count.
    @Test(arguments: StateBackend.allCases)
    func insertRowsWritesEveryRowOnceInOrder(backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
        try manifest.write { try $0.execute(sql: "CREATE TABLE t (n INTEGER NOT NULL, label TEXT NOT NULL)") }
        for (count, perStatement) in [(0, 50), (1, 50), (49, 50), (50, 50), (51, 50), (1_000, 50), (1_049, 50),
                                      (2_501, 50), (333, 7), (10, 1)] {
            try manifest.write { db in
                try db.execute(sql: "DELETE FROM t")
                try db.insertRows("INSERT INTO t (n, label)", width: 2, count: count, perStatement: perStatement) { i, values in
                    values += [.integer(Int64(i)), .text("row \(i)")]
                }
            }
            let rows = try manifest.read { try $0.fetchAll(sql: "SELECT n, label FROM t ORDER BY n") }
            #expect(rows.count == count, "\(count) rows, \(perStatement) a statement")
            #expect(rows.enumerated().allSatisfy { i, row in
                row.values == [.integer(Int64(i)), .text("row \(i)")]
            }, "\(count) rows, \(perStatement) a statement")
        }
    }

    @Test func sqliteUsesWriteAheadLogging() throws {
        let (manifest, _) = try Self.open(.sqlite)
        let mode = try DatabaseQueue(path: manifest.path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test(arguments: StateBackend.allCases)
    func sameContentUnderAnyNameIsFoundByHash(_ backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
        let first = try manifest.addFile(flow: "despatches", name: "DESP_1.csv", size: 10, modified: 1, sha256: "abc",
                                         status: .applied, runID: nil)
        #expect(try manifest.file(flow: "despatches", sha256: "abc")?.id == first)
        #expect(try manifest.file(flow: "stock", sha256: "abc") == nil)
        _ = try manifest.addFile(flow: "despatches", name: "DESP_1 (copy).csv", size: 10, modified: 2, sha256: "abc",
                                 status: .duplicate, runID: nil)
        #expect(try manifest.file(flow: "despatches", sha256: "abc")?.name == "DESP_1.csv")
    }

    /// Sent orders close their open exceptions of the kinds named, and no others — found either way: the open
    /// exceptions' references read whole (few open), or the sent references looked up in lists (many open).
    @Test(arguments: StateBackend.allCases, [10, 1])
    func sendingResolvesTheOpenExceptionsOfItsKindsOnly(_ backend: StateBackend, openInMemory: Int) throws {
        let (manifest, _) = try Self.open(backend)
        for (kind, reference) in [("unknown-sku", "WEB-1"), ("unknown-sku", "WEB-2"), ("invalid-address", "WEB-1"),
                                  ("late-despatch", "WEB-3"), ("invalid-address", "WEB-4")] {
            try manifest.raise(kind: kind, reference: reference, message: "m", owner: .customerService)
        }
        try manifest.resolveExceptions(references: ["WEB-1", "WEB-3", "WEB-9"], kinds: ["unknown-sku", "invalid-address"],
                                       note: "sent in SO_1.csv", openInMemory: openInMemory)
        let open = try manifest.exceptions().map { "\($0.kind) \($0.reference)" }.sorted()
        #expect(open == ["invalid-address WEB-4", "late-despatch WEB-3", "unknown-sku WEB-2"])
        let resolved = try manifest.exceptions(openOnly: false).filter { $0.status == "resolved" }
        #expect(resolved.map(\.reference) == ["WEB-1", "WEB-1"] && resolved.allSatisfy { $0.resolutionNote == "sent in SO_1.csv" })
    }

    @Test(arguments: StateBackend.allCases)
    func reDroppedFileSupersedesTheEarlierVersion(_ backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
        let old = try manifest.addFile(flow: "despatches", name: "DESP_1.csv", size: 10, modified: 1, sha256: "v1",
                                       status: .partiallyApplied, runID: nil)
        let new = try manifest.addFile(flow: "despatches", name: "DESP_1.csv", size: 11, modified: 2, sha256: "v2",
                                       status: .processing, runID: nil)
        try manifest.supersede(flow: "despatches", name: "DESP_1.csv", before: new)
        #expect(try manifest.file(id: old)?.status == .superseded)
        #expect(try manifest.latestFile(flow: "despatches", name: "DESP_1.csv")?.id == new)
    }

    @Test(arguments: StateBackend.allCases)
    func recordKeysAndFileProgressCommitTogether(_ backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
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

    /// Records are written 50 to a statement: a batch that is no multiple of 50 loses none, and a key given twice
    /// in one batch keeps its last version (as one upsert per record did; PostgreSQL would refuse a statement
    /// updating one row twice), in order — events and their duplicates too.
    @Test(arguments: StateBackend.allCases)
    func aBatchOfAnySizeWithRepeatedKeysCommitsEachKeysLastVersion(_ backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
        let file = try manifest.addFile(flow: "stock", name: "STOCK_1.csv", size: 1, modified: 1, sha256: "s",
                                        status: .processing, runID: nil)
        var records = (0..<123).map { (key: "SKU-\($0)", hash: "v1-\($0)") }
        records.insert(("SKU-7", "v2-7"), at: 60)  // the same key again, later in the batch: this version wins
        records.append(("SKU-100", "v2-100"))
        let events = (0..<77).map { OrderEvent(orderNumber: "WEB-\($0 % 70)", kind: "despatched", detail: "P\($0 % 70)",
                                               file: "DESP_1.csv", at: 0) }
        try manifest.commit(file: (file, records.count, 0, 0), flow: "stock", records: records, events: events)
        #expect(try manifest.recordCount(flow: "stock") == 123)
        #expect(try manifest.appliedHash(flow: "stock", key: "SKU-7") == "v2-7")
        #expect(try manifest.appliedHash(flow: "stock", key: "SKU-100") == "v2-100")
        #expect(try manifest.appliedHash(flow: "stock", key: "SKU-122") == "v1-122")
        #expect(try manifest.appliedHash(flow: "stock", key: "SKU-0") == "v1-0")
        #expect(try manifest.recordKeys(fileID: file).count == 123)
        #expect(try manifest.orderEvents("WEB-3").map(\.detail) == ["P3"])
        #expect(try manifest.orderEvents("WEB-69").count == 1)
    }

    @Test(arguments: StateBackend.allCases)
    func reOccurringExceptionsUpdateOneRowUntilResolved(_ backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
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

    @Test(arguments: StateBackend.allCases)
    func runsRecordOutcomeAndCounts(_ backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
        let run = try manifest.startRun(job: "import-stock")
        try manifest.finishRun(run, outcome: "completed-with-exceptions", applied: 10, skipped: 2, failed: 1)
        let runs = try manifest.recentRuns(job: "import-stock")
        #expect(runs.count == 1)
        #expect(runs[0].outcome == "completed-with-exceptions" && runs[0].applied == 10 && runs[0].finished != nil)
        #expect(try manifest.recentRuns(job: "export-orders").isEmpty)
    }

    @Test(arguments: StateBackend.allCases)
    func reopeningKeepsEverything(_ backend: StateBackend) throws {
        let (manifest, location) = try Self.open(backend)
        _ = try manifest.raise(kind: "k", reference: "r", message: "m", owner: .technical)
        let reopened = try Manifest(location: location, clock: { Epoch.fixtureDay.start })
        #expect(try reopened.exceptions().count == 1)
    }

    /// A manifest from before events were unique by their detail's hash: its events get their hash when it is
    /// next opened (more than one chunk's worth here), and an event it already has is still not recorded twice.
    @Test(arguments: StateBackend.allCases)
    func eventsRecordedBeforeDetailsWereHashedAreStillRecordedOnce(_ backend: StateBackend) throws {
        let (manifest, location) = try Self.open(backend)
        // Back to the schema of v7: the detail itself in the unique index, no hashes, the migration not applied.
        let migrations = backend == .sqlite ? "grdb_migrations WHERE identifier" : "voxbatch_migrations WHERE id"
        try manifest.write { db in
            try db.execute(sql: "DELETE FROM \(migrations) = 'v8-event-hashes'")
            try db.execute(sql: "DROP TABLE event_hashes_pending")
            try db.execute(sql: "DROP INDEX order_events_once_by_hash")
            try db.execute(sql: "ALTER TABLE order_events DROP COLUMN detail_hash")
            try db.execute(sql: "CREATE UNIQUE INDEX order_events_once ON order_events(order_number, kind, detail)")
            try db.insertRows("INSERT INTO order_events (order_number, kind, detail, file, at)", width: 5, count: 25_001) { i, v in
                v += [.text("WEB-\(i / 2)"), .text("despatched"), .text("package P\(i): 1 x SKU-\(i % 7)"), .null, .integer(1)]
            }
        }
        let reopened = try Manifest(location: location, clock: { Epoch.fixtureDay.start })
        let unhashed = try reopened.read { db in
            try db.fetchValue(sql: "SELECT COUNT(*) FROM order_events WHERE detail_hash IS NULL", as: Int.self)
        }
        #expect(unhashed == 0)
        let sample = try reopened.read { try $0.fetchAll(sql: "SELECT detail, detail_hash FROM order_events WHERE id % 997 = 0") }
        #expect(sample.count > 20)
        for row in sample { #expect(row["detail_hash"] as Int64 == Manifest.eventHash(row["detail"])) }
        #expect(try reopened.read { try $0.fetchValue(sql: "SELECT COUNT(*) FROM event_hashes_pending", as: Int.self) } == 0)

        try reopened.addOrderEvents([
            OrderEvent(orderNumber: "WEB-12000", kind: "despatched", detail: "package P24000: 1 x SKU-4", file: nil, at: 0),
            OrderEvent(orderNumber: "WEB-12000", kind: "despatched", detail: "package P24002: 1 x SKU-6", file: nil, at: 0),
        ])
        #expect(try reopened.orderEvents("WEB-12000").map(\.detail)
            == ["package P24000: 1 x SKU-4", "package P24001: 1 x SKU-5", "package P24002: 1 x SKU-6"])
    }

    /// The hash an event is unique by is defined for good (first 8 bytes of SHA-256, big-endian), not by the code
    /// of the day: manifests keep it.
    @Test func anEventsDetailHashIsTheFirstEightBytesOfItsSHA256() {
        // printf 'package P1: 1 x SKU-1' | sha256sum → 277d997fe6952eed…; its first 8 bytes as a signed big-endian integer.
        #expect(Manifest.eventHash("package P1: 1 x SKU-1") == 0x277D_997F_E695_2EED)
    }

    /// Keys are found however they come: ascending (SQLite reads them a window at a time), descending, shuffled,
    /// repeated, sparse in a dense range (a window given up for key-by-key look-ups), with prefixes of one another,
    /// empty and multi-byte (byte order, as SQLite and PostgreSQL's "C" collation compare them); never another flow's.
    @Test(arguments: StateBackend.allCases)
    func keysAreFoundHoweverTheyAreOrdered(_ backend: StateBackend) throws {
        let (manifest, _) = try Self.open(backend)
        let dense = (0..<1_000).filter { $0 % 2 == 0 }.map { String(format: "K-%05d", $0) }
        let block = (0..<3_000).map { String(format: "S-%06d", $0) }
        let odd = ["", "A", "A/1", "A/1/x", "e", "z", "ß", "é", "日本"]
        let stored = dense + block + odd
        let file = try manifest.addFile(flow: "f", name: "F.csv", size: 1, modified: 0, sha256: "a", status: .processing,
                                        runID: nil)
        try manifest.commit(file: (file, stored.count, 0, 0), flow: "f", records: stored.map { ($0, "h" + $0) })
        try manifest.commit(file: (file, 1, 0, 0), flow: "g", records: [("K-00001", "other flow"), ("A/0", "other flow")])
        let present = Set(stored)

        var random = SplitMix64(seed: 20261206)
        let everyK = (0..<1_000).map { String(format: "K-%05d", $0) }
        let sparse = stride(from: 0, to: 3_000, by: 97).flatMap { [String(format: "S-%06d", $0), String(format: "S-%06dx", $0)] }
        let queries: [(String, [String])] = [
            ("ascending", everyK),
            ("descending", everyK.reversed()),
            ("shuffled", everyK.shuffled(using: &random)),
            ("repeated", everyK.prefix(40).flatMap { [$0, $0] } + everyK.prefix(40)),
            ("sparse in a dense range", sparse),
            ("the whole block", block + ["S-003000", "S-"]),
            ("odd, in byte order", ["", "A", "A/0", "A/1", "A/1/x", "K-00001", "e", "z", "ß", "é", "日本", "日本語"]),
            ("odd, shuffled", (odd + ["A/0", "K-00001", "日本語"]).shuffled(using: &random)),
            ("runs of every length", (1..<12).flatMap { n in everyK.dropFirst(n * 50).prefix(n) }),
        ]
        for (name, keys) in queries {
            var seen = Array(repeating: 0, count: keys.count)
            var hashes: [String: String] = [:]
            let lookup = KeyLookup(table: "records", keyColumn: "key", columns: ["hash"], filter: "flow = ?",
                                   arguments: [.text("f")])
            try manifest.read { db in
                try db.lookUp(lookup, keys: keys) { i, row in
                    seen[i] += 1
                    hashes[keys[i]] = row["hash"]
                }
            }
            // Each key found once where it is stored, with its own row; none found where it is not.
            let wrong = keys.indices.filter { seen[$0] != (present.contains(keys[$0]) ? 1 : 0) }
            #expect(wrong.isEmpty, "\(name): \(wrong.count) keys wrong, first \(wrong.prefix(3).map { keys[$0] })")
            #expect(hashes.allSatisfy { $0.value == "h" + $0.key }, "\(name)")
            #expect(try manifest.appliedHashes(flow: "f", keys: keys) == hashes, "\(name)")
        }
    }
}

/// What only the PostgreSQL backend has to prove: clients side by side in one database, the schema made on
/// first use, connections that come back, and job locks that hold across "nodes".
@Suite struct PostgresStateTests {
    static func settings() throws -> PostgresSettings { try StateBackend.freshPostgresSettings() }

    @Test func clientsInOneDatabaseKeepToTheirOwnSchemas() throws {
        let a = try Manifest(location: .postgres(try Self.settings()), clock: { Epoch.fixtureDay.start })
        let b = try Manifest(location: .postgres(try Self.settings()), clock: { Epoch.fixtureDay.start })
        _ = try a.raise(kind: "unknown-sku", reference: "WEB-1", message: "m", owner: .merchandising)
        #expect(try a.exceptions().count == 1)
        #expect(try b.exceptions().isEmpty)
        #expect(a.engine == "postgres" && a.path.contains("schema t_"))
    }

    @Test func keyRangesCompareByteWiseAsInSQLite() throws {
        // "WEB-1/…" lies between "WEB-1/" and "WEB-10" byte-wise; a linguistic collation would disagree.
        let manifest = try Manifest(location: .postgres(try Self.settings()), clock: { Epoch.fixtureDay.start })
        let file = try manifest.addFile(flow: ImportDespatchesFlow.flowName, name: "D.csv", size: 1, modified: 1, sha256: "x",
                                        status: .processing, runID: nil)
        try manifest.commit(file: (file, 1, 0, 0), flow: ImportDespatchesFlow.flowName, records: [("WEB-1/P1/SKU-A", "h")])
        #expect(try manifest.ordersWithDespatch(["WEB-1", "WEB-10", "WEB-2"]) == ["WEB-1"])
        #expect(try manifest.recordKeys(fileID: file) == ["WEB-1/P1/SKU-A"])
    }

    @Test func aDroppedConnectionIsReopenedForTheNextTransaction() throws {
        let settings = try Self.settings()
        let manifest = try Manifest(location: .postgres(settings), clock: { Epoch.fixtureDay.start })
        _ = try manifest.startRun(job: "import-stock")
        #expect(try PostgresServerFixture.shared().terminateSessions(schema: settings.schema) == "1")
        // The transaction in flight when the link went fails; the next one reconnects.
        _ = try? manifest.recentRuns()
        #expect(try manifest.recentRuns().count == 1)
    }

    @Test func aNodeThatVanishesHasItsSessionsEndedWithinAMinute() throws {
        // A killed process closes its connections (the crash suites cover that); a node that loses power or
        // network does not: the server's keepalive probes end its session, and its job locks with it.
        let connection = try PostgresConnection(settings: try Self.settings())
        let probes = try ["tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"].map {
            try connection.fetchValue(sql: "SELECT current_setting('\($0)')", as: String.self) ?? ""
        }
        #expect(probes == ["30", "10", "3"])
    }

    @Test func aWrongPasswordIsRefusedNamingTheServerNotTheSecret() throws {
        let server = try PostgresServerFixture.shared()
        let wrong = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-pg-wrong-\(UUID().uuidString)").path
        try "not-the-password".write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let settings = try PostgresSettings(url: server.url, schema: server.freshSchema(), password: .file(wrong), caFile: nil)
        do {
            _ = try Manifest(location: .postgres(settings), clock: { Epoch.fixtureDay.start })
            Issue.record("a wrong password was accepted")
        } catch let error as StateDatabaseError {
            #expect(error.code == .refused)
            #expect(error.message.contains("127.0.0.1") && !error.message.contains("not-the-password"))
        }
    }

    @Test func aURLWithAPasswordOrWithoutADatabaseIsRefused() {
        #expect(throws: StateDatabaseError.self) {
            try PostgresSettings(url: "postgres://u:secret@db.example.com/vox", schema: "acme", password: nil, caFile: nil)
        }
        #expect(throws: StateDatabaseError.self) {
            try PostgresSettings(url: "postgres://u@db.example.com", schema: "acme", password: nil, caFile: nil)
        }
        #expect(throws: StateDatabaseError.self) {
            try PostgresSettings(url: "postgres://u@db.example.com/vox", schema: "Acme; DROP", password: nil, caFile: nil)
        }
        #expect(PostgresSettings.schema(forClient: "Acme Retail (UK)") == "acme_retail__uk_")
        #expect(PostgresSettings.schema(forClient: "3PL-north") == "c_3pl_north")
    }

    @Test func twoNodesRacingForOneClientsJobRunExactlyOne() throws {
        // Two "nodes": two connections to the same client's schema, each trying to take the same job.
        let settings = try Self.settings()
        let first = try JobLock(job: "import-stock", postgres: settings)
        do {
            _ = try JobLock(job: "import-stock", postgres: settings)
            Issue.record("two holders of one job")
        } catch let error as JobLockError {
            guard case .heldElsewhere(_, let holder) = error else { Issue.record("\(error)"); return }
            #expect(holder.hasPrefix("voxbatch \(settings.schema)@"))
        }
        _ = try JobLock(job: "import-despatches", postgres: settings)  // another job of the client is free
        var other = settings
        other.schema = try PostgresServerFixture.shared().freshSchema()
        _ = try JobLock(job: "import-stock", postgres: other)  // the same job of another client is free
        withExtendedLifetime(first) {}
    }
}

@Suite struct FleetConflictTests {
    func configuration(client: String, state: String) throws -> BatchJobs.Configuration {
        try BatchJobs.Configuration.parse(yaml: """
            client: \(client)
            warehouse:
              url: file://exchange
            storefront:
              type: file
              folder: shop
            state: \(state)
            """, baseDirectory: "/srv/\(client)")
    }

    @Test func clientsSharingOneSchemaOfAStateDatabaseAreAConflict() throws {
        let db = "postgres://voxbatch@db.example.com:5432/voxbatch"
        let loaded = [
            ("a.yml", try configuration(client: "shop-a", state: "{path: .voxbatch, database: \"\(db)\", schema: shared}")),
            ("b.yml", try configuration(client: "shop-b", state: "{path: .voxbatch, database: \"\(db)\", schema: shared}")),
            ("c.yml", try configuration(client: "shop-c", state: "\"\(db)\"")),  // schema shop_c: its own
            ("d.yml", try configuration(client: "shop-d", state: ".voxbatch")),
        ]
        let conflicts = Fleet.conflicts(loaded.map { (path: $0.0, configuration: $0.1) })
        #expect(conflicts == ["a.yml and b.yml share the state database postgres://voxbatch@db.example.com:5432/voxbatch (schema shared)"])
    }
}
