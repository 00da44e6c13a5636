import FileTransport
import Foundation
import Glibc
import Testing

/// A fresh exchange folder with the usual layout.
func makeExchange() throws -> String {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-exchange-\(UUID().uuidString)").path
    for folder in ["in", "out", "archive", "error"] {
        try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
    }
    return root
}

@Suite struct LocalTransportTests {
    @Test func sameSemanticsAsSFTPForListingMovingAndRemoving() throws {
        let root = try makeExchange()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["DESP_1.csv", "DESP_2.csv", "STOCK_1.csv"] {
            try "x".write(toFile: root + "/out/" + name, atomically: true, encoding: .utf8)
        }
        let t = try LocalFolderTransport(root: root)
        #expect(try t.list("out", matching: "DESP_*.csv").map(\.path) == ["out/DESP_1.csv", "out/DESP_2.csv"])
        try t.rename("out/DESP_1.csv", to: "archive/DESP_1.csv", overwrite: false)
        try "y".write(toFile: root + "/out/DESP_1.csv", atomically: true, encoding: .utf8)
        #expect { try t.rename("out/DESP_1.csv", to: "archive/DESP_1.csv", overwrite: false) } throws: {
            ($0 as? TransportError)?.code == .alreadyExists
        }
        try t.rename("out/DESP_1.csv", to: "archive/DESP_1.csv", overwrite: true)
        #expect(try String(contentsOfFile: root + "/archive/DESP_1.csv", encoding: .utf8) == "y")
        try t.makeDirectory("archive/2026/11")
        #expect(try t.stat("archive/2026/11")?.isDirectory == true)
        #expect(try t.stat("out/none.csv") == nil)
        #expect { try t.remove("out/none.csv") } throws: { ($0 as? TransportError)?.code == .noSuchFile }
        var collected: [UInt8] = []
        #expect(try t.download("out/DESP_2.csv", progress: nil) { collected += $0 } == 1)
        #expect(collected == [UInt8(ascii: "x")])
    }

    @Test func unsafePathsAndHostileNamesAreRefused() throws {
        let root = try makeExchange()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let t = try LocalFolderTransport(root: root)
        for path in ["../etc/passwd", "/etc/passwd", "out/../../x", "out/a\u{1}b"] {
            #expect { try t.stat(path) } throws: { ($0 as? TransportError)?.code == .unsafeName }
        }
        try "x".write(toFile: root + "/out/bad\tname.csv", atomically: true, encoding: .utf8)
        #expect { try t.list("out") } throws: { ($0 as? TransportError)?.code == .unsafeName }
    }

    @Test func symbolicLinksAreNeverFollowed() throws {
        let root = try makeExchange()
        defer { try? FileManager.default.removeItem(atPath: root) }
        symlink("/etc/passwd", root + "/out/passwd.csv")
        let t = try LocalFolderTransport(root: root)
        #expect(try t.list("out").isEmpty)
        #expect { try t.download("out/passwd.csv", progress: nil) { _ in } } throws: {
            ($0 as? TransportError)?.code == .unsafeName
        }
    }

    @Test func atomicDropPublishesOnlyCompleteFilesAndCleansLeftovers() throws {
        let root = try makeExchange()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let t = try LocalFolderTransport(root: root)
        try "half".write(toFile: root + "/in/SO_0001.csv.part", atomically: true, encoding: .utf8)
        let local = root + "/local.csv"
        try "SalesOrderNumber\r\nWEB-1\r\n".write(toFile: local, atomically: true, encoding: .utf8)
        let drop = AtomicDrop(transport: t)
        #expect(try drop.cleanLeftovers(in: "in") == ["in/SO_0001.csv.part"])
        var sawFinalDuringUpload = false
        try drop.drop(localPath: local, to: "in/SO_0001.csv") { _, _ in
            sawFinalDuringUpload = FileManager.default.fileExists(atPath: root + "/in/SO_0001.csv")
        }
        #expect(!sawFinalDuringUpload)
        #expect(try t.list("in").map(\.name) == ["SO_0001.csv"])
        #expect { try drop.drop(localPath: local, to: "in/SO_0001.csv") } throws: {
            ($0 as? TransportError)?.code == .alreadyExists
        }

        let staged = AtomicDrop(transport: t, staging: .folder("tmp"))
        try t.makeDirectory("tmp")
        try staged.drop(localPath: local, to: "in/SO_0002.csv")
        #expect(try t.list("tmp").isEmpty)
        #expect(try t.stat("in/SO_0002.csv")?.size == 25)
    }

    @Test func stableListingSkipsFilesStillBeingWritten() throws {
        let root = try makeExchange()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let t = try LocalFolderTransport(root: root)
        for name in ["DESP_done.csv", "DESP_growing.csv", ".DESP_hidden.csv", "DESP_upload.csv.part", "DESP_x.csv.tmp"] {
            try "a,b\r\n".write(toFile: root + "/out/" + name, atomically: true, encoding: .utf8)
        }
        let pickup = Pickup(transport: t, readiness: .stableListing(interval: 0)) { _ in
            // Between the two listings the warehouse appends to one file.
            let handle = FileHandle(forWritingAtPath: root + "/out/DESP_growing.csv")!
            handle.seekToEndOfFile()
            handle.write(Data("1,2\r\n".utf8))
            handle.closeFile()
        }
        #expect(try pickup.readyFiles(in: "out", matching: "DESP_*").map(\.name) == ["DESP_done.csv"])
    }

    @Test func doneMarkersGateThePickup() throws {
        let root = try makeExchange()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let t = try LocalFolderTransport(root: root)
        for name in ["STOCK_1.csv", "STOCK_2.csv", "STOCK_2.csv.done", "STOCK_3.csv", "STOCK_3.csv.ok"] {
            try "x".write(toFile: root + "/out/" + name, atomically: true, encoding: .utf8)
        }
        let pickup = Pickup(transport: t, readiness: .doneMarker(suffixes: [".done", ".ok"]))
        let ready = try pickup.readyFiles(in: "out", matching: "STOCK_*")
        #expect(ready.map(\.name) == ["STOCK_2.csv", "STOCK_3.csv"])
        #expect(try pickup.markers(for: ready[0], in: "out") == ["out/STOCK_2.csv.done"])
    }
}

