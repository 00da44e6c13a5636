import Foundation
import Glibc

/// A TCP proxy on 127.0.0.1 that forwards to a target port and misbehaves on purpose: for each new
/// connection it asks `plan` what to do — pass everything, cut the connection after N bytes (in either
/// direction), or stall (stop forwarding, keeping the connection open) after N bytes.
public final class FaultProxy: @unchecked Sendable {
    public enum Fault: Sendable, Equatable {
        case none
        case cut(afterBytes: Int)
        case stall(afterBytes: Int)
        /// Forwards everything, at most this many bytes a second in each direction.
        case slow(bytesPerSecond: Int)
    }

    public var port: Int { acceptor.port }
    private let acceptor: LoopbackAcceptor
    private let targetPort: Int
    private let plan: @Sendable (Int) -> Fault
    private let lock = NSLock()
    private var faultsApplied = 0

    /// Starts listening; `plan(n)` decides the fault of the n-th connection (0-based).
    public init(targetPort: Int, plan: @escaping @Sendable (Int) -> Fault) throws {
        self.targetPort = targetPort
        self.plan = plan
        acceptor = try LoopbackAcceptor(backlog: 16, what: "the proxy")
        acceptor.start { [self] client, number in
            let fault = plan(number)
            if fault != .none {
                lock.lock()
                faultsApplied += 1
                lock.unlock()
            }
            Thread.detachNewThread { [self] in relay(client, fault: fault) }
        }
    }

    /// How many connections met a fault.
    public var faults: Int {
        lock.lock()
        defer { lock.unlock() }
        return faultsApplied
    }

    public func stop() { acceptor.stop() }

    private func relay(_ client: Int32, fault: Fault) {
        guard let server = Loopback.connect(port: targetPort) else {
            close(client)
            return
        }
        let budget = Budget(fault: fault)
        let group = DispatchGroup()
        for (from, to) in [(client, server), (server, client)] {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    let n = read(from, &buffer, buffer.count)
                    guard n > 0 else { break }
                    guard let ok = budget.allow(n) else {
                        if case .stall = fault { while true { usleep(100_000); if read(from, &buffer, 1) <= 0 { return } } }
                        break
                    }
                    if case .slow(let rate) = fault { usleep(UInt32(min(1_000_000, ok * 1_000_000 / max(1, rate)))) }
                    var offset = 0
                    while offset < ok {
                        let w = buffer[offset..<ok].withUnsafeBytes { send(to, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        guard w > 0 else { return }
                        offset += w
                    }
                    if ok < n {
                        if case .stall = fault { while true { usleep(100_000); if read(from, &buffer, 1) <= 0 { return } } }
                        break
                    }
                }
                shutdown(from, Int32(SHUT_RDWR))
                shutdown(to, Int32(SHUT_RDWR))
            }
        }
        group.wait()
        close(client)
        close(server)
    }
}

/// Bytes that may still pass a connection before its fault strikes, shared by both directions.
private final class Budget: @unchecked Sendable {
    let fault: FaultProxy.Fault
    private let lock = NSLock()
    private var passed = 0

    init(fault: FaultProxy.Fault) { self.fault = fault }

    /// How many of `n` bytes may pass; `nil` once the fault struck.
    func allow(_ n: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        switch fault {
        case .none, .slow: return n
        case .cut(let limit), .stall(let limit):
            guard passed < limit else { return nil }
            let ok = min(n, limit - passed)
            passed += ok
            return ok
        }
    }
}
