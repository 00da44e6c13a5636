@testable import BatchJobs
import CSVKit
import FileTransport
import Foundation
import TestSupport

/// The storefronts the conformance suite runs against, each on its own fixture. A new connector adds a
/// case and a harness; the suite itself does not change.
enum ConformingStorefront: String, CaseIterable, Sendable, CustomStringConvertible {
    case file
    case woocommerce
    case centra
    case marketplacer
    case scayle

    var description: String { rawValue }

    func harness() throws -> any StorefrontHarness {
        switch self {
        case .file: try FileStorefrontHarness()
        case .woocommerce: try WooCommerceHarness()
        case .centra: try CentraHarness()
        case .marketplacer: try MarketplacerHarness()
        case .scayle: try ScayleHarness()
        }
    }

    /// The storefronts reached over HTTP, for the fault tests.
    static var overHTTP: [ConformingStorefront] { [.woocommerce, .centra, .marketplacer, .scayle] }
}

/// An order to seed a storefront with.
struct SeedOrder {
    var id: Int
    var ready = true
    var cancelled = false
    /// (SKU, quantity, unit price)
    var lines: [(sku: String, quantity: Int, price: String)]
    var gift = "Happy birthday"

    var number: String { String(id) }
}

/// What the conformance suite needs of a storefront: seed it, connect to it as a new process would (a
/// new connector instance, nothing remembered), and read back what the storefront itself recorded —
/// never what the connector believes.
protocol StorefrontHarness: AnyObject {
    /// More orders than this span several pages of the storefront's listing.
    var pageSize: Int { get }
    /// The status of an order ready for fulfilment, and of one that is not.
    var readyStatus: String { get }
    var cancelledStatus: String { get }
    /// A SKU the shop sells without managing its stock, if the storefront has such a thing.
    var unmanagedSKU: String? { get }
    /// The number the warehouse knows a seeded order by (`1001`; a Centra shipment: `1001-1`).
    func number(_ seeded: String) -> String
    /// Whether `check` can say how many ready orders there are in all (Marketplacer counts every
    /// undispatched invoice, approved or not, so it cannot).
    var countsReadyOrders: Bool { get }

    /// Products (SKU, stock) and orders; replaces what was there.
    func seed(products: [(sku: String, stock: Int)], orders: [SeedOrder]) throws
    /// A new connector, as a new process would make it.
    func connect() throws -> any Storefront
    /// Each fulfilment line the storefront holds for the order, as `PACKAGE/SKU=QUANTITY` (a line recorded
    /// twice appears twice).
    func fulfilmentLines(order: String) throws -> [String]
    /// The order's status in the storefront.
    func status(order: String) throws -> String
    /// Each refund the storefront holds for the order: its line id and whether the goods were restocked.
    func refunds(order: String) throws -> [(id: String, restock: Bool)]
    /// The stock the storefront shows for an SKU.
    func stock(sku: String) throws -> Int?
    /// The cancellation outcomes recorded on the order, in order.
    func cancellations(order: String) throws -> [String]
}

extension StorefrontHarness {
    func number(_ seeded: String) -> String { seeded }
    var countsReadyOrders: Bool { true }
}

/// A request of the connector, named by what it does rather than how its API spells it (a REST path, a
/// GraphQL operation).
enum HarnessRequest: Hashable {
    /// Reading a page of ready orders.
    case orderListing
    /// Recording a package on the order.
    case fulfilmentWrite(order: String)
    /// Recording a refund (a return) on the order.
    case refundWrite(order: String)
}

/// Over HTTP: the fixture's knobs for the fault tests.
protocol HTTPStorefrontHarness: StorefrontHarness {
    /// Answers `response` once to the next such request, instead of handling it.
    func fail(_ request: HarnessRequest, with response: HTTPServerFixture.Response)
    /// Carries out the next such request, then answers `response` instead of the real answer (the write
    /// reached the shop; its answer was lost).
    func failAfterApplying(_ request: HarnessRequest, with response: HTTPServerFixture.Response)
    /// How many such requests the shop received.
    func count(_ request: HarnessRequest) -> Int
    /// Requests received, and whether every one was a read.
    var requestCount: Int { get }
    var onlyReads: Bool { get }
    /// A connector whose client times out after `seconds`.
    func connect(timeout seconds: Double) throws -> any Storefront
    /// A connector whose credentials the shop refuses; `secretValue` must never appear in an error.
    func connectWithWrongCredentials() throws -> (storefront: any Storefront, secretValue: String, secretSource: String)
    /// The delays the connector's HTTP client waited (it records instead of sleeping).
    var waits: [Double] { get }
}

