import FileTransport
import Foundation

/// What the connectors to REST storefront APIs (WooCommerce, SCAYLE) share: a request to `base + path`
/// with a query and a JSON body, sent through the libcurl client, and its failures as ``StorefrontError``
/// — transport failures transient or not, 401/403 as refused credentials (the connector says which, by
/// their source), 429 and 5xx transient, the codes in `refusalCodes` a refusal of that one record.
struct RESTConnection {
    let storefront: String
    let base: String
    let http: HTTPClient
    var headers: [String: String] = ["Accept": "application/json"]
    var basicAuth: HTTPRequest.BasicAuth?
    /// Statuses that refuse the record itself (`refusesRecord`).
    var refusalCodes: Set<Int> = []
    /// The API's error text in an answer's body.
    var detail: (Data) -> String? = { _ in nil }
    /// The message for refused credentials: `what` (`GET /orders`), the status, the API's detail.
    var refusedCredentials: (_ what: String, _ status: Int, _ detail: String?) -> String

    /// - Parameter idempotent: a write that may safely be sent twice (absolute values, upserts); reads always are.
    func call(_ method: String, _ path: String, query: [(String, String)] = [], body: Any? = nil,
              idempotent: Bool = false) throws -> HTTPResponse {
        var components = URLComponents(string: base + path)!
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        var request = HTTPRequest(method: method, url: components.string!, headers: headers, basicAuth: basicAuth)
        if idempotent { request.isIdempotent = true }
        if let body {
            request.body = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            request.headers["Content-Type"] = "application/json"
        }
        let response: HTTPResponse
        do {
            response = try http.send(request)
        } catch let error as TransportError {
            throw StorefrontError(storefront: storefront, message: "\(method) \(path): \(error.message)",
                                  isTransient: error.isTransient || error.code == .serverBusy)
        }
        guard response.isSuccess else {
            let text = detail(response.body)
            if response.status == 401 || response.status == 403 {
                throw StorefrontError(storefront: storefront, message: refusedCredentials("\(method) \(path)", response.status, text),
                                      isTransient: false)
            }
            throw StorefrontError(storefront: storefront, message: "\(method) \(path): HTTP \(response.status)"
                                    + (text.map { ": \($0)" } ?? ""),
                                  isTransient: response.status >= 500 || response.status == 429,
                                  refusesRecord: refusalCodes.contains(response.status))
        }
        return response
    }
}
