import FileTransport
import Foundation
import TestSupport
import Testing

/// What every remote transport promises, run against each real server the tests start (sshd, vsftpd): the
/// same listing, moving and atomic-drop semantics whatever the protocol.
enum TransportContract {
    /// Uploads a small CSV and a `megabytes` file (named with a space), each byte for byte on the server
    /// and back, reporting progress.
    static func roundTrips(_ transport: any FileTransport, exchange: String, work: URL, megabytes: Int) throws {
        let small = work.appendingPathComponent("small.csv").path
        try "SalesOrderNumber,ItemCode\r\nWEB-1,SKU-1\r\n".write(toFile: small, atomically: true, encoding: .utf8)
        let large = work.appendingPathComponent("large.bin").path
        try makeFile(large, megabytes: megabytes)
        var progressCalls = 0
        for (local, remote) in [(small, "in/small.csv"), (large, "in/large file.bin")] {
            let sent = try transport.upload(localPath: local, to: remote) { _, _ in progressCalls += 1 }
            let size = try FileManager.default.attributesOfItem(atPath: local)[.size] as? NSNumber
            #expect(sent == size?.int64Value)
            #expect(try Shell.sha256(exchange + "/" + remote) == (try Shell.sha256(local)))
            let back = work.appendingPathComponent("back-\(sent)").path
            _ = FileManager.default.createFile(atPath: back, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: back))
            #expect(try transport.download(remote, progress: nil) { handle.write(Data($0)) } == sent)
            try handle.close()
            #expect(try Shell.sha256(back) == (try Shell.sha256(local)))
        }
        #expect(progressCalls > 2)
    }

    /// Lists with a glob; moves to the archive (refused onto an existing name without `overwrite`,
    /// replacing it with); creates nested folders; removes, and a second remove is `no-such-file`.
    /// `place` writes a file as the warehouse would (path relative to the exchange, content).
    static func listsMovesAndRemoves(_ transport: any FileTransport, exchange: String,
                                     place: (String, String) throws -> Void) throws {
        for name in ["DESP_001.csv", "DESP_002.csv", "STOCK_001.csv", "notes.txt"] { try place("out/" + name, "x") }
        try FileManager.default.createDirectory(atPath: exchange + "/out/sub", withIntermediateDirectories: true)
        #expect(try transport.list("out", matching: "DESP_*.csv").map(\.name) == ["DESP_001.csv", "DESP_002.csv"])
        let all = try transport.list("out")
        #expect(all.map(\.name) == ["DESP_001.csv", "DESP_002.csv", "STOCK_001.csv", "notes.txt", "sub"])
        #expect(all.first { $0.name == "sub" }?.isDirectory == true)
        #expect(all.first?.size == 1 && all.first?.path == "out/DESP_001.csv")

        try transport.rename("out/DESP_001.csv", to: "archive/DESP_001.csv", overwrite: false)
        #expect(FileManager.default.fileExists(atPath: exchange + "/archive/DESP_001.csv"))
        #expect(!FileManager.default.fileExists(atPath: exchange + "/out/DESP_001.csv"))
        try place("out/DESP_001.csv", "y")
        #expect { try transport.rename("out/DESP_001.csv", to: "archive/DESP_001.csv", overwrite: false) } throws: {
            ($0 as? TransportError)?.code == .alreadyExists
        }
        try transport.rename("out/DESP_001.csv", to: "archive/DESP_001.csv", overwrite: true)
        #expect(try String(contentsOfFile: exchange + "/archive/DESP_001.csv", encoding: .utf8) == "y")

        try transport.makeDirectory("archive/2026/11")
        #expect(try transport.stat("archive/2026/11")?.isDirectory == true)
        try transport.remove("out/notes.txt")
        #expect(try transport.stat("out/notes.txt") == nil)
        #expect { try transport.remove("out/notes.txt") } throws: { ($0 as? TransportError)?.code == .noSuchFile }
    }

    /// A 64 MiB drop whose connection `cut` breaks after 8 MiB: a transient error, no file under its final
    /// name; the next run removes the leftover and publishes the whole file.
    static func cutMidUploadLeavesNoFinalFile(_ transport: any FileTransport, exchange: String, work: URL,
                                              cut: @escaping () -> Void) throws {
        let local = work.appendingPathComponent("orders.csv").path
        try makeFile(local, megabytes: 64)
        let drop = AtomicDrop(transport: transport)
        var wasCut = false
        #expect {
            try drop.drop(localPath: local, to: "in/SO_0001.csv") { bytes, _ in
                if bytes > 8 << 20 && !wasCut {
                    wasCut = true
                    cut()
                }
            }
        } throws: { error in
            let e = error as? TransportError
            return e?.isTransient == true && (e?.code == .connectionLost || e?.code == .timeout)
        }
        #expect(wasCut)
        #expect(!FileManager.default.fileExists(atPath: exchange + "/in/SO_0001.csv"))

        let removed = try drop.cleanLeftovers(in: "in")
        #expect(removed.allSatisfy { $0.hasSuffix(".part") })
        let published = try drop.drop(localPath: local, to: "in/SO_0001.csv")
        #expect(published.size == 64 << 20)
        #expect(try Shell.sha256(exchange + "/in/SO_0001.csv") == (try Shell.sha256(local)))
        #expect(try transport.list("in").map(\.name) == ["SO_0001.csv"])
    }
}
