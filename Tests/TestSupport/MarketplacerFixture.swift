import Foundation

/// A local stand-in for a Marketplacer marketplace's GraphQL Seller API (`/graphql`, the seller's API key
/// as a bearer token), on the loopback ``GraphQLServerFixture`` (operations and variables parsed, a wrong
/// key refused with 401).
///
/// It answers with the shapes of Marketplacer's published docs: Relay connections (`first`/`after`,
/// `totalCount`, `nodes`, `pageInfo`) for `invoices` and `adverts`
/// (https://dev.marketplacer.com/docs/seller-api/reference/queries/invoices), base64 node ids
/// (`SW52b2ljZS0xMzczNw==` is `Invoice-13737`), invoice status flags (PAID, SENT, CANCELLED…:
/// https://dev.marketplacer.com/docs/seller-api/examples/orders/howto_invoicestatusflags), mutation payloads
/// with `errors { field messages }` (https://dev.marketplacer.com/docs/seller-api/reference/mutations/shipmentcreate,
/// .../refundrequestcreate, .../refundrequestreturn with its "Can only mark an awaiting RefundRequest as
/// returned"), and `variantUpdate` setting `countOnHand`. It keeps what is written.
public final class MarketplacerFixture: GraphQLStoreFixture, @unchecked Sendable {
    public struct Variant {
        public var id: String
        public var advert: String
        public var label: String
        public var sku: String
        public var barcode: String
        public var externalIds: [String: String]
        public var countOnHand: Int
        public init(_ n: Int, advert: String, sku: String, barcode: String = "", externalIds: [String: String] = [:],
                    countOnHand: Int = 0, label: String = "Default") {
            id = MarketplacerFixture.nodeID("Variant", n)
            self.advert = advert
            self.label = label
            self.sku = sku
            self.barcode = barcode
            self.externalIds = externalIds
            self.countOnHand = countOnHand
        }
    }

    public struct LineItem {
        public var id: String
        public var variantID: String
        public var quantity: Int
        public var price: Double
    }

    public struct Shipment {
        public var id: String
        public var note: String
        public var trackingNumber: String
        public var carrierID: String
        public var dispatchedAt: String?
        public var items: [(lineItem: String, quantity: Int)]
    }

    public struct RefundRequest {
        public var id: String
        /// `AWAITING`, `RETURNED`, `REFUNDED`…
        public var status: String
        public var notes: [String]
        public var items: [(lineItem: String, quantity: Int)]
        public init(id: String, status: String, notes: [String], items: [(lineItem: String, quantity: Int)]) {
            self.id = id
            self.status = status
            self.notes = notes
            self.items = items
        }
    }

    public struct Invoice {
        public var id: String
        public var legacyId: Int
        public var flags: [String]
        public var createdAt = "2026-11-30T07:15:00Z"
        public var updatedAt = "2026-11-30T07:15:00Z"
        public var postcode = "LS6 2DT"
        public var metadata: [String: String] = ["gift_message": "Happy birthday"]
        public var lineItems: [LineItem]
        public var shipments: [Shipment] = []
        public var refundRequests: [RefundRequest] = []
        public var annotations: [String] = []
    }

    public var variants: [Variant] = []
    public var invoices: [Invoice] = []
    public var carriers: [(id: String, name: String)] = [
        (MarketplacerFixture.nodeID("ShipmentCarrier", 68), "DPD"), (MarketplacerFixture.nodeID("ShipmentCarrier", 69), "Royal Mail"),
    ]
    private var next = 7000

    public override init(token: String = "mkp-test-key") throws {
        try super.init(token: token)
    }


    public func withLock<T>(_ body: (MarketplacerFixture) -> T) -> T { locked { body(self) } }

    /// Marketplacer's node ids: base64 of `Type-N`.
    public static func nodeID(_ type: String, _ n: Int) -> String { Data("\(type)-\(n)".utf8).base64EncodedString() }

    /// Seeds an invoice; `lines` name variants by SKU.
    public func addInvoice(_ legacyId: Int, flags: [String] = ["PAID"], lines: [(sku: String, quantity: Int, price: Double)]) {
        invoices.append(Invoice(
            id: Self.nodeID("Invoice", legacyId), legacyId: legacyId, flags: flags,
            lineItems: lines.enumerated().map { i, line in
                LineItem(id: Self.nodeID("LineItem", legacyId * 10 + i),
                         variantID: variants.first { $0.sku == line.sku }?.id ?? Self.nodeID("Variant", 0),
                         quantity: line.quantity, price: line.price)
            }))
    }

    // MARK: - Answers

    private func payload(_ key: String, _ object: [String: Any], errors: [String] = []) -> GraphQLServerFixture.Answer {
        var body = object
        body["errors"] = errors.isEmpty ? NSNull() : errors.map { ["field": "base", "messages": [$0]] as [String: Any] }
        return .data([key: body])
    }

