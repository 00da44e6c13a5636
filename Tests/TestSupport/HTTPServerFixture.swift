import Foundation
import Glibc

/// A small HTTP/1.1 server on 127.0.0.1 for tests: it records every request and answers with what the
/// test's handler returns (one request per connection, `Connection: close`).
public final class HTTPServerFixture: @unchecked Sendable {
    /// A request as received.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [String: String]
        public var body: Data
        public var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    }

    /// A response to send.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
        /// Seconds to wait before answering (a server slower than the client's timeout).
        public var delay: Double = 0
        /// Close the connection after the headers and this many bytes of the body (a connection cut
        /// mid-response: the client has the status and a `Content-Length` it never gets).
        public var cutBodyAfterBytes: Int?

        public init(status: Int = 200, headers: [String: String] = [:], body: Data = Data()) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// This answer, sent only after `seconds`.
        public func delayed(_ seconds: Double) -> Response {
            var r = self
            r.delay = seconds
            return r
        }

        /// This answer, cut off after `bytes` bytes of its body.
        public func cutBody(afterBytes bytes: Int) -> Response {
            var r = self
            r.cutBodyAfterBytes = bytes
            return r
        }

        public static func json(_ object: Any, status: Int = 200, headers: [String: String] = [:]) -> Response {
            var h = headers
            h["Content-Type"] = "application/json"
            return Response(status: status, headers: h, body: try! JSONSerialization.data(withJSONObject: object))
        }
    }

    public var port: Int { acceptor.port }
    private let acceptor: LoopbackAcceptor
    private let lock = NSLock()
    private var recorded: [Request] = []
    private let handler: @Sendable (Request) -> Response

    /// Starts listening; `handler` answers each request.
    public init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        acceptor = try LoopbackAcceptor(backlog: 64, what: "the HTTP fixture")
        acceptor.start { [self] client, _ in Thread.detachNewThread { [self] in serve(client) } }
    }

    deinit { stop() }

    /// Every request received so far.
    public var requests: [Request] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func stop() { acceptor.stop() }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var headerEnd: Int?
        while headerEnd == nil {
            let n = read(client, &chunk, chunk.count)
            guard n > 0 else { return }
            buffer += chunk[0..<n]
            if let r = buffer.indices.dropLast(3).first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10 }) {
                headerEnd = r + 4
            }
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = head[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in head.dropFirst() where line.contains(":") {
            let i = line.firstIndex(of: ":")!
            headers[line[..<i].lowercased()] = line[line.index(after: i)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count - headerEnd! < length {
            let n = read(client, &chunk, chunk.count)
            guard n > 0 else { break }
            buffer += chunk[0..<n]
        }
        let request = Request(method: String(parts[0]), path: String(parts[1]), headers: headers,
                              body: Data(buffer[headerEnd!..<min(buffer.count, headerEnd! + length)]))
        lock.lock()
        recorded.append(request)
        lock.unlock()
        let response = handler(request)
        if response.delay > 0 { Thread.sleep(forTimeInterval: response.delay) }
        var text = "HTTP/1.1 \(response.status) X\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        let bytes = Array(text.utf8) + Array(response.body.prefix(response.cutBodyAfterBytes ?? response.body.count))
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }
}
