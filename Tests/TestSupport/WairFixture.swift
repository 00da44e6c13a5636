import Foundation

/// A local stand-in for WAIR For Retail's public API that enforces its documented rules
/// (https://docs.wair.ai/v1/docs/integration-core-principles, https://docs.wair.ai/docs/post-token): a
/// bearer token from `POST /Token` (username and password in the body) and `X-Tenant` on every call
/// (401 without); every upload inside a batch opened by `POST /Batch/start` and closed by `POST
/// /Batch/stop` (400 otherwise); writes are upserts by `id` (sending a record again replaces it, never
/// adds); at most `maxRecordsPerCall` records per call (400 beyond); reads paged by `Offset`/`Limit`
/// with `moreRecordsAvailable`. Transfers answer like https://docs.wair.ai/docs/recommendations-transfers.
public final class WairFixture: @unchecked Sendable {
    let lock = NSLock()
    public let tenant: String
    public let username: String
    public let password: String
    public var maxRecordsPerCall = 50_000
    /// Recommended transfers, as GET /Recommendations/transfers answers them.
    public var transfers: [[String: Any]] = []
    /// Locations, by id.
    public var locations: [[String: Any]] = []
    /// What was uploaded, per endpoint, by id (upserts).
    public var uploaded: [String: [String: [String: Any]]] = [:]
    /// Uploads per call, in order: (endpoint, records, moreRecordsAvailable, fullLoad, batch id).
    public var uploadCalls: [(path: String, count: Int, more: String?, fullLoad: String?, batch: String)] = []
    public var batches: [(id: String, stopped: Bool)] = []
    /// WAIR's stock view for GET /Stock (location|sku → on hand): the last level uploaded, unless set.
    public var stockView: [String: Int] = [:]
    public var faults: [(request: String, response: HTTPServerFixture.Response)] = []
    public var faultsAfterApplying: [(request: String, response: HTTPServerFixture.Response)] = []
    public private(set) var server: HTTPServerFixture!
    private var tokens: Set<String> = []
    private var openBatch: String?

    public init(tenant: String = "ACME", username: String = "voxbatch", password: String = "wair-test-password") throws {
        self.tenant = tenant
        self.username = username
        self.password = password
        server = try HTTPServerFixture { [unowned self] request in self.handle(request) }
    }

    public var baseURL: String { server.baseURL + "/api/v1" }
    public var requests: [HTTPServerFixture.Request] { server.requests }

    public func withLock<T>(_ body: (WairFixture) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(self)
    }

    public var openBatches: [String] { withLock { $0.batches.filter { !$0.stopped }.map(\.id) } }

    private func error(_ status: Int, _ message: String) -> HTTPServerFixture.Response {
        .json(["errors": [message]], status: status)
    }

    private func handle(_ request: HTTPServerFixture.Request) -> HTTPServerFixture.Response {
        lock.lock()
        defer { lock.unlock() }
        let full = request.path.replacingOccurrences(of: "/api/v1", with: "")
        let line = request.method + " " + full
        if let i = faults.firstIndex(where: { line.hasPrefix($0.request) }) { return faults.remove(at: i).response }
        guard request.headers["x-tenant"] == tenant else { return error(401, "missing or unknown X-Tenant") }
        let path = String(full.prefix { $0 != "?" })
        let query = Dictionary((URLComponents(string: full)?.queryItems ?? []).map { ($0.name, $0.value ?? "") },
                               uniquingKeysWith: { a, _ in a })
        if request.method == "POST" && path == "/Token" {
            let body = request.json as? [String: Any]
            guard body?["username"] as? String == username, body?["password"] as? String == password else {
                return error(401, "Unauthorized")
            }
            let token = UUID().uuidString
            tokens.insert(token)
            return .json(["accessToken": token, "expiresIn": 3600, "tokenType": "Bearer", "scope": "api"])
        }
        guard let auth = request.headers["authorization"], auth.hasPrefix("Bearer "), tokens.contains(String(auth.dropFirst(7))) else {
            return error(401, "Unauthorized, which means an expired/missing/invalid token")
        }
        let answer = respond(request, path: path, query: query)
        if let i = faultsAfterApplying.firstIndex(where: { line.hasPrefix($0.request) }) { return faultsAfterApplying.remove(at: i).response }
        return answer
    }

