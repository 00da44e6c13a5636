import FileTransport
import Foundation
import Logging

/// What a connector to a GraphQL storefront API (Centra, Marketplacer) shares: the client on the
/// libcurl HTTP layer with the token from `token_env`/`token_file` as a bearer token, and the translation
/// of ``GraphQLError`` into ``StorefrontError`` — a refused token named by where it comes from (never its
/// value), `userErrors` as a refusal of that one record.
struct GraphQLConnection {
    let client: GraphQLClient
    /// The endpoint without credentials, for messages and `storefront check`.
    let location: String
    let storefront: String
    /// What to check when the token is refused (its source is added).
    let credentialHint: String
    let tokenSource: String

    /// - Parameters:
    ///   - storefront: The type, for messages (`centra`).
    ///   - tokenName: What the token is called (`Integration API token`).
    ///   - credentialHint: Appended after the token's source when it is refused.
    init(storefront: String, configuration: Configuration.Storefront, tokenName: String, credentialHint: String,
         retry: RetryPolicy, http: HTTPClient?, logger: Logger, clock: @escaping () -> Date) throws {
        guard let url = configuration.url, let source = configuration.token else {
            throw StorefrontError(storefront: storefront, message: "url and token_env/token_file are required", isTransient: false)
        }
        let token: String
        do {
            token = try source.read()
        } catch {
            throw StorefrontError(storefront: storefront, message: "cannot read the \(tokenName): \(error)", isTransient: false)
        }
        var settings = HTTPSettings()
        settings.timeout = configuration.timeout
        settings.requestsPerSecond = configuration.requestsPerSecond
        settings.retry = retry
        let endpoint = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/graphql"
        client = GraphQLClient(endpoint: endpoint, headers: ["Authorization": "Bearer \(token)"],
                               http: http ?? HTTPClient(settings: settings, logger: logger, clock: clock), logger: logger,
                               clock: clock)
        location = HTTPClient.redacted(endpoint)
        self.storefront = storefront
        self.credentialHint = credentialHint
        tokenSource = String(describing: source)
    }

    /// Runs `body`, turning GraphQL failures into ``StorefrontError``.
    func api<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as GraphQLError {
            var message = "\(what): \(error.messages.joined(separator: "; "))"
            if error.kind == .authentication {
                message += "; check the token in \(tokenSource)\(credentialHint)"
            } else if error.kind == .userErrors {
                message = "\(what): \(storefront) refused it: \(error.messages.joined(separator: "; "))"
            }
            throw StorefrontError(storefront: storefront, message: message, isTransient: error.isTransient,
                                  refusesRecord: error.kind == .userErrors)
        }
    }

    func query(_ operation: GraphQLOperation) throws -> [String: Any] {
        try api(operation.name) { try client.query(operation) }
    }

    @discardableResult
    func mutate(_ operation: GraphQLOperation, payload: String) throws -> [String: Any] {
        try api(operation.name) { try client.mutate(operation, payload: payload) }
    }

    func decode<T: Decodable>(_ type: T.Type, _ value: Any?, _ what: String) throws -> T {
        try api(what) { try GraphQLClient.decode(type, from: value ?? NSNull(), operation: what) }
    }
}
