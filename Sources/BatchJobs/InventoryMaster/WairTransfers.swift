import Foundation
import Logging

/// WAIR's transfer recommendations from the 3PL warehouse, seen as orders, so the same export-orders
/// pipeline (pre-flight, ledger, files, finance) sends them to the warehouse — and the warehouse's
/// despatches of them go back to WAIR as shipped transfers.
///
/// A transfer is the recommendation lines that share a `referenceId`
/// (https://docs.wair.ai/docs/recommendations-transfers: "Use the referenceId … to ensure no duplicate
/// transfers will be created"); its Peoplevox sales-order number is `order_prefix` + the referenceId, its
/// address the destination location's. WAIR does not remember what was fetched, so voxbatch's ledger does
/// (by `wair:REFERENCE`), and the lines are kept in the manifest for the despatches to come.
///
/// A despatch confirmation is an upload to `POST /Transfers` — the shipped quantity of each SKU per
/// Peoplevox package, with its tracking number — keyed `PACKAGE/SKU`; WAIR upserts by id, so sending it
/// again (a rerun, a crash) changes nothing. Confirmations queue until `flush()` and go up in one batch.
public final class WairTransfers: Storefront {
    let client: WairClient
    let settings: Configuration.InventoryMaster
    let manifest: Manifest
    let clock: () -> Date
    private var pending: [[String: Any]] = []
    private var listing: [String: [[String: Any]]]?
    private var locations: [String: [String: Any]]?

    public init(client: WairClient, manifest: Manifest, clock: @escaping () -> Date) {
        self.client = client
        settings = client.settings
        self.manifest = manifest
        self.clock = clock
    }

    public var prefix: String { settings.orderPrefix }

    // MARK: - Reading

    /// Open transfers from the warehouse location, by referenceId, in the order WAIR lists them.
    private func transfers() throws -> [(reference: String, lines: [[String: Any]])] {
        var order: [String] = []
        var byReference: [String: [[String: Any]]] = [:]
        try client.pages("/Recommendations/transfers", field: "transfers") { page in
            for line in page where line["fromLocationId"] as? String == settings.warehouseLocation {
                guard let reference = line["referenceId"] as? String else { continue }
                if byReference[reference] == nil { order.append(reference) }
                byReference[reference, default: []].append(line)
            }
        }
        listing = byReference
        try manifest.noteWairTransfers(byReference)
        return order.map { ($0, byReference[$0]!) }
    }

    private func location(_ id: String) throws -> [String: Any]? {
        if locations == nil {
            var found: [String: [String: Any]] = [:]
            try client.pages("/Locations", field: "locations") { page in
                for location in page { if let id = location["id"] as? String { found[id] = location } }
            }
            locations = found
        }
        return locations?[id]
    }

    private func order(reference: String, lines: [[String: Any]]) throws -> StorefrontOrder {
        let to = lines.first?["toLocationId"] as? String ?? ""
        let l = try location(to) ?? [:]
        let text = { (key: String) in l[key] as? String ?? "" }
        var order = StorefrontOrder(
            id: "wair:" + reference, number: prefix + reference, status: "open",
            createdAt: (lines.first?["plannedDispatchDate"] as? String).map { $0.count == 10 ? $0 + "T00:00:00Z" : $0 } ?? "",
            email: text("email"), phone: text("phone"),
            shipping: Address(name: text("name").isEmpty ? text("code") : text("name"), company: text("name"),
                              line1: text("address1"), line2: text("address2"), city: text("city"), region: text("region"),
                              postcode: text("postalCode"), country: text("countryCode")),
            service: lines.first?["transferType"] as? String ?? "Transfer",
            fields: ["wair_reference": reference, "wair_to_location": to,
                     "wair_approval_batch": lines.first?["approvalBatchDescription"] as? String ?? ""],
            lines: [])
        for line in lines {
            guard let sku = line["skuId"] as? String else { continue }
            let quantity = Int(((line["quantity"] as? Double) ?? Double(line["quantity"] as? Int ?? 0)).rounded())
            if let i = order.lines.firstIndex(where: { $0.sku == sku }) {
                order.lines[i].quantity += quantity
            } else {
                order.lines.append(StorefrontOrder.Line(sku: sku, quantity: quantity))
            }
        }
        return order
    }

    public func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws {
        let all = try transfers()
        try forEachPage(of: all, size: pageSize) { page in try body(page.map { try order(reference: $0.reference, lines: $0.lines) }) }
    }