    private func newID(_ type: String) -> String {
        next += 1
        return Self.nodeID(type, next)
    }

    public override func respond(_ call: GraphQLServerFixture.Call) -> GraphQLServerFixture.Answer {
        let v = call.variables
        let input = v["input"] as? [String: Any] ?? [:]
        switch call.operationName {
        case "Invoices":
            let filters = v["filters"] as? [String: Any] ?? [:]
            var found = invoices.sorted { $0.legacyId < $1.legacyId }
            if filters["notDispatched"] as? Bool == true { found = found.filter { !$0.flags.contains("SENT") } }
            if let since = (filters["updatedSince"] as? String).flatMap(Self.date) {
                found = found.filter { (Self.date($0.updatedAt) ?? .distantPast) >= since }
            }
            var connection = GraphQLServerFixture.connection(found.map(json), variables: v)
            connection["totalCount"] = found.count
            return .data(["invoices": connection])
        case "InvoiceByNumber":
            let id = v["legacyId"] as? Int
            return .data(["invoices": ["nodes": invoices.filter { $0.legacyId == id }.map(json)]])
        case "PostageCarriers":
            return .data(["postageCarriers": carriers.map { ["id": $0.id, "name": $0.name] }])
        case "Adverts":
            let adverts = Dictionary(grouping: variants, by: \.advert).sorted { $0.key < $1.key }.enumerated().map { i, entry in
                ["id": Self.nodeID("Advert", i + 1), "title": entry.key,
                 "variants": ["nodes": entry.value.map { json($0) }]] as [String: Any]
            }
            var connection = GraphQLServerFixture.connection(adverts, variables: v)
            connection["totalCount"] = adverts.count
            return .data(["adverts": connection])
        case "ShipmentCreate":
            guard let i = invoices.firstIndex(where: { $0.id == input["invoiceId"] as? String }) else {
                return payload("shipmentCreate", ["shipment": NSNull()], errors: ["Invoice not found"])
            }
            guard let carrier = input["postageCarrierId"] as? String, carriers.contains(where: { $0.id == carrier }) else {
                return payload("shipmentCreate", ["shipment": NSNull()], errors: ["Postage carrier not found"])
            }
            var items: [(lineItem: String, quantity: Int)] = []
            for item in input["shippedItems"] as? [[String: Any]] ?? [] {
                guard let id = item["lineItemId"] as? String, let quantity = item["quantity"] as? Int,
                      let line = invoices[i].lineItems.first(where: { $0.id == id }) else {
                    return payload("shipmentCreate", ["shipment": NSNull()], errors: ["Line item not found on this invoice"])
                }
                let shipped = invoices[i].shipments.flatMap(\.items).filter { $0.lineItem == id }.reduce(0) { $0 + $1.quantity }
                if shipped + quantity > line.quantity {
                    return payload("shipmentCreate", ["shipment": NSNull()], errors: ["Quantity exceeds the quantity left to ship"])
                }
                items.append((id, quantity))
            }
            let shipment = Shipment(id: newID("Shipment"), note: input["note"] as? String ?? "",
                                    trackingNumber: input["trackingNumber"] as? String ?? "", carrierID: carrier,
                                    dispatchedAt: input["dispatchedAt"] as? String, items: items)
            invoices[i].shipments.append(shipment)
            let all = invoices[i].lineItems.allSatisfy { line in
                invoices[i].shipments.flatMap(\.items).filter { $0.lineItem == line.id }.reduce(0) { $0 + $1.quantity } >= line.quantity
            }
            invoices[i].flags.removeAll { $0 == "PART_SENT" }
            invoices[i].flags.append(all ? "SENT" : "PART_SENT")
            return payload("shipmentCreate", ["shipment": ["id": shipment.id]])
        case "RefundRequestCreate":
            guard let i = invoices.firstIndex(where: { $0.id == input["invoiceId"] as? String }) else {
                return payload("refundRequestCreate", ["refundRequest": NSNull()], errors: ["Invoice not found"])
            }
            var items: [(lineItem: String, quantity: Int)] = []
            for item in input["lineItems"] as? [[String: Any]] ?? [] {
                guard let id = item["lineItemId"] as? String, invoices[i].lineItems.contains(where: { $0.id == id }) else {
                    return payload("refundRequestCreate", ["refundRequest": NSNull()],
                                   errors: ["line items must be part of the same invoice for which you are raising a refund request."])
                }
                items.append((id, item["quantity"] as? Int ?? 0))
            }
            let request = RefundRequest(id: newID("RefundRequest"), status: "AWAITING",
                                        notes: (input["notes"] as? [[String: Any]] ?? []).compactMap { $0["note"] as? String },
                                        items: items)
            invoices[i].refundRequests.append(request)
            return payload("refundRequestCreate", ["refundRequest": ["id": request.id, "status": request.status]])
        case "RefundRequestReturn":
            let id = input["refundRequestId"] as? String
            for i in invoices.indices {
                guard let r = invoices[i].refundRequests.firstIndex(where: { $0.id == id }) else { continue }
                guard invoices[i].refundRequests[r].status == "AWAITING" else {
                    return payload("refundRequestReturn", ["refundRequest": NSNull()],
                                   errors: ["Can only mark an awaiting RefundRequest as returned"])
                }
                invoices[i].refundRequests[r].status = "RETURNED"
                invoices[i].refundRequests[r].notes += (input["notes"] as? [[String: Any]] ?? []).compactMap { $0["note"] as? String }
                return payload("refundRequestReturn", ["refundRequest": ["id": id ?? "", "status": "RETURNED"]])
            }
            return payload("refundRequestReturn", ["refundRequest": NSNull()], errors: ["No object found for refundRequestId: \(id ?? "")"])
        case "InvoiceAnnotationCreate":
            guard let i = invoices.firstIndex(where: { $0.id == input["invoiceId"] as? String }) else {
                return payload("invoiceAnnotationCreate", ["invoiceAnnotation": NSNull()], errors: ["Invoice not found"])
            }
            invoices[i].annotations.append(input["message"] as? String ?? "")
            return payload("invoiceAnnotationCreate", ["invoiceAnnotation": ["id": newID("InvoiceAnnotation")]])
        case "VariantUpdate":
            guard let i = variants.firstIndex(where: { $0.id == input["variantId"] as? String }),
                  let count = (input["attributes"] as? [String: Any])?["countOnHand"] as? Int else {
                return payload("variantUpdate", ["variant": NSNull()], errors: ["Variant not found"])
            }
            variants[i].countOnHand = count
            return payload("variantUpdate", ["variant": ["id": variants[i].id, "countOnHand": count]])
        default:
            return .errors([GraphQLServerFixture.error("Field '\(call.operationName)' doesn't exist on type 'Query'",
                                                       code: "GRAPHQL_VALIDATION_FAILED")], status: 400)
        }
    }


