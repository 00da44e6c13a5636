import FileTransport
import Foundation
import Logging

/// WAIR For Retail's public API, as its integration guide prescribes
/// (https://docs.wair.ai/v1/docs/integration-core-principles, https://docs.wair.ai/docs/post-token):
/// a bearer token from `POST /Token` (username and password, refreshed when it expires or is refused),
/// the tenant in `X-Tenant` on every call, every upload cycle wrapped in `POST /Batch/start` …
/// `POST /Batch/stop`, uploads chunked to the recommended maximum with `moreRecordsAvailable` on all but
/// the last chunk, and reads paged with `Offset`/`Limit` until `moreRecordsAvailable` is false.
///
/// A batch voxbatch starts is written down (in the manifest) before it is started and crossed out when
/// stopped, so a run killed anywhere in between leaves no batch open for good: the next run stops it
/// first. Every write is an upsert by id, so sending an upload again changes nothing.
public final class WairClient {
    let settings: Configuration.InventoryMaster
    let http: HTTPClient
    let manifest: Manifest
    let logger: Logger
    let clock: () -> Date
    private var token: String?
    private var tokenExpires: Date = .distantPast

    public init(settings: Configuration.InventoryMaster, manifest: Manifest, retry: RetryPolicy = RetryPolicy(),
                http: HTTPClient? = nil, logger: Logger = Logger(label: "voxbatch.wair"), clock: @escaping () -> Date) {
        self.settings = settings
        self.manifest = manifest
        self.logger = logger
        self.clock = clock
        var httpSettings = HTTPSettings()
        httpSettings.timeout = settings.timeout
        httpSettings.requestsPerSecond = settings.requestsPerSecond
        httpSettings.retry = retry
        self.http = http ?? HTTPClient(settings: httpSettings, logger: logger, clock: clock)
    }

    var base: String { settings.url.hasSuffix("/") ? String(settings.url.dropLast()) : settings.url }

    func error(_ message: String, transient: Bool, refuses: Bool = false) -> StorefrontError {
        StorefrontError(storefront: "wair", message: message, isTransient: transient, refusesRecord: refuses)
    }

    // MARK: - Requests

    private func authenticate() throws -> String {
        if let token, clock() < tokenExpires { return token }
        let user: String, password: String
        do {
            guard let u = settings.username, let p = settings.password else { throw error("no credentials", transient: false) }
            user = try u.read()
            password = try p.read()
        } catch let e as StorefrontError {
            throw e
        } catch {
            throw self.error("cannot read the WAIR credentials: \(error)", transient: false)
        }
        var request = HTTPRequest.json("POST", base + "/Token",
                                       body: try JSONSerialization.data(withJSONObject: ["username": user, "password": password]))
        request.headers["X-Tenant"] = settings.tenant
        request.isIdempotent = true  // asking for a token twice is harmless
        let response = try send(request, what: "POST /Token")
        guard response.status == 200,
              let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
              let access = json["accessToken"] as? String else {
            throw error("POST /Token: WAIR refused the credentials (HTTP \(response.status)); check the username in "
                        + "\(settings.username.map(String.init(describing:)) ?? "username_env") and the password in "
                        + "\(settings.password.map(String.init(describing:)) ?? "password_env"), and the tenant "
                        + "\"\(settings.tenant)\"", transient: response.status >= 500)
        }
        token = access
        let seconds = json["expiresIn"] as? Double ?? 3600
        tokenExpires = clock().addingTimeInterval(max(60, seconds - 60))
        return access
    }

    private func send(_ request: HTTPRequest, what: String) throws -> HTTPResponse {
        do {
            return try http.send(request)
        } catch let e as TransportError {
            throw error("\(what): \(e.message)", transient: e.isTransient || e.code == .serverBusy)
        }
    }