/// The delays an HTTP client waited.
final class Waits: @unchecked Sendable { var seconds: [Double] = [] }

/// A client for a connector under test: quick retries, the fixtures' day as its clock, and sleeps
/// recorded in `waits` instead of slept.
func recordingClient(timeout: Double, into waits: Waits) -> (HTTPClient, RetryPolicy) {
    var settings = HTTPSettings()
    settings.timeout = timeout
    settings.retry = RetryPolicy(maxAttempts: 4, initialDelay: 0.01, maxDelay: 1, jitter: 0)
    let http = HTTPClient(settings: settings, clock: { Epoch.fixtureDay.start })
    http.sleep = { waits.seconds.append($0) }
    return (http, settings.retry)
}

/// An API storefront reached with a token (Centra, Marketplacer, SCAYLE): the harness says how its
/// configuration looks and how a connector is made; the token files (`token`, and `wrong-token` holding
/// `wrongToken`) and the connecting are shared.
protocol TokenHarness: HTTPStorefrontHarness {
    var secrets: URL { get }
    var wrongToken: String { get }
    var recorded: Waits { get }
    /// The storefront's configuration, without its token and timings.
    func baseConfiguration() -> Configuration.Storefront
    func make(_ configuration: Configuration.Storefront, http: HTTPClient, retry: RetryPolicy) throws -> any Storefront
}

extension TokenHarness {
    func configuration(token: String = "token", timeout: Double = 5) -> Configuration.Storefront {
        var c = baseConfiguration()
        c.token = .file(secrets.appendingPathComponent(token).path)
        c.timeout = timeout
        c.requestsPerSecond = 0
        return c
    }

    func connect(configuration: Configuration.Storefront) throws -> any Storefront {
        let (http, retry) = recordingClient(timeout: configuration.timeout, into: recorded)
        return try make(configuration, http: http, retry: retry)
    }

    func connect() throws -> any Storefront { try connect(configuration: configuration()) }
    func connect(timeout seconds: Double) throws -> any Storefront { try connect(configuration: configuration(timeout: seconds)) }

    func connectWithWrongCredentials() throws -> (storefront: any Storefront, secretValue: String, secretSource: String) {
        (try connect(configuration: configuration(token: "wrong-token")), wrongToken,
         "file " + secrets.appendingPathComponent("wrong-token").path)
    }
}

// MARK: - The plain-file storefront

final class FileStorefrontHarness: StorefrontHarness {
    let folder: String
    let pageSize = 50  // the file storefront has no pages; the suite's "several pages" still applies
    let readyStatus = "paid"
    let cancelledStatus = "cancelled"
    let unmanagedSKU: String? = nil
    let clock = { Epoch.fixtureDay.start }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("voxbatch-conf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/orders", withIntermediateDirectories: true)
    }

    func seed(products: [(sku: String, stock: Int)], orders: [SeedOrder]) throws {
        try write(folder + "/products.csv", ["sku", "name"], products.map { [$0.sku, "Product \($0.sku)"] })
        var rows: [[String]] = []
        for o in orders {
            for line in o.lines {
                rows.append([o.number, o.number, o.cancelled ? cancelledStatus : (o.ready ? readyStatus : "pending"),
                             "2026-11-30T07:15:00Z", "amelia@example.com", "", "Amelia Hart", "", "14 Mill Lane", "",
                             "Leeds", "", "LS6 2DT", "GB", "Express", "3.95", "23.95", "Leave with the neighbour",
                             line.sku, String(line.quantity), line.price, o.gift])
            }
        }
        try write(folder + "/orders/orders.csv", FileStorefront.orderColumns + ["gift_message"], rows)
    }

    private func write(_ path: String, _ header: [String], _ rows: [[String]]) throws {
        let sink = MemorySink()
        let writer = CSVWriter(sink: sink, lineEnding: .lf, guardsFormulas: false)
        try writer.write(record: header)
        for row in rows { try writer.write(record: row) }
        try writer.flush()
        try Data(sink.bytes).write(to: URL(fileURLWithPath: path))
    }

    func connect() throws -> any Storefront { try FileStorefront(folder: folder, clock: clock) }

    private func journal(_ name: String) throws -> [[String: String]] {
        let path = folder + "/updates/" + name
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let reader = try CSVReader(path: path)
        var rows: [[String: String]] = []
        while try reader.next() {
            var row: [String: String] = [:]
            for (i, column) in (reader.header?.names ?? []).enumerated() where i < reader.fieldCount { row[column] = reader.field(i) }
            rows.append(row)
        }
        return rows
    }

    func fulfilmentLines(order: String) throws -> [String] {
        try journal("fulfilments.csv").filter { $0["order_number"] == order }
            .map { "\($0["package"] ?? "")/\($0["sku"] ?? "")=\($0["quantity"] ?? "")" }
    }

    func status(order: String) throws -> String { try connect().order(number: order)?.status ?? "" }

    func refunds(order: String) throws -> [(id: String, restock: Bool)] {
        try journal("refunds.csv").filter { $0["order_number"] == order }.map { ($0["refund_id"] ?? "", $0["restock"] == "true") }
    }

    func stock(sku: String) throws -> Int? {
        try journal("stock.csv").last { $0["sku"] == sku }.flatMap { Int($0["available"] ?? "") }
    }

    func cancellations(order: String) throws -> [String] {
        try journal("cancellations.csv").filter { $0["order_number"] == order }.map { $0["outcome"] ?? "" }
    }
}

