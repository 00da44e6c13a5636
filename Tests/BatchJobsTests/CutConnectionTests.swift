@testable import BatchJobs
import CSVKit
import FileTransport
import Foundation
import TestSupport
import Testing

/// The jobs over SFTP through a proxy that cuts or stalls connections after a random number of bytes:
/// reruns finish the work with every order sent once and every despatch line applied once, and a
/// stalled connection ends in a timeout, not a hang.
@Suite(.serialized) final class CutConnectionTests {
    let server: SSHServerFixture

    init() throws {
        server = try SSHServerFixture()
        try server.makeFolders()
    }

    /// A client whose warehouse is the sshd behind `proxy`.
    func client(through proxy: FaultProxy, ioTimeout: Int = 5) throws -> FlowFixture {
        let knownHosts = server.directory.appendingPathComponent("known_hosts_proxy_\(proxy.port)").path
        try "[127.0.0.1]:\(proxy.port) \(server.hostKeyPublicLine)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        return try FlowFixture(warehouseURL: "sftp://\(server.user)@127.0.0.1:\(proxy.port)\(server.exchange)",
                               warehouseExtra: "  identity: \(server.clientKey)\n  known_hosts: \(knownHosts)\n"
                                + "  connect_timeout: 3\n  io_timeout: \(ioTimeout)")
    }

    /// Runs `job` until it completes, counting the runs a cut broke.
    func runUntilDone(_ f: FlowFixture, _ job: JobName) throws -> Int {
        var broken = 0
        for _ in 0..<200 {
            do {
                try f.run(job)
                return broken
            } catch {
                broken += 1
            }
        }
        Issue.record("\(job.rawValue) never completed")
        return broken
    }

    @Test func cutConnectionsNeverLoseOrDuplicateAnOrderOrADespatch() throws {
        // scripts/crash-soak raises the number of faulty connections (VOXBATCH_CUTS) and varies the seed.
        let env = ProcessInfo.processInfo.environment
        let cuts = env["VOXBATCH_CUTS"].flatMap(Int.init) ?? 14
        final class Plan: @unchecked Sendable {
            var rng: UInt64
            let cuts: Int
            init(seed: UInt64, cuts: Int) {
                rng = seed
                self.cuts = cuts
            }
            func next(_ n: Int) -> FaultProxy.Fault {
                guard n < cuts else { return .none }  // then the network heals
                rng = rng &* 6_364_136_223_846_793_005 &+ 1
                return .cut(afterBytes: 400 + Int((rng >> 33) % 12_000))
            }
        }
        let plan = Plan(seed: env["VOXBATCH_CRASH_SEED"].flatMap(UInt64.init) ?? 42, cuts: cuts)
        let proxy = try FaultProxy(targetPort: server.port) { plan.next($0) }
        defer { proxy.stop() }
        let f = try client(through: proxy)
        try f.products((0..<10).map { "SKU-\($0)" })
        try f.orders("a.csv", (0..<120).map { .init(number: "WEB-\($0)", lines: [("SKU-\($0 % 10)", 1)]) })
        let stock = "Item code,Available\r\n" + (0..<10).map { "SKU-\($0),50\r\n" }.joined()
        try stock.write(toFile: server.exchange + "/out/STOCK_20261130T0800.csv", atomically: true, encoding: .utf8)
        var broken = try runUntilDone(f, .importStock)
        broken += try runUntilDone(f, .exportOrders)
        let despatches = despatchColumns + (0..<120).map { despatch("WEB-\($0)", "DSP-\($0)", "SKU-\($0 % 10)", 1) }.joined()
        try despatches.write(toFile: server.exchange + "/out/DESP_1.csv", atomically: true, encoding: .utf8)
        broken += try runUntilDone(f, .importDespatches)
        #expect(proxy.faults >= min(cuts, 10))
        #expect(broken >= 1)
        print("cut-connections: \(proxy.faults) connections cut, \(broken) runs broken and rerun")

        // Every order once, on the server, in one file; no temporary file left behind.
        var files: [String: Set<String>] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: server.exchange + "/in")
        #expect(!names.contains { $0.hasSuffix(".part") }, "\(names)")
        for name in names where name.hasPrefix("SO_") {
            let reader = try CSVReader(path: server.exchange + "/in/" + name)
            while try reader.next() { files[reader.field(named: "SalesOrderNumber")!, default: []].insert(name) }
        }
        #expect(files.count == 120 && files.values.allSatisfy { $0.count == 1 })
        // Every despatch line once in the storefront.
        let journal = try String(contentsOfFile: f.root + "/shop/updates/fulfilments.csv", encoding: .utf8)
            .split(separator: "\n").dropFirst()
        #expect(journal.count == 120)
        #expect(Set(journal.map { $0.split(separator: ",")[0] }).count == 120)
    }

    @Test func aSlowLinkIsSlowButCorrect() throws {
        let proxy = try FaultProxy(targetPort: server.port) { _ in .slow(bytesPerSecond: 256 * 1024) }
        defer { proxy.stop() }
        let f = try client(through: proxy)
        try f.products(["SKU-1"])
        try f.orders("a.csv", (0..<300).map { .init(number: "WEB-\($0)", lines: [("SKU-1", 1)]) })
        try "Item code,Available\r\nSKU-1,500\r\n".write(toFile: server.exchange + "/out/STOCK_20261130T0800.csv",
                                                       atomically: true, encoding: .utf8)
        try f.run(.importStock)
        #expect(try f.run(.exportOrders).summary.applied == 300)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.exchange + "/in").filter { $0.hasPrefix("SO_") }.count == 1)
    }

    @Test func aStalledConnectionEndsInATimeoutNotAHang() throws {
        let proxy = try FaultProxy(targetPort: server.port) { _ in .stall(afterBytes: 6_000) }
        defer { proxy.stop() }
        let f = try client(through: proxy, ioTimeout: 1)
        try f.products(["SKU-1"])
        try f.orders("a.csv", (0..<200).map { .init(number: "WEB-\($0)", lines: [("SKU-1", 1)]) })
        try "Item code,Available\r\nSKU-1,50\r\n".write(toFile: server.exchange + "/out/STOCK_20261130T0800.csv",
                                                    atomically: true, encoding: .utf8)
        let started = Date()
        #expect(throws: (any Error).self) { try f.run(.importStock) }
        #expect(Date().timeIntervalSince(started) < 60)
    }
}
