import CCurl
import Foundation
import Logging

/// An HTTP request.
public struct HTTPRequest: Sendable, Hashable {
    public var method: String
    public var url: String
    public var headers: [String: String]
    public var body: Data?
    /// HTTP Basic credentials (sent only over HTTPS or to loopback); never logged.
    public var basicAuth: BasicAuth?
    /// The URL itself is a secret (a webhook whose path is its token): logs and errors show only its host.
    public var urlIsSecret = false
    /// Whether sending it twice does no harm (GET, PUT, DELETE, HEAD; or set for a POST that is safe).
    public var isIdempotent: Bool


    public struct BasicAuth: Sendable, Hashable {
        public var user: String
        public var password: String
        public init(user: String, password: String) {
            self.user = user
            self.password = password
        }
    }

    public init(method: String = "GET", url: String, headers: [String: String] = [:], body: Data? = nil,
                basicAuth: BasicAuth? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.basicAuth = basicAuth
        isIdempotent = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].contains(method.uppercased())
    }

    /// A JSON request.
    public static func json(_ method: String, _ url: String, body: Data) -> HTTPRequest {
        HTTPRequest(method: method, url: url, headers: ["Content-Type": "application/json"], body: body)
    }
}

/// An HTTP response.
public struct HTTPResponse: Sendable, Hashable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: Data

    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// How an ``HTTPClient`` behaves.
public struct HTTPSettings: Sendable, Hashable {
    /// Seconds for the whole request.
    public var timeout: Double = 30
    public var connectTimeout: Double = 10
    /// 429, 5xx and connection failures are retried with this policy (honouring `Retry-After`).
    public var retry = RetryPolicy(maxAttempts: 4, initialDelay: 1, maxDelay: 30)
    /// At most this many requests a second (0: no limit), per client.
    public var requestsPerSecond: Double = 0
    public var userAgent = "voxbatch/0.1"

    public init() {}
}

/// A small HTTP client on libcurl: TLS verification on, timeouts, connection reuse (one handle per
/// client), gzip, retries with backoff on 429 and 5xx honouring `Retry-After`, and a request rate limit.
/// Shared by the storefront connectors and the alert webhook.
///
/// Credentials (Basic auth, `Authorization` headers) are never logged; URLs are logged without their
/// query string.
public final class HTTPClient: @unchecked Sendable {
    public let settings: HTTPSettings
    private let logger: Logger
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()
    /// When the last request went out, on the monotonic clock (for the rate limit).
    private var lastRequest: Stopwatch?
    /// The caller's clock, for a `Retry-After` date when the answer carries no `Date` of its own.
    private let clock: () -> Date
    /// How the client waits (tests pass a recorder).
    public var sleep: (Double) -> Void = { Retry.sleep(seconds: $0) }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// - Parameter clock: The job's clock; read only to turn a `Retry-After` date into a delay when the
    ///   response has no `Date` header (the server's own clock is preferred: it makes the delay immune to
    ///   skew between the two machines).
    public init(settings: HTTPSettings = HTTPSettings(), logger: Logger = Logger(label: "voxbatch.http"),
                clock: @escaping () -> Date) {
        _ = Self.globalInit
        self.settings = settings
        self.logger = logger
        self.clock = clock
        handle = curl_easy_init()
    }

    deinit { curl_easy_cleanup(handle) }