// MARK: - WooCommerce

final class WooCommerceHarness: HTTPStorefrontHarness {
    let woo: WooCommerceFixture
    let secrets: URL
    let pageSize = 100  // voxbatch asks for per_page=100
    let readyStatus = "processing"
    let cancelledStatus = "cancelled"
    let unmanagedSKU: String? = "GIFT"
    let recorded = Waits()

    init() throws {
        woo = try WooCommerceFixture()
        secrets = try secretFiles([("key", "ck_test"), ("secret", "cs_test"), ("wrong-secret", "cs_wrong_7f3a")], prefix: "voxbatch-conf-woo")
    }

    func seed(products: [(sku: String, stock: Int)], orders: [SeedOrder]) throws {
        woo.products = products.enumerated().map { i, p in
            ["id": 10 + i, "name": "Product \(p.sku)", "type": "simple", "sku": p.sku, "regular_price": "12.00",
             "manage_stock": true, "stock_quantity": p.stock]
        } + [["id": 9, "name": "Gift card", "type": "simple", "sku": "GIFT", "manage_stock": false]]
        woo.orders = orders.map { o in
            var order = WooCommerceFixture.order(o.id, status: o.cancelled ? cancelledStatus : (o.ready ? readyStatus : "on-hold"),
                                                 lines: o.lines.enumerated().map { i, l in
                                                     (id: i + 1, sku: l.sku, qty: l.quantity,
                                                      total: String(format: "%.2f", (Double(l.price) ?? 0) * Double(l.quantity)))
                                                 })
            order["meta_data"] = [["id": 1, "key": "gift_message", "value": o.gift]]
            return order
        }
    }

    func configuration(secret: String = "secret", timeout: Double = 5) -> Configuration.Storefront {
        var c = Configuration.Storefront(kind: "woocommerce", folder: nil, url: woo.server.baseURL,
                                         key: .file(secrets.appendingPathComponent("key").path),
                                         secret: .file(secrets.appendingPathComponent(secret).path),
                                         readyStatuses: [readyStatus], cancelledStatuses: [cancelledStatus])
        c.timeout = timeout
        c.requestsPerSecond = 0
        return c
    }

    func connect(configuration: Configuration.Storefront) throws -> any Storefront {
        let (http, retry) = recordingClient(timeout: configuration.timeout, into: recorded)
        return try WooCommerceStorefront(configuration: configuration, retry: retry, http: http, clock: { Epoch.fixtureDay.start })
    }

    func connect() throws -> any Storefront { try connect(configuration: configuration()) }
    func connect(timeout seconds: Double) throws -> any Storefront { try connect(configuration: configuration(timeout: seconds)) }

