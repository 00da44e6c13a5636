import Foundation

/// A GraphQL endpoint on the loopback HTTP fixture, for the connectors of GraphQL APIs (Centra's
/// Integration API, Marketplacer's Seller API).
///
/// It reads each request as a GraphQL server does — the JSON body's `query`, `operationName` and
/// `variables`; the operations the document defines, with their kind (query or mutation) and declared
/// variables — and refuses what a server refuses (no such operation, a required variable missing, an
/// undeclared one given, a wrong bearer token) with the error shapes of the GraphQL spec
/// (https://spec.graphql.org/October2021/#sec-Errors): `{"errors": [{"message", "path",
/// "extensions": {"code"}}]}`. What is left is handed to the test's handler by operation name.
public final class GraphQLServerFixture: @unchecked Sendable {
    /// One operation as received.
    public struct Call: @unchecked Sendable {
        public var operationName: String
        /// `query` or `mutation`.
        public var kind: String
        public var variables: [String: Any]
        public var headers: [String: String]
    }

    /// What the handler answers.
    public enum Answer: @unchecked Sendable {
        /// `{"data": …}` with 200.
        case data([String: Any])
        /// `{"errors": …}` (and `data: null`) with `status`.
        case errors([[String: Any]], status: Int = 200, headers: [String: String] = [:])
        /// Any HTTP answer (a 429, a cut connection, a slow one), or data with extra headers.
        case http(HTTPServerFixture.Response)
    }

    public let path: String
    private let bearer: String?
    private let lock = NSLock()
    private var received: [Call] = []
    private let handler: @Sendable (Call) -> Answer
    public private(set) var server: HTTPServerFixture!

    /// - Parameters:
    ///   - path: The endpoint's path.
    ///   - bearer: The token every request must carry as `Authorization: Bearer …` (nil: none checked).
    public init(path: String = "/graphql", bearer: String? = nil, handler: @escaping @Sendable (Call) -> Answer) throws {
        self.path = path
        self.bearer = bearer
        self.handler = handler
        server = try HTTPServerFixture { [unowned self] request in self.answer(request) }
    }

    public var url: String { server.baseURL + path }

    /// Every operation received (after the checks), in order.
    public var calls: [Call] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// A connection page of `items` as Relay-style servers answer `first`/`after`: `nodes`, `edges`,
    /// and `pageInfo { hasNextPage endCursor }`, with opaque cursors.
    public static func connection(_ items: [[String: Any]], variables: [String: Any], maxFirst: Int = 100) -> [String: Any] {
        let first = min(variables["first"] as? Int ?? maxFirst, maxFirst)
        let start = (variables["after"] as? String).flatMap { Data(base64Encoded: $0) }
            .flatMap { Int(String(decoding: $0, as: UTF8.self).dropFirst("offset:".count)) }.map { $0 + 1 } ?? 0
        let slice = Array(items.dropFirst(start).prefix(first))
        let cursor = { (i: Int) in Data("offset:\(i)".utf8).base64EncodedString() }
        let end = start + slice.count - 1
        return [
            "nodes": slice,
            "edges": slice.enumerated().map { ["cursor": cursor(start + $0.offset), "node": $0.element] },
            "pageInfo": ["hasNextPage": end < items.count - 1, "endCursor": slice.isEmpty ? NSNull() : cursor(end)] as [String: Any],
        ]
    }

    /// An `errors` entry.
    public static func error(_ message: String, code: String, path: [String] = []) -> [String: Any] {
        ["message": message, "path": path, "extensions": ["code": code]]
    }

    private func answer(_ request: HTTPServerFixture.Request) -> HTTPServerFixture.Response {
        guard request.method == "POST", request.path == path else {
            return .json(["errors": [Self.error("no route \(request.method) \(request.path)", code: "NOT_FOUND")]], status: 404)
        }
        if let bearer, request.headers["authorization"] != "Bearer \(bearer)" {
            return .json(["errors": [Self.error("invalid or expired token", code: "UNAUTHENTICATED")]], status: 401)
        }
        guard let body = request.json as? [String: Any], let document = body["query"] as? String else {
            return .json(["errors": [Self.error("the body must be JSON with a query", code: "BAD_REQUEST")]], status: 400)
        }
        let operations = Self.operations(in: document)
        let name = body["operationName"] as? String ?? (operations.count == 1 ? operations[0].name : "")
        guard let operation = operations.first(where: { $0.name == name }) else {
            return .json(["errors": [Self.error("Unknown operation named \"\(name)\"", code: "GRAPHQL_VALIDATION_FAILED")]],
                         status: 400)
        }
        let variables = body["variables"] as? [String: Any] ?? [:]
        for (variable, required) in operation.variables where required && (variables[variable] == nil || variables[variable] is NSNull) {
            return .json(["errors": [Self.error("Variable \"$\(variable)\" of required type was not provided",
                                                code: "GRAPHQL_VALIDATION_FAILED")]], status: 400)
        }
        for variable in variables.keys where !operation.variables.keys.contains(variable) {
            return .json(["errors": [Self.error("Variable \"$\(variable)\" is not defined by operation \"\(name)\"",
                                                code: "GRAPHQL_VALIDATION_FAILED")]], status: 400)
        }
        let call = Call(operationName: name, kind: operation.kind, variables: variables, headers: request.headers)
        lock.lock()
        received.append(call)
        lock.unlock()
        switch handler(call) {
        case .data(let data): return .json(["data": data])
        case .errors(let errors, let status, let headers): return .json(["data": NSNull(), "errors": errors], status: status, headers: headers)
        case .http(let response): return response
        }
    }

    /// The operations a document defines: name, kind, and declared variables (whether each is required:
    /// a non-null type without a default).
    static func operations(in document: String) -> [(name: String, kind: String, variables: [String: Bool])] {
        let pattern = #"\b(query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)\s*(\(([^)]*)\))?"#
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        let text = document as NSString
        return regex.matches(in: document, range: NSRange(location: 0, length: text.length)).map { match in
            var variables: [String: Bool] = [:]
            if match.range(at: 4).location != NSNotFound {
                // `$name: Type = default`, separated by commas or just white space (commas are optional).
                for declaration in text.substring(with: match.range(at: 4)).split(separator: "$") {
                    let parts = declaration.split(separator: ":", maxSplits: 1)
                        .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ", \n\t\r")) }
                    guard parts.count == 2, !parts[0].isEmpty else { continue }
                    let type = parts[1].split(separator: "=")[0].trimmingCharacters(in: CharacterSet(charactersIn: ", \n\t\r"))
                    variables[parts[0]] = type.hasSuffix("!") && !parts[1].contains("=")
                }
            }
            return (text.substring(with: match.range(at: 2)), text.substring(with: match.range(at: 1)), variables)
        }
    }
}
