import Glibc

/// Opens a TCP connection with a timeout (the system's connect timeout can be minutes).
enum TCPConnection {
    static func open(host: String, port: Int, timeoutMilliseconds: Int32, target: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &results)
        guard rc == 0, let first = results else {
            throw TransportError(.connectionFailed, operation: "connect", target: target,
                                 message: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(results) }
        var lastError = TransportError(.connectionFailed, operation: "connect", target: target,
                                       message: "no address for \(host)")
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let ai = candidate {
            candidate = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue),
                            ai.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&pfd, 1, timeoutMilliseconds)
                if ready == 0 {
                    Glibc.close(fd)
                    lastError = TransportError(.timeout, operation: "connect", target: target,
                                               message: "no answer from \(host):\(port) within \(timeoutMilliseconds) ms")
                    continue
                }
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                result = soError == 0 ? 0 : -1
                errno = soError
            }
            if result != 0 {
                let code = errno
                Glibc.close(fd)
                lastError = TransportError(.connectionFailed, operation: "connect", target: target,
                                           message: "cannot connect to \(host):\(port): \(String(cString: strerror(code)))")
                continue
            }
            _ = fcntl(fd, F_SETFL, flags)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        }
        throw lastError
    }
}