    func connectWithWrongCredentials() throws -> (storefront: any Storefront, secretValue: String, secretSource: String) {
        (try connect(configuration: configuration(secret: "wrong-secret")), "cs_wrong_7f3a",
         "file " + secrets.appendingPathComponent("wrong-secret").path)
    }

    private func orderID(_ number: String) -> Int? {
        woo.orders.first { $0["number"] as? String == number }?["id"] as? Int
    }

    func fulfilmentLines(order: String) throws -> [String] {
        guard let id = orderID(order) else { return [] }
        return (woo.notes[id] ?? []).flatMap { StorefrontMarker.all(in: $0["note"] as? String ?? "", kind: "fulfilment") }
    }

    func status(order: String) throws -> String {
        woo.orders.first { $0["number"] as? String == order }?["status"] as? String ?? ""
    }

    func refunds(order: String) throws -> [(id: String, restock: Bool)] {
        guard let id = orderID(order) else { return [] }
        return (woo.refunds[id] ?? []).flatMap { refund in
            StorefrontMarker.all(in: refund["reason"] as? String ?? "", kind: "return").map {
                (String($0.prefix { $0 != "=" }), refund["restock_items"] as? Bool ?? false)
            }
        }
    }

    func stock(sku: String) throws -> Int? {
        woo.products.first { $0["sku"] as? String == sku }?["stock_quantity"] as? Int
    }

    func cancellations(order: String) throws -> [String] {
        guard let id = orderID(order) else { return [] }
        return (woo.notes[id] ?? []).compactMap { note -> String? in
            let text = note["note"] as? String ?? ""
            guard let range = text.range(of: "[voxbatch cancellation ") else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "]" })
        }
    }

    /// `METHOD path` of a request.
    private func line(_ request: HarnessRequest) -> String {
        switch request {
        case .orderListing: "GET /orders?"
        case .fulfilmentWrite(let order): "POST /orders/\(order)/notes"
        case .refundWrite(let order): "POST /orders/\(order)/refunds"
        }
    }

    func fail(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        woo.faults.append((String(line(request).drop { $0 != " " }.dropFirst()), response))
    }

    func failAfterApplying(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        woo.faultsAfterApplying.append((line(request), response))
    }

    func count(_ request: HarnessRequest) -> Int { requestLines.filter { $0.hasPrefix(line(request)) }.count }
    var requestCount: Int { woo.requests.count }
    var onlyReads: Bool { woo.requests.allSatisfy { $0.method == "GET" } }

    var waits: [Double] { recorded.seconds }

    var requestLines: [String] {
        woo.requests.map { "\($0.method) \($0.path.replacingOccurrences(of: "/wp-json/wc/v3", with: ""))" }
    }
}

// MARK: - Centra

final class CentraHarness: TokenHarness {
    let centra: CentraFixture
    let secrets: URL
    let pageSize = 100  // voxbatch asks for limit=100
    let readyStatus = "good-to-go"
    let cancelledStatus = "cancelled"
    let unmanagedSKU: String? = nil  // Centra keeps stock for every size
    static let warehouse = "Peoplevox 3PL"
    let recorded = Waits()

    init() throws {
        centra = try CentraFixture(token: "centra-test-token")
        secrets = try secretFiles([("token", "centra-test-token"), ("wrong-token", Self.wrong)], prefix: "voxbatch-conf-centra")
    }

    func number(_ seeded: String) -> String { seeded + "-1" }

    func seed(products: [(sku: String, stock: Int)], orders: [SeedOrder]) throws {
        centra.sizes = products.enumerated().map { i, p in
            CentraFixture.Size(id: 10 + i, sku: p.sku, ean: "735000000000\(i)", product: "Product \(p.sku)",
                               stock: [Self.warehouse: p.stock])
        }
        centra.orders = []
        centra.shipments = []
        for o in orders {
            centra.addOrder(o.id, status: o.cancelled ? "CANCELLED" : (o.ready ? "PROCESSING" : "CONFIRMED"),
                            goodToGo: o.ready && !o.cancelled,
                            lines: o.lines.map { ($0.sku, $0.quantity, Double($0.price) ?? 0) })
            centra.orders[centra.orders.count - 1].giftMessage = o.gift
        }
    }

    static let wrong = "centra_wrong_91c2"
    var wrongToken: String { Self.wrong }

