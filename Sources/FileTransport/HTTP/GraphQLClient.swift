import Foundation
import Logging

/// A GraphQL operation: its document, the operation to run in it, and its variables.
public struct GraphQLOperation {
    /// The operation's name, as in the document (`query Orders(...)`); sent as `operationName`.
    public var name: String
    /// The document (one or more operations and fragments).
    public var document: String
    /// Variables, as JSON values.
    public var variables: [String: Any]

    public init(_ name: String, _ document: String, variables: [String: Any] = [:]) {
        self.name = name
        self.document = document
        self.variables = variables
    }

    /// Whether it is a mutation (not safe to send twice blindly).
    /// Found by scanning for `mutation`, white space and the operation's name as a whole word: a regular
    /// expression would open ICU on Linux, 6 MiB of the run's memory, for every storefront call.
    public var isMutation: Bool {
        let text = Array(document.utf8), keyword = Array("mutation".utf8), target = Array(name.utf8)
        func isWordByte(_ b: UInt8) -> Bool {
            b == 0x5F || (0x30...0x39).contains(b) || (0x61...0x7A).contains(b | 0x20) || b >= 0x80
        }
        var i = 0
        while i + keyword.count <= text.count {
            defer { i += 1 }
            guard text[i..<(i + keyword.count)].elementsEqual(keyword) else { continue }
            var j = i + keyword.count
            while j < text.count, text[j] == 0x20 || text[j] == 0x09 || text[j] == 0x0A || text[j] == 0x0D { j += 1 }
            let end = j + target.count
            if j > i + keyword.count, !target.isEmpty, end <= text.count, text[j..<end].elementsEqual(target),
               end == text.count || !isWordByte(text[end]) {
                return true
            }
        }
        return false
    }
}

/// A GraphQL failure, typed so callers know whether to try again.
public struct GraphQLError: Error, CustomStringConvertible, Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// The server is throttling this client (HTTP 429 after the retries, a THROTTLED error): try later.
        case throttled
        /// The server failed (5xx, an internal error): try later.
        case server
        /// Credentials refused or missing a permission (HTTP 401/403, UNAUTHENTICATED, FORBIDDEN).
        case authentication
        /// The document or its variables are invalid (HTTP 400, a validation error): a bug or a schema change.
        case validation
        /// A mutation ran and refused the input (`userErrors`): the data must be fixed.
        case userErrors
        /// The answer is not what a GraphQL server sends.
        case malformed
    }

    public var kind: Kind
    /// The operation's name.
    public var operation: String
    /// The server's messages, with their paths (`path.to.field: message`).
    public var messages: [String]

    public init(_ kind: Kind, operation: String, messages: [String]) {
        self.kind = kind
        self.operation = operation
        self.messages = messages
    }

    /// Whether trying again later may work.
    public var isTransient: Bool { kind == .throttled || kind == .server }

    public var description: String { "\(operation): \(kind.rawValue): " + messages.joined(separator: "; ") }
}

/// GraphQL over the libcurl ``HTTPClient`` (Centra's Integration API, Marketplacer's Seller API): POSTs of
/// `query`, `operationName` and `variables`; top-level `errors` and mutations' `userErrors` as a typed
/// ``GraphQLError``; cursor pagination (`pageInfo { hasNextPage endCursor }`) read a page at a time; and
/// the server's pace honoured: `Retry-After` on 429 (through the HTTP client), rate-limit headers
/// (`X-RateLimit-Remaining`/`-Reset`, `RateLimit-Remaining`/`-Reset`) before the next request, and
/// throttling errors retried with backoff (a throttled operation was not executed).
///
/// Queries are read-only, so a query that failed in transit is sent again; a mutation never is: the
/// caller looks at the storefront first.
public final class GraphQLClient {
    public let endpoint: String
    private let headers: [String: String]
    private let http: HTTPClient
    private let logger: Logger
    private let clock: () -> Date
    /// Seconds to wait before the next request, as the last answer's rate-limit headers asked.
    private var pause: Double = 0