    /// A call with the token and tenant; a refused token is fetched again once.
    func call(_ method: String, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil) throws -> [String: Any] {
        for attempt in 1...2 {
            var components = URLComponents(string: base + path)!
            if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
            var request = HTTPRequest(method: method, url: components.string!, headers: [
                "Accept": "application/json", "X-Tenant": settings.tenant, "Authorization": "Bearer \(try authenticate())",
            ])
            // Every WAIR write is an upsert by id: sending it again after a failure in transit changes nothing.
            request.isIdempotent = true
            if let body {
                request.body = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
                request.headers["Content-Type"] = "application/json"
            }
            let response = try send(request, what: "\(method) \(path)")
            if response.status == 401 && attempt == 1 {
                token = nil  // expired early: one new token
                continue
            }
            guard response.isSuccess else {
                let detail = String(decoding: response.body.prefix(300), as: UTF8.self)
                throw error("\(method) \(path): HTTP \(response.status)" + (detail.isEmpty ? "" : ": \(detail)"),
                            transient: response.status >= 500 || response.status == 429, refuses: response.status == 400)
            }
            if response.body.isEmpty { return [:] }
            guard let json = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
                throw error("\(method) \(path): the answer is not the JSON WAIR sends", transient: false)
            }
            return json
        }
        throw error("\(method) \(path): WAIR refused a fresh token", transient: false)
    }

    /// Reads an `Offset`/`Limit` list until `moreRecordsAvailable` is false; `body` gets each page's `field`.
    func pages(_ path: String, field: String, query: [(String, String)] = [], limit: Int = 1000,
               _ body: ([[String: Any]]) throws -> Void) throws {
        var offset = 0
        while true {
            let page = try call("GET", path, query: query + [("Offset", String(offset)), ("Limit", String(limit))])
            let items = page[field] as? [[String: Any]] ?? []
            try body(items)
            guard page["moreRecordsAvailable"] as? Bool == true, !items.isEmpty else { return }
            offset += items.count
        }
    }

    /// The warehouse location's stock as WAIR holds it (SKU → on hand), for the drift check.
    public func warehouseStock() throws -> [String: Int] {
        var levels: [String: Int] = [:]
        try pages("/Stock", field: "stock", query: [("LocationId", settings.warehouseLocation)]) { page in
            for row in page {
                guard let sku = row["skuId"] as? String else { continue }
                levels[sku] = Int(((row["quantity"] as? Double) ?? Double(row["quantity"] as? Int ?? 0)).rounded())
            }
        }
        return levels
    }

    // MARK: - Batches

    /// Runs `uploads` inside a WAIR batch (one per tenant at a time: `POST /Batch/start` … `POST
    /// /Batch/stop`). The batch is written down as possibly open *before* it is started — a run killed
    /// between the start and its answer leaves the mark — and crossed out once stopped; a batch an earlier
    /// run may have left open is stopped first.
    public func inBatch(_ uploads: () throws -> Void) throws {
        try stopLeftoverBatches()
        try manifest.noteWairBatch("open")
        _ = try call("POST", "/Batch/start")
        try uploads()
        _ = try call("POST", "/Batch/stop")
        try manifest.closeWairBatch("open")
    }

    /// Stops the batch a killed run may have left open (WAIR answering that none is open is fine: the run
    /// died before its start reached WAIR, or after its stop did).
    public func stopLeftoverBatches() throws {
        guard !(try manifest.openWairBatches()).isEmpty else { return }
        logger.notice("stopping the WAIR batch an interrupted run may have left open")
        do {
            _ = try call("POST", "/Batch/stop")
        } catch let error as StorefrontError where error.refusesRecord {
            logger.notice("no batch was open", metadata: ["answer": "\(error.message)"])
        }
        try manifest.closeWairBatch("open")
    }

    /// Uploads `records` to `path` under `field`, chunked to the maximum per call, `moreRecordsAvailable`
    /// on all but the last chunk (and `fullLoad` when asked: the set replaces what WAIR had).
    public func upload(_ path: String, field: String, _ records: [[String: Any]], fullLoad: Bool = false) throws {
        let size = max(1, settings.maxRecordsPerCall)
        var start = 0
        repeat {
            let chunk = Array(records[start..<min(records.count, start + size)])
            let more = start + size < records.count
            var query = [("moreRecordsAvailable", more ? "true" : "false")]
            if fullLoad { query.append(("fullLoad", "true")) }
            _ = try call("POST", path, query: query, body: [field: chunk])
            start += size
        } while start < records.count
    }
}