    func baseConfiguration() -> Configuration.Storefront {
        var c = Configuration.Storefront(kind: "centra", folder: nil, url: centra.baseURL, key: nil, secret: nil,
                                         readyStatuses: [readyStatus], cancelledStatuses: [cancelledStatus])
        c.stockWarehouse = Self.warehouse
        return c
    }

    func make(_ configuration: Configuration.Storefront, http: HTTPClient, retry: RetryPolicy) throws -> any Storefront {
        try CentraStorefront(configuration: configuration, retry: retry, http: http, clock: { Epoch.fixtureDay.start })
    }

    private func shipment(_ number: String) -> CentraFixture.Shipment? {
        centra.withLock { $0.shipments.first { $0.number == number } }
    }

    func fulfilmentLines(order: String) throws -> [String] {
        StorefrontMarker.all(in: shipment(order)?.additionalMessage ?? "", kind: "fulfilment")
    }

    func status(order: String) throws -> String {
        guard let s = shipment(order) else { return "" }
        return s.isShipped ? "completed" : (s.isGoodToGo ? readyStatus : "pending")
    }

    func refunds(order: String) throws -> [(id: String, restock: Bool)] {
        guard let s = shipment(order) else { return [] }
        return centra.withLock { $0.returns }.filter { $0.shipmentID == s.id && $0.status == "COMPLETED" }.flatMap { ret in
            StorefrontMarker.all(in: ret.comment, kind: "return").map {
                (String($0.prefix { $0 != "=" }), ret.stockPolicy == "releaseItemsBackToWarehouse")
            }
        }
    }

    func stock(sku: String) throws -> Int? {
        centra.withLock { $0.sizes.first { $0.sku == sku }?.stock[Self.warehouse] }
    }

    func cancellations(order: String) throws -> [String] {
        let text = shipment(order)?.additionalMessage ?? ""
        return text.components(separatedBy: "[voxbatch cancellation ").dropFirst().map { String($0.prefix { $0 != "]" }) }
    }

    /// Which GraphQL calls a request stands for.
    private func matcher(_ request: HarnessRequest) -> (GraphQLServerFixture.Call) -> Bool {
        let centra = centra
        func shipmentID(_ number: String) -> Int? { centra.shipments.first { $0.number == number }?.id }
        switch request {
        case .orderListing:
            return { $0.operationName == "ReadyShipments" }
        case .fulfilmentWrite(let order):
            return { ["UpdateShipment", "CompleteShipment"].contains($0.operationName) && $0.variables["id"] as? Int == shipmentID(order) }
        case .refundWrite(let order):
            return { call in
                call.operationName == "CreateReturn"
                    && ((call.variables["input"] as? [String: Any])?["shipment"] as? [String: Any])?["id"] as? Int == shipmentID(order)
            }
        }
    }

    func fail(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        centra.faults.append((matcher(request), .http(response)))
    }

    func failAfterApplying(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        centra.faultsAfterApplying.append((matcher(request), .http(response)))
    }

    func count(_ request: HarnessRequest) -> Int { centra.calls.filter(matcher(request)).count }
    var requestCount: Int { centra.graphql.server.requests.count }
    var onlyReads: Bool { centra.calls.allSatisfy { $0.kind == "query" } }
    var waits: [Double] { recorded.seconds }
}

// MARK: - Marketplacer

final class MarketplacerHarness: TokenHarness {
    let marketplacer: MarketplacerFixture
    let secrets: URL
    let pageSize = 100  // voxbatch asks for first: 100
    let readyStatus = "PAID"
    let cancelledStatus = "CANCELLED"
    let unmanagedSKU: String? = nil
    let countsReadyOrders = false
    let recorded = Waits()

    init() throws {
        marketplacer = try MarketplacerFixture(token: "mkp-test-key")
        secrets = try secretFiles([("token", "mkp-test-key"), ("wrong-token", Self.wrong)], prefix: "voxbatch-conf-mkp")
    }

    func seed(products: [(sku: String, stock: Int)], orders: [SeedOrder]) throws {
        marketplacer.variants = products.enumerated().map { i, p in
            MarketplacerFixture.Variant(10 + i, advert: "Product \(p.sku)", sku: p.sku, barcode: "93100000000\(i)",
                                        countOnHand: p.stock)
        }
        marketplacer.invoices = []
        for o in orders {
            // Not ready: placed but not yet paid/approved by the marketplace.
            marketplacer.addInvoice(o.id, flags: o.cancelled ? ["PAID", "CANCELLED"] : (o.ready ? ["PAID"] : ["AWAITING_PAYMENT"]),
                                    lines: o.lines.map { ($0.sku, $0.quantity, Double($0.price) ?? 0) })
            marketplacer.invoices[marketplacer.invoices.count - 1].metadata = ["gift_message": o.gift]
        }
    }

