import Foundation

/// What the GraphQL store fixtures (Centra, Marketplacer) share: a ``GraphQLServerFixture`` on `/graphql`
/// that checks the bearer token, a lock around the store's state, and faults injected by a predicate on
/// the call — answered instead of the real answer, before the call is carried out or after it (the
/// write reached the store; its answer was lost). Subclasses answer in `respond(_:)`, under the lock.
open class GraphQLStoreFixture: @unchecked Sendable {
    public typealias Fault = (matches: (GraphQLServerFixture.Call) -> Bool, answer: GraphQLServerFixture.Answer)

    let lock = NSLock()
    /// Answered instead of the normal answer, before the call is carried out, to the first call that matches.
    public var faults: [Fault] = []
    /// Answered instead of the normal answer once the call has been carried out.
    public var faultsAfterApplying: [Fault] = []
    public private(set) var graphql: GraphQLServerFixture!

    public init(token: String) throws {
        graphql = try GraphQLServerFixture(path: "/graphql", bearer: token) { [unowned self] call in self.handle(call) }
    }

    /// The store's base URL (connectors append `/graphql`).
    public var baseURL: String { graphql.server.baseURL }
    public var calls: [GraphQLServerFixture.Call] { graphql.calls }

    /// Runs `body` under the state's lock (reading the store while a request may be answered).
    public func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private func handle(_ call: GraphQLServerFixture.Call) -> GraphQLServerFixture.Answer {
        locked {
            if let i = faults.firstIndex(where: { $0.matches(call) }) { return faults.remove(at: i).answer }
            let answer = respond(call)
            if let i = faultsAfterApplying.firstIndex(where: { $0.matches(call) }) { return faultsAfterApplying.remove(at: i).answer }
            return answer
        }
    }

    /// The store's answer to a call that passed the server's checks (called under the lock).
    open func respond(_ call: GraphQLServerFixture.Call) -> GraphQLServerFixture.Answer {
        .errors([GraphQLServerFixture.error("no such operation", code: "GRAPHQL_VALIDATION_FAILED")], status: 400)
    }

    static func date(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}