    /// - Parameters:
    ///   - endpoint: The GraphQL URL (`https://shop.centra.com/graphql`).
    ///   - headers: Sent with every request (`Authorization: Bearer …`); never logged.
    ///   - clock: The job's clock, for a rate-limit reset given as a time rather than seconds.
    public init(endpoint: String, headers: [String: String], http: HTTPClient,
                logger: Logger = Logger(label: "voxbatch.graphql"), clock: @escaping () -> Date) {
        self.endpoint = endpoint
        self.headers = headers
        self.http = http
        self.logger = logger
        self.clock = clock
    }

    /// Runs a query and returns its `data`.
    ///
    /// - Throws: ``GraphQLError``; the transport's errors as ``GraphQLError/Kind/server`` (transient).
    public func query(_ operation: GraphQLOperation) throws -> [String: Any] {
        try execute(operation)
    }

    /// Runs a mutation and returns the payload at `data[payload]`, failing if its `userErrors` (or
    /// `errors`, as some schemas name them) is not empty.
    public func mutate(_ operation: GraphQLOperation, payload: String) throws -> [String: Any] {
        let data = try execute(operation)
        guard let result = data[payload] as? [String: Any] else {
            throw GraphQLError(.malformed, operation: operation.name, messages: ["the answer has no \(payload)"])
        }
        let problems = (result["userErrors"] as? [[String: Any]] ?? []) + (result["errors"] as? [[String: Any]] ?? [])
        if !problems.isEmpty {
            throw GraphQLError(.userErrors, operation: operation.name, messages: problems.map(Self.message))
        }
        return result
    }

