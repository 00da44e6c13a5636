import FileTransport
import Foundation
import TestSupport
import Testing

@Suite struct GraphQLClientTests {
    /// A mutation is known by `mutation`, white space and its name as a whole word (it is then never sent twice
    /// blindly); a query, a name that only starts the same, or the word elsewhere is not one.
    @Test func mutationsAreToldFromQueries() {
        let yes = ["mutation SetStock($input: X!) { a }", "  mutation\n\tSetStock { a }", "mutation SetStock{ a }",
                   "# note\nmutation SetStock", "query A { a }\nmutation SetStock($x: Int) { b }"]
        let no = ["query SetStock { a }", "mutation SetStockLevels { a }", "mutationSetStock { a }",
                  "query Q { mutation }", "mutation OtherName { SetStock }", ""]
        for document in yes { #expect(GraphQLOperation("SetStock", document).isMutation, "\(document)") }
        for document in no { #expect(!GraphQLOperation("SetStock", document).isMutation, "\(document)") }
    }

    final class Waits: @unchecked Sendable { var seconds: [Double] = [] }

    static let orders = """
        query Orders($first: Int!, $after: String, $status: [OrderStatus!]) {
          orders(first: $first, after: $after, where: {status: $status}) {
            nodes { id number }
            pageInfo { hasNextPage endCursor }
          }
        }
        """

    static let ship = """
        mutation Ship($input: ShipmentInput!) {
          shipmentCreate(input: $input) { shipment { id } userErrors { message path } }
        }
        """

    func client(_ fixture: GraphQLServerFixture, _ waits: Waits, token: String = "tok_good") -> GraphQLClient {
        var settings = HTTPSettings()
        settings.timeout = 5
        settings.retry = RetryPolicy(maxAttempts: 3, initialDelay: 0.5, maxDelay: 4, jitter: 0)
        let http = HTTPClient(settings: settings, clock: { Epoch.fixtureDay.start })
        http.sleep = { waits.seconds.append($0) }
        return GraphQLClient(endpoint: fixture.url, headers: ["Authorization": "Bearer \(token)"], http: http,
                             clock: { Epoch.fixtureDay.start })
    }

    static var allOrders: [[String: Any]] { (1...250).map { ["id": "gid://Order/\($0)", "number": String(1000 + $0)] } }

    @Test func aConnectionIsReadPageByPageFollowingTheCursor() throws {
        let fixture = try GraphQLServerFixture(bearer: "tok_good") { call in
            .data(["orders": GraphQLServerFixture.connection(Self.allOrders, variables: call.variables)])
        }
        var pages: [[String]] = []
        try client(fixture, Waits()).pages(GraphQLOperation("Orders", Self.orders, variables: ["status": ["PAID"]]),
                                           connection: ["orders"], pageSize: 100) { nodes in
            pages.append(nodes.map { $0["number"] as? String ?? "" })
        }
        #expect(pages.map(\.count) == [100, 100, 50])
        #expect(pages.flatMap { $0 } == (1...250).map { String(1000 + $0) })
        let calls = fixture.calls
        #expect(calls.map(\.operationName) == ["Orders", "Orders", "Orders"] && calls.allSatisfy { $0.kind == "query" })
        #expect(calls[0].variables["after"] is NSNull && calls[0].variables["first"] as? Int == 100)
        #expect(calls[0].variables["status"] as? [String] == ["PAID"])
        #expect(calls[1].variables["after"] as? String != nil && calls[1].variables["after"] as? String != calls[2].variables["after"] as? String)
    }

    @Test func mutationUserErrorsAreAPermanentTypedErrorAndTheMutationIsSentOnce() throws {
        let fixture = try GraphQLServerFixture { _ in
            .data(["shipmentCreate": ["shipment": NSNull(),
                                      "userErrors": [["message": "Tracking number is required", "path": ["input", "trackingNumber"]]]]])
        }
        let gql = client(fixture, Waits())
        #expect {
            try gql.mutate(GraphQLOperation("Ship", Self.ship, variables: ["input": ["orderId": "1"]]), payload: "shipmentCreate")
        } throws: { error in
            let e = error as? GraphQLError
            return e?.kind == .userErrors && e?.isTransient == false
                && e?.messages == ["input.trackingNumber: Tracking number is required"]
        }
        #expect(fixture.calls.count == 1 && fixture.calls[0].kind == "mutation")
    }

    @Test func topLevelErrorsAreTypedByTheirCode() throws {
        final class Plan: @unchecked Sendable { var answers: [GraphQLServerFixture.Answer] = [] }
        let plan = Plan()
        let fixture = try GraphQLServerFixture { _ in plan.answers.removeFirst() }
        let waits = Waits()
        let gql = client(fixture, waits)
        let op = GraphQLOperation("Orders", Self.orders, variables: ["first": 10])

        // Throttled: not executed, so retried after the backoff, then answered.
        plan.answers = [.errors([GraphQLServerFixture.error("Throttled", code: "THROTTLED")]),
                        .data(["orders": GraphQLServerFixture.connection([], variables: [:])])]
        #expect(try gql.query(op)["orders"] != nil)
        #expect(waits.seconds == [0.5])

        plan.answers = [.errors([GraphQLServerFixture.error("Access denied", code: "FORBIDDEN", path: ["orders"])])]
        #expect { try gql.query(op) } throws: { ($0 as? GraphQLError)?.kind == .authentication }

        plan.answers = [.errors([GraphQLServerFixture.error("Cannot query field \"colour\" on type \"Order\"",
                                                            code: "GRAPHQL_VALIDATION_FAILED")])]
        #expect { try gql.query(op) } throws: { error in
            let e = error as? GraphQLError
            return e?.kind == .validation && e?.messages.first?.contains("colour") == true && e?.isTransient == false
        }
    }