    private func page(_ field: String, _ items: [[String: Any]], _ query: [String: String]) -> HTTPServerFixture.Response {
        let offset = Int(query["Offset"] ?? "") ?? 0
        let limit = Int(query["Limit"] ?? "") ?? 100
        let slice = Array(items.dropFirst(offset).prefix(limit))
        return .json([field: slice, "offset": offset, "limit": limit, "moreRecordsAvailable": offset + slice.count < items.count])
    }

    private func respond(_ request: HTTPServerFixture.Request, path: String, query: [String: String]) -> HTTPServerFixture.Response {
        switch (request.method, path) {
        case ("GET", "/Recommendations/transfers"): return page("transfers", transfers, query)
        case ("GET", "/Locations"): return page("locations", locations, query)
        case ("GET", "/Stock"):
            let location = query["LocationId"] ?? ""
            let rows = stockView.filter { $0.key.hasPrefix(location + "|") }.sorted { $0.key < $1.key }.map {
                ["locationId": location, "skuId": String($0.key.dropFirst(location.count + 1)), "quantity": $0.value] as [String: Any]
            }
            return page("stock", rows, query)
        case ("POST", "/Batch/start"):
            if let open = openBatch { return error(400, "batch \(open) is still open; stop it first") }
            let id = "batch-\(batches.count + 1)"
            batches.append((id, false))
            openBatch = id
            return .json(["batchId": id])
        case ("POST", "/Batch/stop"):
            guard let open = openBatch, let i = batches.firstIndex(where: { $0.id == open }) else {
                return error(400, "no open batch to stop")
            }
            batches[i].stopped = true
            openBatch = nil
            return .json(["batchId": open, "status": "stopped"])
        case ("POST", "/Transfers"), ("POST", "/Stock"), ("POST", "/StockMutations"), ("POST", "/StockNotForReplenishment"):
            guard let batch = openBatch else { return error(400, "uploads must be inside a batch: POST /Batch/start first") }
            let field = ["/Transfers": "transfers", "/Stock": "stock", "/StockMutations": "stockMutations",
                         "/StockNotForReplenishment": "stockNotForReplenishment"][path]!
            let records = (request.json as? [String: Any])?[field] as? [[String: Any]] ?? []
            if records.count > maxRecordsPerCall {
                return error(400, "at most \(maxRecordsPerCall) records per call; split the upload")
            }
            if records.contains(where: { ($0["id"] as? String ?? "").isEmpty }) { return error(400, "every record needs an id") }
            let firstInBatch = !uploadCalls.contains { $0.path == path && $0.batch == batch }
            uploadCalls.append((path, records.count, query["moreRecordsAvailable"], query["fullLoad"], batch))
            if query["fullLoad"] == "true" && firstInBatch { uploaded[path] = [:] }  // a full load replaces what was there
            for record in records { uploaded[path, default: [:]][record["id"] as! String] = record }
            if path == "/Stock" {
                for record in records {
                    if let location = record["locationId"] as? String, let sku = record["skuId"] as? String {
                        stockView["\(location)|\(sku)"] = record["quantity"] as? Int ?? 0
                    }
                }
            }
            return .json(["received": records.count])
        default:
            return error(404, "no route \(request.method) \(path)")
        }
    }

    /// A transfer line as WAIR's recommendations show it.
    public static func transfer(_ reference: String, from: String, to: String, sku: String, quantity: Double) -> [String: Any] {
        ["fromLocationId": from, "toLocationId": to, "skuId": sku, "quantity": quantity, "referenceId": reference,
         "approvalBatchId": "38822F29-6120-4405-AB87-C8ECFE7C413F", "transferType": "Replenishment",
         "approvalBatchDescription": "Replenishment 20261130", "plannedDispatchDate": "2026-11-30"]
    }
}
