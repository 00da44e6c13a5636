import Foundation
import Glibc

/// TCP on 127.0.0.1 for the test servers and proxies.
enum Loopback {
    /// A listening socket at a port the system picks. It also makes SIGPIPE harmless: a peer that hangs
    /// up must not kill the test process.
    ///
    /// - Returns: The listening descriptor and its port.
    static func listen(backlog: Int32, what: String) throws -> (descriptor: Int32, port: Int) {
        signal(SIGPIPE, SIG_IGN)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound, Glibc.listen(fd, backlog) == 0 else {
            if fd >= 0 { close(fd) }
            throw FixtureError("\(what) cannot listen on 127.0.0.1")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A socket connected to `port` on 127.0.0.1, or `nil` when nothing accepts there.
    static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if connected { return fd }
        close(fd)
        return nil
    }
}

/// A loopback listener whose own thread accepts connections and hands each to a handler, with its
/// 0-based number, until ``stop()``.
final class LoopbackAcceptor: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var stopped = false

    init(backlog: Int32, what: String) throws {
        (listener, port) = try Loopback.listen(backlog: backlog, what: what)
    }

    /// Starts accepting; `handle` runs on the accepting thread (it holds what it captures until stopped).
    func start(_ handle: @escaping @Sendable (_ client: Int32, _ number: Int) -> Void) {
        Thread.detachNewThread { [self] in
            var number = 0
            while true {
                let client = accept(listener, nil, nil)
                lock.lock()
                let done = stopped
                lock.unlock()
                if done {
                    if client >= 0 { close(client) }
                    close(listener)
                    return
                }
                guard client >= 0 else { continue }
                handle(client, number)
                number += 1
            }
        }
    }

    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        lock.unlock()
        // Only shut the socket down: the accepting thread closes it when it sees the stop. Closing it here
        // would free the descriptor number while that thread may still call accept() on it — and accept
        // connections meant for the next server that gets the same number.
        if !wasStopped { shutdown(listener, Int32(SHUT_RDWR)) }
    }
}