    /// Reads a connection page by page: `connection` is the path from `data` to it (`["orders"]`); the
    /// operation takes `$first` and `$after`. `body` gets each page's nodes (from `nodes` or
    /// `edges { node }`) before the next page is asked for.
    public func pages(_ operation: GraphQLOperation, connection: [String], pageSize: Int,
                      _ body: ([[String: Any]]) throws -> Void) throws {
        var cursor: String?
        var seen: Set<String> = []
        while true {
            var page = operation
            page.variables["first"] = pageSize
            page.variables["after"] = cursor ?? NSNull()
            let data = try execute(page)
            var node: Any? = data
            for key in connection { node = (node as? [String: Any])?[key] }
            guard let object = node as? [String: Any], let info = object["pageInfo"] as? [String: Any] else {
                throw GraphQLError(.malformed, operation: operation.name,
                                   messages: ["no connection with pageInfo at \(connection.joined(separator: "."))"])
            }
            let nodes = (object["nodes"] as? [[String: Any]])
                ?? (object["edges"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? [String: Any] }
            try body(nodes)
            guard info["hasNextPage"] as? Bool == true else { return }
            guard let next = info["endCursor"] as? String, seen.insert(next).inserted else {
                throw GraphQLError(.malformed, operation: operation.name,
                                   messages: ["hasNextPage without a new endCursor: the pages would never end"])
            }
            cursor = next
        }
    }

    /// Decodes a JSON value (a node, a payload) into a `Decodable` type.
    public static func decode<T: Decodable>(_ type: T.Type, from value: Any, operation: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: try JSONSerialization.data(withJSONObject: value))
        } catch {
            throw GraphQLError(.malformed, operation: operation, messages: ["\(T.self): \(error)"])
        }
    }

    // MARK: - One request

    /// A throttling error in a GraphQL answer (the HTTP client already retried a 429 on its own).
    private struct Throttled: Error { var error: GraphQLError }

    private func execute(_ operation: GraphQLOperation) throws -> [String: Any] {
        var attempt = 1
        while true {
            do {
                return try send(operation)
            } catch let throttled as Throttled {
                guard attempt < http.settings.retry.maxAttempts else { throw throttled.error }
                // A throttled operation was not executed: sending it again is safe, mutation or not.
                let delay = http.settings.retry.baseDelay(after: attempt)
                logger.notice("throttled; retrying", metadata: ["operation": "\(operation.name)", "delay": "\(delay)"])
                http.sleep(delay)
                attempt += 1
            }
        }
    }

    private func send(_ operation: GraphQLOperation) throws -> [String: Any] {
        if pause > 0 {
            logger.notice("rate limit reached; waiting", metadata: ["seconds": "\(pause)"])
            http.sleep(pause)
            pause = 0
        }
        let body: Data
        do {
            body = try JSONSerialization.data(withJSONObject: [
                "query": operation.document, "operationName": operation.name, "variables": operation.variables,
            ], options: [.sortedKeys])
        } catch {
            throw GraphQLError(.validation, operation: operation.name, messages: ["variables are not JSON: \(error)"])
        }
        var request = HTTPRequest.json("POST", endpoint, body: body)
        request.headers["Accept"] = "application/json"
        for (name, value) in headers { request.headers[name] = value }
        request.isIdempotent = !operation.isMutation  // a query may be sent again; a mutation is looked up first
        let response: HTTPResponse
        do {
            response = try http.send(request)
        } catch let error as TransportError {
            throw GraphQLError(error.httpStatus == 429 ? .throttled : .server, operation: operation.name,
                               messages: [error.description])
        }
        notePace(response)
        let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        let errors = (json?["errors"] as? [[String: Any]]) ?? []
        switch response.status {
        case 200..<300: break
        case 401, 403:
            throw GraphQLError(.authentication, operation: operation.name,
                               messages: ["HTTP \(response.status): the credentials were refused or lack a permission"]
                                   + errors.map(Self.message))
        case 429: throw GraphQLError(.throttled, operation: operation.name, messages: ["HTTP 429"] + errors.map(Self.message))
        case 400..<500:
            throw GraphQLError(.validation, operation: operation.name,
                               messages: ["HTTP \(response.status)"] + errors.map(Self.message))
        default:
            throw GraphQLError(.server, operation: operation.name, messages: ["HTTP \(response.status)"] + errors.map(Self.message))
        }
        guard let json else {
            throw GraphQLError(.malformed, operation: operation.name, messages: ["the answer is not a JSON object"])
        }
        if !errors.isEmpty {
            let error = GraphQLError(Self.kind(of: errors), operation: operation.name, messages: errors.map(Self.message))
            if error.kind == .throttled { throw Throttled(error: error) }
            throw error
        }
        guard let data = json["data"] as? [String: Any] else {
            throw GraphQLError(.malformed, operation: operation.name, messages: ["the answer has no data"])
        }
        return data
    }

    /// What the `errors` of an answer mean, by their `extensions.code` (the convention Apollo, Shopify,
    /// Centra and others follow); an error without a known code is taken as permanent.
    static func kind(of errors: [[String: Any]]) -> GraphQLError.Kind {
        let codes = errors.compactMap { (($0["extensions"] as? [String: Any])?["code"] as? String)?.uppercased() }
        if codes.contains(where: { ["THROTTLED", "RATE_LIMITED", "TOO_MANY_REQUESTS", "MAX_COST_EXCEEDED"].contains($0) }) {
            return .throttled
        }
        if codes.contains(where: { ["UNAUTHENTICATED", "UNAUTHORIZED", "FORBIDDEN", "ACCESS_DENIED"].contains($0) }) {
            return .authentication
        }
        if codes.contains(where: { ["INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"].contains($0) }) {
            return .server
        }
        return .validation
    }

    static func message(_ error: [String: Any]) -> String {
        let text = error["message"] as? String ?? (error["messages"] as? [String])?.joined(separator: ", ") ?? "(no message)"
        let path = (error["path"] as? [Any]).map { $0.map { "\($0)" }.joined(separator: ".") }
            ?? (error["field"] as? String) ?? (error["field"] as? [String])?.joined(separator: ".")
        return path.map { "\($0): \(text)" } ?? text
    }

    /// Remembers how long to wait before the next request when the answer says the budget is spent.
    private func notePace(_ response: HTTPResponse) {
        let h = response.headers
        guard let remaining = (h["x-ratelimit-remaining"] ?? h["ratelimit-remaining"]).flatMap({ Double($0) }), remaining <= 0,
              let reset = (h["x-ratelimit-reset"] ?? h["ratelimit-reset"]).flatMap({ Double($0) }) else { return }
        // Seconds until the reset, or (a large number) the reset time itself, counted from the server's Date.
        let now = HTTPClient.httpDate(h["date"]) ?? clock()
        pause = min(3600, max(0, reset > 1_000_000_000 ? reset - now.timeIntervalSince1970 : reset))
    }
}