    static let wrong = "mkp_revoked_55aa"
    var wrongToken: String { Self.wrong }

    func baseConfiguration() -> Configuration.Storefront {
        Configuration.Storefront(kind: "marketplacer", folder: nil, url: marketplacer.baseURL, key: nil, secret: nil,
                                 readyStatuses: [readyStatus], cancelledStatuses: [cancelledStatus])
    }

    func make(_ configuration: Configuration.Storefront, http: HTTPClient, retry: RetryPolicy) throws -> any Storefront {
        try MarketplacerStorefront(configuration: configuration, retry: retry, http: http, clock: { Epoch.fixtureDay.start })
    }

    private func invoice(_ number: String) -> MarketplacerFixture.Invoice? {
        marketplacer.withLock { $0.invoices.first { String($0.legacyId) == number } }
    }

    func fulfilmentLines(order: String) throws -> [String] {
        (invoice(order)?.shipments ?? []).flatMap { StorefrontMarker.all(in: $0.note, kind: "fulfilment") }
    }

    func status(order: String) throws -> String {
        guard let i = invoice(order) else { return "" }
        return i.flags.contains("SENT") ? "completed" : (i.flags.contains("PAID") ? readyStatus : "pending")
    }

    func refunds(order: String) throws -> [(id: String, restock: Bool)] {
        (invoice(order)?.refundRequests ?? []).filter { $0.status == "RETURNED" }.flatMap { request in
            let text = request.notes.joined(separator: "\n")
            return StorefrontMarker.all(in: text, kind: "return").map {
                (String($0.prefix { $0 != "=" }), text.contains("goods back in stock: yes"))
            }
        }
    }

    func stock(sku: String) throws -> Int? {
        marketplacer.withLock { $0.variants.first { $0.sku == sku }?.countOnHand }
    }

    func cancellations(order: String) throws -> [String] {
        (invoice(order)?.annotations ?? []).flatMap { text in
            text.components(separatedBy: "[voxbatch cancellation ").dropFirst().map { String($0.prefix { $0 != "]" }) }
        }
    }

    private func matcher(_ request: HarnessRequest) -> (GraphQLServerFixture.Call) -> Bool {
        let invoiceID = { (number: String) in MarketplacerFixture.nodeID("Invoice", Int(number) ?? 0) }
        switch request {
        case .orderListing:
            return { $0.operationName == "Invoices" }
        case .fulfilmentWrite(let order):
            return { $0.operationName == "ShipmentCreate" && ($0.variables["input"] as? [String: Any])?["invoiceId"] as? String == invoiceID(order) }
        case .refundWrite(let order):
            return { $0.operationName == "RefundRequestCreate" && ($0.variables["input"] as? [String: Any])?["invoiceId"] as? String == invoiceID(order) }
        }
    }

    func fail(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        marketplacer.faults.append((matcher(request), .http(response)))
    }

    func failAfterApplying(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        marketplacer.faultsAfterApplying.append((matcher(request), .http(response)))
    }

    func count(_ request: HarnessRequest) -> Int { marketplacer.calls.filter(matcher(request)).count }
    var requestCount: Int { marketplacer.graphql.server.requests.count }
    var onlyReads: Bool { marketplacer.calls.allSatisfy { $0.kind == "query" } }
    var waits: [Double] { recorded.seconds }
}

// MARK: - SCAYLE

final class ScayleHarness: TokenHarness {
    let scayle: ScayleFixture
    let secrets: URL
    let pageSize = 100  // voxbatch asks for perPage=100
    let readyStatus = "confirmed"
    let cancelledStatus = "cancelled"
    let unmanagedSKU: String? = nil
    let countsReadyOrders = false
    static let warehouse = "pvx-leeds"
    let recorded = Waits()