    /// Sends `request`, retrying transient failures; a 4xx other than 429 is returned, not thrown.
    ///
    /// - Throws: ``TransportError`` (`timeout`, `connection-failed`, `server-busy` after the retries,
    ///   `configuration` for a URL or credentials that must not be used).
    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        try checkSafe(request)
        var attempt = 1
        while true {
            let response: HTTPResponse
            do {
                response = try perform(request)
            } catch var error as TransportError where error.isTransient && attempt < settings.retry.maxAttempts
                        && (request.isIdempotent || error.code == .connectionFailed) {
                // A POST that may have reached the server is not sent again blindly: the caller looks first.
                error.attempts = attempt
                let delay = settings.retry.baseDelay(after: attempt)
                logger.notice("request failed; retrying", metadata: ["url": "\(Self.shown(request))",
                                                                      "error": "\(error.code)", "delay": "\(delay)"])
                sleep(delay)
                attempt += 1
                continue
            }
            // 429 means "not processed"; a 5xx may have half-done a POST, so only idempotent requests retry it.
            guard response.status == 429 || (response.status >= 500 && request.isIdempotent) else { return response }
            guard attempt < settings.retry.maxAttempts else {
                var busy = TransportError(.serverBusy, operation: "\(request.method)", target: Self.shown(request),
                                          message: "HTTP \(response.status) after \(attempt) attempts", attempts: attempt)
                busy.httpStatus = response.status
                throw busy
            }
            let delay = Self.retryAfter(response.headers["retry-after"],
                                        now: Self.httpDate(response.headers["date"]) ?? clock())
                .map { min($0, settings.retry.maxDelay * 4) }
                ?? settings.retry.baseDelay(after: attempt)
            logger.notice("server busy; retrying", metadata: ["url": "\(Self.shown(request))",
                                                              "status": "\(response.status)", "delay": "\(delay)"])
            sleep(delay)
            attempt += 1
        }
    }

    /// Seconds from a `Retry-After` header: a number of seconds, or an HTTP date counted from `now`.
    static func retryAfter(_ value: String?, now: Date) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return max(0, seconds) }
        return httpDate(value).map { max(0, $0.timeIntervalSince(now)) }
    }

    /// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7).
    static func httpDate(_ value: String?) -> Date? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: value)
    }

    /// The request's URL as logs and errors may show it.
    static func shown(_ request: HTTPRequest) -> String {
        guard request.urlIsSecret else { return redacted(request.url) }
        guard let c = URLComponents(string: request.url), let scheme = c.scheme, let host = c.host else { return "(secret URL)" }
        return "\(scheme)://\(host)/…"
    }

    /// A URL without its query string and user info, for logs and errors.
    public static func redacted(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return "(unparseable URL)" }
        c.query = nil
        c.user = nil
        c.password = nil
        return c.string ?? "(unparseable URL)"
    }

    private func checkSafe(_ request: HTTPRequest) throws {
        guard let c = URLComponents(string: request.url), let scheme = c.scheme?.lowercased(), c.host != nil else {
            throw TransportError(.configuration, operation: request.method, target: "(URL)", message: "not a valid URL")
        }
        let loopback = ["127.0.0.1", "localhost", "::1"].contains(c.host ?? "")
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw TransportError(.configuration, operation: request.method, target: Self.shown(request),
                                 message: "only https:// URLs are used (plain http only to this machine)")
        }
    }

    private func throttle() {
        guard settings.requestsPerSecond > 0 else { return }
        if let lastRequest {
            let gap = 1 / settings.requestsPerSecond - lastRequest.seconds
            if gap > 0 { sleep(gap) }
        }
        lastRequest = Stopwatch()
    }

    /// Collects a response body and headers from libcurl's callbacks.
    private final class Collector {
        var body = Data()
        var headers: [String: String] = [:]
    }

    private func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        lock.lock()
        defer { lock.unlock() }
        throttle()
        let curl = handle
        curl_easy_reset(curl)  // keeps the connection cache: the next request to the host reuses it
        let collector = Collector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        var headers = request.headers
        if let auth = request.basicAuth {
            headers["Authorization"] = "Basic " + Data("\(auth.user):\(auth.password)".utf8).base64EncodedString()
        }
        headers["Expect"] = ""  // no 100-continue round trip
        for (name, value) in headers { list = curl_slist_append(list, value.isEmpty ? "\(name):" : "\(name): \(value)") }

        vb_curl_setopt_string(curl, CURLOPT_URL, request.url)
        vb_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
        vb_curl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, 1)
        vb_curl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, 2)
        vb_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        vb_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, Int(settings.timeout * 1000))
        vb_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout * 1000))
        vb_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        vb_curl_setopt_string(curl, CURLOPT_ACCEPT_ENCODING, "")  // gzip and deflate, decoded by libcurl
        vb_curl_setopt_string(curl, CURLOPT_USERAGENT, settings.userAgent)
        vb_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, list)
        vb_curl_setopt_long(curl, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        vb_curl_setopt_write(curl, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
            collector.body.append(UnsafeRawPointer(data!).assumingMemoryBound(to: UInt8.self), count: size * count)
            return size * count
        }
        vb_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, context)
        vb_curl_setopt_write(curl, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
            if line.hasPrefix("HTTP/") { collector.headers = [:] }  // a new response (after a redirect or 100)
            if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                collector.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return size * count
        }
        vb_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, context)

        let body = request.body ?? Data()
        let code: CURLcode = body.withUnsafeBytes { raw in
            if request.body != nil {
                vb_curl_setopt_long(curl, CURLOPT_POSTFIELDSIZE, raw.count)
                vb_curl_setopt_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
            return curl_easy_perform(curl)
        }
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            let kind: TransportError.Code
            switch code {
            case CURLE_OPERATION_TIMEDOUT: kind = .timeout
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST:
                kind = .connectionFailed  // the request never left
            case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
                kind = .connectionLost  // it may have reached the server
            case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CONNECT_ERROR:
                kind = .hostKeyMismatch  // the server's certificate could not be verified: never retried
            default: kind = .protocolError
            }
            throw TransportError(kind, operation: request.method, target: Self.shown(request), message: message)
        }
        var status = 0
        vb_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        logger.debug("http", metadata: ["method": "\(request.method)", "url": "\(Self.shown(request))",
                                       "status": "\(status)", "bytes": "\(collector.body.count)"])
        return HTTPResponse(status: status, headers: collector.headers, body: collector.body)
    }
}