@Suite struct SecretAndLocationTests {
    @Test func secretFilesMustBePrivate() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)").path
        defer { unlink(path) }
        try "s3cret\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        #expect { try SecretSource.file(path).read() } throws: {
            ($0 as? TransportError)?.code == .configuration && "\($0)".contains("chmod 600")
        }
        chmod(path, 0o600)
        #expect(try SecretSource.file(path).read() == "s3cret")
        #expect(SecretSource.file(path).description == "file \(path)")
    }

    @Test func environmentSecretsMustBeSet() throws {
        #expect(try SecretSource.environment("PATH").read() == ProcessInfo.processInfo.environment["PATH"])
        #expect { try SecretSource.environment("VOXBATCH_TEST_NEVER_SET_SECRET").read() } throws: {
            "\($0)".contains("VOXBATCH_TEST_NEVER_SET_SECRET is not set")
        }
    }

    @Test func parsesExchangeURLs() throws {
        #expect(try TransportLocation(url: "sftp://ops@wh.example.com:2222/exchange")
                == .sftp(host: "wh.example.com", port: 2222, user: "ops", path: "/exchange"))
        #expect(try TransportLocation(url: "sftp://ops@10.0.0.5") == .sftp(host: "10.0.0.5", port: 22, user: "ops", path: "."))
        #expect(try TransportLocation(url: "sftp://ops@[::1]:22/x") == .sftp(host: "::1", port: 22, user: "ops", path: "/x"))
        #expect(try TransportLocation(url: "file:///srv/exchange") == .folder(path: "/srv/exchange"))
        #expect { try TransportLocation(url: "sftp://ops:hunter2@wh/x") } throws: { "\($0)".contains("passwords do not belong") }
        #expect { try TransportLocation(url: "ftp://wh/x") } throws: { ($0 as? TransportError)?.code == .configuration }
        #expect { try TransportLocation(url: "sftp://wh/x") } throws: { "\($0)".contains("user is missing") }
    }

    @Test func retryGivesUpAtOnceOnPermanentErrors() throws {
        var calls = 0
        #expect {
            try Retry.run(RetryPolicy(maxAttempts: 5), operation: "x", sleep: { _ in }) {
                calls += 1
                throw TransportError(.authenticationFailed, operation: "x", target: "t", message: "no")
            }
        } throws: { ($0 as? TransportError)?.attempts == 1 }
        #expect(calls == 1)
        var attempts = 0
        let value = try Retry.run(RetryPolicy(maxAttempts: 5), operation: "x", sleep: { _ in }) { () throws -> Int in
            attempts += 1
            if attempts < 3 { throw TransportError(.timeout, operation: "x", target: "t", message: "slow") }
            return 42
        }
        #expect(value == 42 && attempts == 3)
    }
}