    public func order(number: String) throws -> StorefrontOrder? {
        guard number.hasPrefix(prefix) else { return nil }
        let reference = String(number.dropFirst(prefix.count))
        if let lines = listing?[reference] { return try order(reference: reference, lines: lines) }
        // No longer open in WAIR (it lists open transfers only): the lines voxbatch sent, as it noted them.
        let lines = try manifest.wairTransferLines(reference)
        return lines.isEmpty ? nil : try order(reference: reference, lines: lines)
    }

    // MARK: - Despatches

    public func fulfil(_ fulfilment: Fulfilment) throws {
        guard let transfer = try order(number: fulfilment.orderNumber) else {
            throw StorefrontError(storefront: "wair", message: "no transfer \(fulfilment.orderNumber)", isTransient: false)
        }
        let shipped = PeoplevoxTemplates.iso8601(fulfilment.despatchDate) ?? UTCTime.iso8601(clock())
        for line in fulfilment.lines {
            pending.append([
                "id": "\(fulfilment.package)/\(line.sku)", "code": fulfilment.package,
                "referenceId": transfer.fields["wair_reference"] ?? "", "fromLocationId": settings.warehouseLocation,
                "toLocationId": transfer.fields["wair_to_location"] ?? "", "skuId": line.sku, "quantity": line.quantity,
                "status": "Shipped", "shippedDateTime": shipped, "trackingNumber": fulfilment.trackingNumber,
                "carrier": fulfilment.carrier,
            ])
        }
    }

    /// Uploads the queued confirmations in one batch.
    public func flush() throws {
        guard !pending.isEmpty else { return }
        let records = pending
        try client.inBatch { try client.upload("/Transfers", field: "transfers", records) }
        pending = []
    }

    // MARK: - What transfers do not have

    public func products() throws -> [Product] { [] }
    public func stockLevels() throws -> [String: Int] { [:] }
    public func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String> { [] }
    public func refund(_ refund: Refund) throws {}
    public func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws {}

    public func check(readyStatuses: [String]) throws -> StorefrontCheck {
        let page = try client.call("GET", "/Recommendations/transfers", query: [("Offset", "0"), ("Limit", "10")])
        let lines = (page["transfers"] as? [[String: Any]] ?? []).filter { $0["fromLocationId"] as? String == settings.warehouseLocation }
        return StorefrontCheck(
            storefront: "wair", location: client.base, readyOrders: Set(lines.compactMap { $0["referenceId"] as? String }).count,
            totalReadyOrders: nil, products: 0, totalProducts: nil,
            exampleOrders: lines.prefix(3).compactMap { ($0["referenceId"] as? String).map { prefix + $0 } },
            exampleSKUs: lines.prefix(3).compactMap { $0["skuId"] as? String },
            notes: ["tenant \(settings.tenant), warehouse location \(settings.warehouseLocation); a token was obtained"])
    }
}

extension Manifest {
    static let wairTransfersMigration = StateMigration(id: "v7-wair-transfers", sql: """
        CREATE TABLE wair_transfer_lines (reference_id TEXT NOT NULL, line INTEGER NOT NULL, json TEXT NOT NULL,
            PRIMARY KEY (reference_id, line));
        """)

    /// Keeps the lines of transfers as WAIR listed them (the first listing wins).
    func noteWairTransfers(_ transfers: [String: [[String: Any]]]) throws {
        guard !transfers.isEmpty else { return }
        try store.write { db in
            var rows: [[SQLValue]] = []
            for (reference, lines) in transfers {
                for (i, line) in lines.enumerated() {
                    let json = String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
                    rows.append([.text(reference), .integer(Int64(i)), .text(json)])
                }
            }
            try db.executeMany(sql: """
                INSERT INTO wair_transfer_lines (reference_id, line, json) VALUES (?, ?, ?) ON CONFLICT DO NOTHING
                """, rows)
        }
    }

    func wairTransferLines(_ reference: String) throws -> [[String: Any]] {
        try store.read { db in
            try db.fetchColumn(sql: "SELECT json FROM wair_transfer_lines WHERE reference_id = ? ORDER BY line",
                               arguments: [reference], as: String.self)
        }.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// SKU → quantity of the transfers sent to the warehouse and not yet despatched (in flight).
    public func wairInFlight(prefix: String) throws -> [String: Int] {
        try store.read { db in
            var flight: [String: Int] = [:]
            for row in try db.fetchAll(sql: """
                SELECT sku, kind, SUM(quantity) AS quantity FROM finance_lines
                WHERE order_number LIKE ? ESCAPE '\\' AND kind IN ('sent', 'despatched', 'cancelled') GROUP BY sku, kind
                """, arguments: [prefix.replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"]) {
                let quantity: Int = row["quantity"]
                flight[row["sku"], default: 0] += (row["kind"] as String) == "sent" ? quantity : -quantity
            }
            return flight.filter { $0.value > 0 }
        }
    }
}
