import FileTransport
import Foundation
import TestSupport
import Testing

@Suite struct HTTPClientTests {
    final class Sleeps: @unchecked Sendable {
        var seconds: [Double] = []
    }

    func client(_ sleeps: Sleeps, clock: @escaping () -> Date = { Epoch.fixtureDay.start }) -> HTTPClient {
        var settings = HTTPSettings()
        settings.timeout = 5
        settings.retry = RetryPolicy(maxAttempts: 3, initialDelay: 0.5, maxDelay: 4, jitter: 0)
        let client = HTTPClient(settings: settings, clock: clock)
        client.sleep = { sleeps.seconds.append($0) }
        return client
    }

    @Test func sendsJSONWithBasicAuthAndReadsTheAnswer() throws {
        let server = try HTTPServerFixture { request in
            .json(["received": request.path], headers: ["X-WP-TotalPages": "3"])
        }
        let body = try JSONSerialization.data(withJSONObject: ["note": "Despatched"])
        var request = HTTPRequest.json("POST", server.baseURL + "/wp-json/wc/v3/orders/5/notes?x=1", body: body)
        request.basicAuth = .init(user: "ck_test", password: "cs_secret")
        let response = try client(Sleeps()).send(request)
        #expect(response.status == 200 && response.headers["x-wp-totalpages"] == "3")
        #expect((try JSONSerialization.jsonObject(with: response.body) as? [String: String])?["received"] == "/wp-json/wc/v3/orders/5/notes?x=1")
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.headers["authorization"] == "Basic " + Data("ck_test:cs_secret".utf8).base64EncodedString())
        #expect(seen.headers["content-type"] == "application/json")
        #expect((seen.json as? [String: String])?["note"] == "Despatched")
    }

    @Test func a429IsRetriedAfterTheTimeTheServerAsksFor() throws {
        let calls = Sleeps()
        let server = try HTTPServerFixture { _ in
            calls.seconds.append(0)
            return calls.seconds.count == 1 ? .json(["code": "too_many"], status: 429, headers: ["Retry-After": "2"]) : .json([])
        }
        let sleeps = Sleeps()
        #expect(try client(sleeps).send(HTTPRequest(url: server.baseURL + "/orders")).status == 200)
        #expect(sleeps.seconds == [2])
        #expect(server.requests.count == 2)
    }

    /// A `Retry-After` date is counted from the answer's own `Date` (the server's clock, so a skew between the
    /// machines does not matter), else from the caller's clock, never from the wall clock.
    @Test(arguments: Epoch.allCases)
    func aRetryAfterDateIsCountedFromTheServersDateElseFromTheCallersClock(epoch: Epoch) throws {
        let http = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let serverNow = epoch.start.addingTimeInterval(-3600)  // the server's clock is an hour behind ours
        let answers = [
            HTTPServerFixture.Response.json([], status: 429, headers: [
                "Retry-After": UTC.format(serverNow.addingTimeInterval(3), http), "Date": UTC.format(serverNow, http)]),
            .json([], status: 429, headers: ["Retry-After": UTC.format(epoch.start.addingTimeInterval(2), http)]),
            .json([]),
        ]
        let count = Sleeps()
        let server = try HTTPServerFixture { _ in
            count.seconds.append(0)
            return answers[min(count.seconds.count, answers.count) - 1]
        }
        let sleeps = Sleeps()
        #expect(try client(sleeps, clock: { epoch.start }).send(HTTPRequest(url: server.baseURL + "/orders")).status == 200)
        #expect(sleeps.seconds == [3, 2])
    }

    @Test func a500IsRetriedWithBackoffAndGivesUpWithAClearError() throws {
        let server = try HTTPServerFixture { _ in .json(["message": "boom"], status: 500) }
        let sleeps = Sleeps()
        #expect {
            try client(sleeps).send(HTTPRequest(url: server.baseURL + "/orders"))
        } throws: { error in
            let e = error as? TransportError
            return e?.code == .serverBusy && e?.attempts == 3 && e?.target == server.baseURL + "/orders"
        }
        #expect(sleeps.seconds == [0.5, 1.0])
        #expect(server.requests.count == 3)
    }

    @Test func a4xxIsAnAnswerNotARetry() throws {
        let server = try HTTPServerFixture { _ in .json(["code": "woocommerce_rest_invalid_id"], status: 404) }
        #expect(try client(Sleeps()).send(HTTPRequest(url: server.baseURL + "/orders/9")).status == 404)
        #expect(server.requests.count == 1)
    }

    @Test func plainHTTPToAnotherMachineIsRefusedAndNothingIsSent() {
        #expect {
            try client(Sleeps()).send(HTTPRequest(url: "http://shop.example.com/wp-json/wc/v3/orders",
                                                  basicAuth: .init(user: "ck", password: "cs")))
        } throws: { ($0 as? TransportError)?.code == .configuration }
    }

    @Test func aServerThatIsDownIsATransientFailureAfterRetries() throws {
        let server = try HTTPServerFixture { _ in .json([]) }
        let url = server.baseURL + "/orders"
        server.stop()
        let sleeps = Sleeps()
        #expect {
            try client(sleeps).send(HTTPRequest(url: url))
        } throws: { ($0 as? TransportError)?.code == .connectionFailed }
        #expect(sleeps.seconds.count == 2)
    }

    @Test func logsAndErrorsNeverCarryTheQueryString() {
        #expect(HTTPClient.redacted("https://user:pw@shop.example.com/wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_2")
                == "https://shop.example.com/wp-json/wc/v3/orders")
    }
}