extension Manifest {
    static let wairMigration = StateMigration(id: "v6-wair", sql: """
        CREATE TABLE wair_batches (id TEXT PRIMARY KEY, started INTEGER NOT NULL);
        CREATE TABLE wair_stock (
            item_code TEXT PRIMARY KEY, snapshot INTEGER NOT NULL, on_hand INTEGER NOT NULL,
            allocated INTEGER NOT NULL, sent_on_hand INTEGER, sent_allocated INTEGER, sent_snapshot INTEGER);
        """)

    func noteWairBatch(_ id: String) throws {
        try store.write { db in
            try db.execute(sql: """
                INSERT INTO wair_batches (id, started) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET started = excluded.started
                """, arguments: [id, now()])
        }
    }

    func closeWairBatch(_ id: String) throws {
        try store.write { db in try db.execute(sql: "DELETE FROM wair_batches WHERE id = ?", arguments: [id]) }
    }

    public func openWairBatches() throws -> [String] {
        try store.read { db in try db.fetchColumn(sql: "SELECT id FROM wair_batches ORDER BY started", as: String.self) }
    }

    /// Notes the warehouse's on-hand and allocated stock of an item at a snapshot, for the inventory
    /// master; an older snapshot than the one noted is ignored (one as old replaces it: the later file).
    public func noteWairStock(_ levels: [StockLevel]) throws {
        guard !levels.isEmpty else { return }
        try store.write { db in
            try db.executeMany(sql: """
                INSERT INTO wair_stock (item_code, snapshot, on_hand, allocated) VALUES (?, ?, ?, ?)
                ON CONFLICT(item_code) DO UPDATE SET
                    snapshot = excluded.snapshot, on_hand = excluded.on_hand, allocated = excluded.allocated
                WHERE excluded.snapshot >= wair_stock.snapshot
                """, levels.map { level in
                    [.text(level.itemCode), level.snapshot.sqlValue, (level.onHand ?? level.available).sqlValue,
                     (level.allocated ?? 0).sqlValue]
                })
        }
    }

    /// An item's stock as last noted, and what WAIR was last sent for it.
    public struct WairStock: Sendable, Hashable {
        public var itemCode: String
        public var snapshot: Int
        public var onHand: Int
        public var allocated: Int
        /// The on-hand last sent to WAIR (nil: never sent).
        public var sentOnHand: Int?
        /// The snapshot last sent (nil: never).
        public var sentSnapshot: Int?
    }

    public func wairStock(unsentOnly: Bool) throws -> [WairStock] {
        try store.read { db in
            try db.fetchAll(sql: """
                SELECT * FROM wair_stock \(unsentOnly ? """
                    WHERE sent_snapshot IS NULL OR sent_snapshot < snapshot OR sent_on_hand != on_hand
                       OR sent_allocated != allocated
                    """ : "")
                ORDER BY item_code
                """).map {
                WairStock(itemCode: $0["item_code"], snapshot: $0["snapshot"], onHand: $0["on_hand"], allocated: $0["allocated"],
                          sentOnHand: $0["sent_on_hand"], sentSnapshot: $0["sent_snapshot"])
            }
        }
    }

    /// Marks levels as sent to WAIR (after the batch that carried them was stopped).
    public func markWairStockSent(_ levels: [WairStock]) throws {
        try store.write { db in
            // Only what was read and sent: a level noted meanwhile stays to be sent.
            try db.executeMany(sql: """
                UPDATE wair_stock SET sent_snapshot = ?, sent_on_hand = ?, sent_allocated = ?
                WHERE item_code = ? AND snapshot = ? AND on_hand = ? AND allocated = ?
                """, levels.map { l in
                    [l.snapshot.sqlValue, l.onHand.sqlValue, l.allocated.sqlValue, .text(l.itemCode), l.snapshot.sqlValue,
                     l.onHand.sqlValue, l.allocated.sqlValue]
                })
        }
    }
}