    @Test func theFixtureRefusesWhatAServerRefuses() throws {
        let fixture = try GraphQLServerFixture(bearer: "tok_good") { _ in .data([:]) }
        let waits = Waits()
        // A required variable missing: a validation error (HTTP 400), never sent to the handler.
        #expect { try client(fixture, waits).query(GraphQLOperation("Orders", Self.orders)) } throws: { error in
            (error as? GraphQLError)?.kind == .validation && (error as? GraphQLError)?.messages.contains { $0.contains("$first") } == true
        }
        // An operation the document does not define.
        #expect { try client(fixture, waits).query(GraphQLOperation("Products", Self.orders, variables: ["first": 1])) } throws: {
            ($0 as? GraphQLError)?.messages.contains { $0.contains("Unknown operation named \"Products\"") } == true
        }
        // A wrong token: permanent, and the token is not in the error.
        #expect { try client(fixture, waits, token: "tok_bad_55").query(GraphQLOperation("Orders", Self.orders, variables: ["first": 1])) }
            throws: { error in (error as? GraphQLError)?.kind == .authentication && !"\(error)".contains("tok_bad_55") }
        #expect(fixture.calls.isEmpty)
    }

    @Test func theServersPaceIsHonoured() throws {
        final class Count: @unchecked Sendable { var n = 0 }
        let count = Count()
        let fixture = try GraphQLServerFixture { call in
            count.n += 1
            switch count.n {
            case 1: return .http(.json([], status: 429, headers: ["Retry-After": "2"]))
            case 2:  // answered, but the budget is spent until 3 s from now
                return .http(.json(["data": ["orders": GraphQLServerFixture.connection([], variables: call.variables)]],
                                   headers: ["X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"]))
            default: return .data(["orders": GraphQLServerFixture.connection([], variables: call.variables)])
            }
        }
        let waits = Waits()
        let gql = client(fixture, waits)
        let op = GraphQLOperation("Orders", Self.orders, variables: ["first": 1])
        _ = try gql.query(op)
        _ = try gql.query(op)
        #expect(waits.seconds == [2, 3])  // Retry-After, then the rate-limit reset before the next request
    }

    @Test func aFailedQueryIsRetriedButAFailedMutationIsNotResent() throws {
        let fixture = try GraphQLServerFixture { call in
            call.kind == "mutation" || (call.variables["first"] as? Int) == 1
                ? .http(.json(["errors": [["message": "upstream"]]], status: 502)) : .data([:])
        }
        let waits = Waits()
        let gql = client(fixture, waits)
        #expect { try gql.query(GraphQLOperation("Orders", Self.orders, variables: ["first": 1])) } throws: {
            ($0 as? GraphQLError)?.kind == .server && ($0 as? GraphQLError)?.isTransient == true
        }
        #expect(fixture.calls.count == 3)  // every attempt
        #expect { try gql.mutate(GraphQLOperation("Ship", Self.ship, variables: ["input": [:]]), payload: "shipmentCreate") }
            throws: { ($0 as? GraphQLError)?.kind == .server }
        #expect(fixture.calls.filter { $0.kind == "mutation" }.count == 1)  // looked up by the caller, never resent blindly
    }

    @Test func pagesThatNeverEndAreAnErrorNotALoop() throws {
        let fixture = try GraphQLServerFixture { _ in
            .data(["orders": ["nodes": [["id": "1"]], "pageInfo": ["hasNextPage": true, "endCursor": "same"]]])
        }
        var pages = 0
        #expect {
            try client(fixture, Waits()).pages(GraphQLOperation("Orders", Self.orders), connection: ["orders"], pageSize: 1) { _ in
                pages += 1
            }
        } throws: { ($0 as? GraphQLError)?.kind == .malformed }
        #expect(pages == 2)
    }
}