    // MARK: - JSON

    private func json(_ variant: Variant) -> [String: Any] {
        ["id": variant.id, "label": variant.label, "sku": variant.sku, "barcode": variant.barcode,
         "countOnHand": variant.countOnHand,
         "externalIds": variant.externalIds.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] }]
    }

    private func json(_ invoice: Invoice) -> [String: Any] {
        let items = { (list: [(lineItem: String, quantity: Int)]) in
            list.map { ["lineItem": ["id": $0.lineItem], "quantity": $0.quantity] as [String: Any] }
        }
        return [
            "id": invoice.id, "legacyId": invoice.legacyId, "statusFlags": invoice.flags, "createdAt": invoice.createdAt,
            "paidAt": invoice.createdAt, "updatedAt": invoice.updatedAt,
            "buyerFirstName": "Amelia", "buyerSurname": "Hart", "buyerEmailAddress": "amelia@example.com",
            "buyerPhone": "+44 7700 900123", "buyerMessageToSeller": "Leave with the neighbour",
            "shippingAddress": ["firstName": "Amelia", "surname": "Hart", "companyName": NSNull(), "address": "14 Mill Lane",
                                "city": "Leeds", "postcode": invoice.postcode, "state": ["short": "WYK"],
                                "country": ["code": "GB"], "phone": "+44 7700 900123"] as [String: Any],
            "shippingOptionName": "Express",
            "totalFormatted": String(format: "£%.2f", invoice.lineItems.reduce(0) { $0 + $1.price * Double($1.quantity) } + 3.95),
            "postageFormatted": "£3.95",
            "metadata": invoice.metadata.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
            "lineItems": invoice.lineItems.map { line -> [String: Any] in
                let variant = variants.first { $0.id == line.variantID }
                return ["id": line.id, "quantity": line.quantity, "unitPriceFormatted": String(format: "£%.2f", line.price),
                        "variant": variant.map { json($0) } ?? NSNull()]
            },
            "shipments": invoice.shipments.map { ["id": $0.id, "note": $0.note, "trackingNumber": $0.trackingNumber,
                                                  "shippedItems": items($0.items)] as [String: Any] },
            "refundRequests": invoice.refundRequests.map { ["id": $0.id, "status": $0.status,
                                                            "notes": $0.notes.map { ["note": $0] }, "lineItems": items($0.items)] as [String: Any] },
            "annotations": invoice.annotations.enumerated().map { ["id": "\($0.offset)", "message": $0.element] },
        ]
    }
}
