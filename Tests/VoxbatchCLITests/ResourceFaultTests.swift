import Foundation
import TestSupport
import Testing

/// Resources that fail under a job: each ends in a clear error and a clean state, and the next run recovers.
@Suite struct ResourceFaultTests {
    /// A starter set-up with a stock file of `rows` rows waiting.
    func setUp(rows: Int) throws -> (dir: URL, config: String) { try CLI.starterWithStock(rows: rows) }

    @Test func aFullDiskIsAClearErrorAndTheNextRunRecovers() throws {
        let (dir, config) = try setUp(rows: 20_000)  // ~300 KB: more than the 64 KB the limit allows
        #expect(try CLI.run(["status", "--config", config]).status <= 1)  // the manifest exists before the limit
        let log = dir.appendingPathComponent("full.log").path
        // ulimit -f: every write past 64 KB fails with EFBIG, as on a full disk.
        let full = try ChildProcess(["/bin/sh", "-c", "ulimit -f 128; exec '\(CLI.binary.path)' run import-stock --config '\(config)'"],
                                    outputPath: log)
        let status = full.wait()
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(status == 3, "\(text)")
        #expect(text.contains("File too large") || text.contains("disk holding the state folder is full"), "\(text)")
        // The file is still waiting, nothing was recorded as applied, and a run with room finishes it.
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".voxbatch/exchange/out/STOCK_20261130T0800.csv").path))
        let again = try CLI.run(["run", "import-stock", "--config", config, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("\"applied\" : 20000"))
    }

    @Test func aManifestLockedByAnotherProcessIsAClearErrorAndTheNextRunRecovers() throws {
        let (dir, config) = try setUp(rows: 10)
        #expect(try CLI.run(["status", "--config", config]).status <= 1)  // creates the manifest
        let db = dir.appendingPathComponent(".voxbatch/manifest.sqlite").path
        // Another process holds the write lock for 15 s (longer than voxbatch's 10 s wait).
        let holder = try ChildProcess(["sqlite3", db, "PRAGMA busy_timeout=100;", "BEGIN IMMEDIATE;",
                                       "SELECT 1;", ".shell sleep 15", "COMMIT;"])
        defer {
            kill(holder.pid, SIGKILL)
            _ = holder.wait()
        }
        usleep(300_000)
        let blocked = try CLI.run(["run", "import-stock", "--config", config], environment: ["VOXBATCH_LOCK_WAIT": "1"])
        #expect(blocked.status == 3, "\(blocked.stderr)")
        #expect(blocked.stderr.contains("the manifest is locked by another process"))
        kill(holder.pid, SIGKILL)
        _ = holder.wait()
        let again = try CLI.run(["run", "import-stock", "--config", config])
        #expect(again.status == 0, "\(again.stderr)")
    }
}

/// Permission faults need an unprivileged user (root writes anywhere): voxbatch runs as `nobody` here.
@Suite struct PermissionFaultTests {
    @Test func foldersWithoutWritePermissionAreClearErrorsAndTheNextRunRecovers() throws {
        let (dir, config) = try CLI.starter()
        let base = dir.appendingPathComponent(".voxbatch")
        try "sku,name\nTSH-M,Tee\n".write(to: base.appendingPathComponent("shop/products.csv"), atomically: true, encoding: .utf8)
        // A copy of the binary the unprivileged user can run, and the whole set-up given to that user.
        let binary = dir.appendingPathComponent("voxbatch").path
        // Copied by `cp`, not in this process: a process another test spawns meanwhile would inherit the
        // copy's open write descriptor, and executing the binary would then fail with "Text file busy".
        try Shell.run(["cp", CLI.binary.path, binary])
        try Shell.run(["chown", "-R", "65534:65534", dir.path])
        chmod(dir.path, 0o755)
        let inbox = base.appendingPathComponent("exchange/in").path
        chmod(inbox, 0o555)  // the warehouse's folder refuses writes
        func runAsNobody(_ args: [String]) throws -> (Int32, String) {
            let log = dir.appendingPathComponent("run-\(UUID().uuidString).log").path
            let child = try ChildProcess(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary] + args,
                                         outputPath: log, environment: ["HOME": dir.path, "VOXBATCH_LOG_LEVEL": "warning"])
            let status = child.wait()
            return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        let (status, output) = try runAsNobody(["run", "export-items", "--config", config])
        #expect(status == 3, "\(output)")
        #expect(output.contains("Permission denied"), "\(output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: inbox).isEmpty)
        // The folder is writable again: the next run sends the prepared file, once.
        chmod(inbox, 0o755)
        let (again, out2) = try runAsNobody(["run", "export-items", "--config", config])
        #expect(again == 0, "\(out2)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: inbox).filter { $0.hasPrefix("ITEMS_") }.count == 1)

        // A read-only work folder: a received file cannot be downloaded; it stays waiting, and is taken
        // once the folder is writable again.
        try "Item code,Available\r\nTSH-M,4\r\n".write(toFile: base.appendingPathComponent("exchange/out/STOCK_20261130T0800.csv").path,
                                                     atomically: true, encoding: .utf8)
        try Shell.run(["chown", "65534:65534", base.appendingPathComponent("exchange/out/STOCK_20261130T0800.csv").path])
        let work = base.appendingPathComponent("work/inbound").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Shell.run(["chown", "-R", "65534:65534", base.appendingPathComponent("work").path])
        chmod(work, 0o555)
        let (readOnly, out3) = try runAsNobody(["run", "import-stock", "--config", config])
        #expect(readOnly == 3, "\(out3)")
        #expect(out3.contains("Permission denied"), "\(out3)")
        #expect(FileManager.default.fileExists(atPath: base.appendingPathComponent("exchange/out/STOCK_20261130T0800.csv").path))
        chmod(work, 0o755)
        let (recovered, out4) = try runAsNobody(["run", "import-stock", "--config", config])
        #expect(recovered == 0, "\(out4)")
    }
}