    init() throws {
        scayle = try ScayleFixture(token: "scayle-test-token")
        secrets = try secretFiles([("token", "scayle-test-token"), ("wrong-token", Self.wrong)], prefix: "voxbatch-conf-scayle")
    }

    func seed(products: [(sku: String, stock: Int)], orders: [SeedOrder]) throws {
        scayle.variants = products.enumerated().map { i, p in
            ScayleFixture.Variant(id: 500 + i, referenceKey: p.sku, ean: "400000000000\(i)",
                                  stocks: [Self.warehouse: (p.stock, "2026-11-29T00:00:00Z")])
        }
        scayle.orders = []
        for o in orders {
            scayle.addOrder(o.id, status: o.cancelled ? cancelledStatus : (o.ready ? readyStatus : "payment_pending"),
                            lines: o.lines.map { ($0.sku, $0.quantity, Int(((Double($0.price) ?? 0) * 100).rounded())) })
            scayle.orders[scayle.orders.count - 1].customData = ["gift_message": o.gift]
        }
    }

    static let wrong = "scayle_rotated_8e21"
    var wrongToken: String { Self.wrong }

    func baseConfiguration() -> Configuration.Storefront {
        var c = Configuration.Storefront(kind: "scayle", folder: nil, url: scayle.baseURL, key: nil, secret: nil,
                                         readyStatuses: [readyStatus], cancelledStatuses: [cancelledStatus])
        c.shopKey = scayle.shopKey
        c.countryCode = scayle.countryCode
        c.stockWarehouse = Self.warehouse
        return c
    }

    func make(_ configuration: Configuration.Storefront, http: HTTPClient, retry: RetryPolicy) throws -> any Storefront {
        try ScayleStorefront(configuration: configuration, retry: retry, http: http, clock: { Epoch.fixtureDay.start })
    }

    private func order(_ number: String) -> ScayleFixture.Order? {
        scayle.withLock { $0.orders.first { String($0.id) == number } }
    }

    func fulfilmentLines(order number: String) throws -> [String] {
        guard let o = order(number) else { return [] }
        var lines: [String] = []
        for shipment in o.shipments {
            var count: [String: Int] = [:]
            var package = ""
            var order: [String] = []
            for item in shipment["items"] as? [[String: Any]] ?? [] {
                let key = item["returnKey"] as? String ?? ""
                package = String(key.prefix { $0 != "/" })
                let sku = o.items.first { $0.id == item["orderItemId"] as? Int }?.sku ?? ""
                if count[sku] == nil { order.append(sku) }
                count[sku, default: 0] += 1
            }
            lines += order.map { "\(package)/\($0)=\(count[$0]!)" }
        }
        return lines
    }

    func status(order number: String) throws -> String {
        guard let o = order(number) else { return "" }
        return o.items.allSatisfy { $0.status != "open" } ? "completed" : o.status
    }

    func refunds(order number: String) throws -> [(id: String, restock: Bool)] {
        (order(number)?.returns ?? []).map {
            ($0["referenceKey"] as? String ?? "", ($0["customData"] as? [String: Any])?["restock"] as? Bool ?? false)
        }
    }

    func stock(sku: String) throws -> Int? {
        scayle.withLock { $0.variants.first { $0.referenceKey == sku }?.stocks[Self.warehouse]?.quantity }
    }

    func cancellations(order number: String) throws -> [String] {
        order(number)?.customData["voxbatchCancellation"].map { [$0] } ?? []
    }

    private func line(_ request: HarnessRequest) -> String {
        switch request {
        case .orderListing: "GET /orders?"
        case .fulfilmentWrite: "POST /shipments"
        case .refundWrite: "POST /returns"
        }
    }

    func fail(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        scayle.faults.append((line(request), response))
    }

    func failAfterApplying(_ request: HarnessRequest, with response: HTTPServerFixture.Response) {
        scayle.faultsAfterApplying.append((line(request), response))
    }

    var requestLines: [String] {
        scayle.requests.map { "\($0.method) \($0.path.replacingOccurrences(of: "/api/admin/v1", with: ""))" }
    }

    func count(_ request: HarnessRequest) -> Int { requestLines.filter { $0.hasPrefix(line(request)) }.count }
    var requestCount: Int { scayle.requests.count }
    var onlyReads: Bool { scayle.requests.allSatisfy { $0.method == "GET" } }
    var waits: [Double] { recorded.seconds }
}
