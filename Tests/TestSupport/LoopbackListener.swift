import Glibc

/// A listening TCP socket on 127.0.0.1 at a port the system picks, for the test servers. It also makes
/// SIGPIPE harmless: a peer that hangs up must not kill the test process.
enum LoopbackListener {
    /// Returns the listening descriptor and its port.
    static func open(backlog: Int32, what: String) throws -> (descriptor: Int32, port: Int) {
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
        guard fd >= 0, bound, listen(fd, backlog) == 0 else {
            if fd >= 0 { close(fd) }
            throw FixtureError("\(what) cannot listen on 127.0.0.1")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
