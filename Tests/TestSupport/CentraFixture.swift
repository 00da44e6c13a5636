import Foundation

/// A local stand-in for a Centra store's GraphQL Integration API (`/graphql`, a bearer token), on the
/// loopback ``GraphQLServerFixture`` (which parses each request's operation and variables and refuses a
/// wrong token with 401 `UNAUTHENTICATED`).
///
/// It answers the operations voxbatch sends with the shapes of Centra's published docs — top-level lists
/// paged with `limit`/`page`, `counters`, mutation payloads with `userErrors`/`userWarnings`, shipment
/// numbers `ORDER-N`: https://centra.dev/guides/erp-gql-integration (orders, createShipment/updateShipment/
/// completeShipment responses, createReturn/completeReturn, "You can't complete a return that already has
/// a completed status"), https://centra.dev/graphql/shipmentcompleteinput.html,
/// https://centra.dev/graphql/shipmentupdateinput.html, https://centra.dev/graphql/stocksetinput.html.
/// It keeps what is written, so tests assert the resulting state of the store.
public final class CentraFixture: GraphQLStoreFixture, @unchecked Sendable {
    public struct Size {
        public var id: Int
        public var sku: String
        public var ean: String
        public var product: String
        public var variant: String
        public var size: String
        /// Physical stock by warehouse name.
        public var stock: [String: Int]
        public init(id: Int, sku: String, ean: String, product: String, variant: String = "Black", size: String = "M",
                    stock: [String: Int] = [:]) {
            self.id = id
            self.sku = sku
            self.ean = ean
            self.product = product
            self.variant = variant
            self.size = size
            self.stock = stock
        }
    }

    public struct Line {
        public var id: Int
        public var sku: String
        public var quantity: Int
        public var price: Double
        public init(id: Int, sku: String, quantity: Int, price: Double) {
            self.id = id
            self.sku = sku
            self.quantity = quantity
            self.price = price
        }
    }

    public struct Order {
        public var number: Int
        /// `CONFIRMED`, `PROCESSING`, `SHIPPED`, `CANCELLED`…
        public var status: String
        public var postcode = "LS6 2DT"
        public var giftMessage = "Happy birthday"
        public var updatedAt = "2026-11-30T07:15:00+00:00"
        /// Refunds in the order's payment history: (createdAt, value, status).
        public var refunds: [(at: String, value: Double, status: String)] = []
        public init(number: Int, status: String) {
            self.number = number
            self.status = status
        }
    }

    public struct Shipment {
        public var id: Int
        public var number: String
        public var orderNumber: Int
        public var isGoodToGo: Bool
        public var isShipped = false
        public var isPaid = true
        public var additionalMessage = ""
        public var lines: [Line]
        public var shippedAt: String?
        /// The last `shipmentInfo` given (carrier, service, packagesNumber, trackingNumber…).
        public var shipmentInfo: [String: Any]?
        public var sendEmail: Bool?
        public init(id: Int, number: String, orderNumber: Int, isGoodToGo: Bool, lines: [Line]) {
            self.id = id
            self.number = number
            self.orderNumber = orderNumber
            self.isGoodToGo = isGoodToGo
            self.lines = lines
        }
    }

    public struct Return {
        public var id: Int
        public var shipmentID: Int
        /// `IN_PROGRESS` or `COMPLETED`.
        public var status: String
        public var comment: String
        /// (shipment line id, quantity)
        public var lines: [(line: Int, quantity: Int)]
        /// `releaseItemsBackToWarehouse`, `removeItemsFromStock` or `sendItemsToDifferentWarehouse`.
        public var stockPolicy: String
        public var createdAt = "2026-11-30T09:00:00+00:00"
        public init(id: Int, shipmentID: Int, status: String, comment: String, lines: [(line: Int, quantity: Int)],
                    stockPolicy: String) {
            self.id = id
            self.shipmentID = shipmentID
            self.status = status
            self.comment = comment
            self.lines = lines
            self.stockPolicy = stockPolicy
        }
    }

    public var sizes: [Size] = []
    public var orders: [Order] = []
    public var shipments: [Shipment] = []
    public var returns: [Return] = []
    public var warehouses = ["Peoplevox 3PL", "Stockholm store"]
    /// Centra refuses to complete a shipment that is not paid (captured or marked paid).
    public var completeNeedsPayment = true
    private var nextReturnID = 900

    public override init(token: String = "centra-test-token") throws {
        try super.init(token: token)
    }


    public func withLock<T>(_ body: (CentraFixture) -> T) -> T { locked { body(self) } }

    /// Seeds an order with one shipment `NUMBER-1` holding all its lines.
    public func addOrder(_ number: Int, status: String = "PROCESSING", goodToGo: Bool = true,
                         lines: [(sku: String, quantity: Int, price: Double)]) {
        orders.append(Order(number: number, status: status))
        let base = shipments.count * 10 + 5000
        shipments.append(Shipment(id: 300 + shipments.count, number: "\(number)-1", orderNumber: number, isGoodToGo: goodToGo,
                                  lines: lines.enumerated().map { Line(id: base + $0.offset, sku: $0.element.sku,
                                                                       quantity: $0.element.quantity, price: $0.element.price) }))
    }

    // MARK: - Answers

    private func page<T>(_ items: [T], _ v: [String: Any]) -> [T] {
        let limit = v["limit"] as? Int ?? 20
        let page = max(1, v["page"] as? Int ?? 1)
        return Array(items.dropFirst((page - 1) * limit).prefix(limit))
    }

    private func payload(_ key: String, _ object: [String: Any], errors: [String] = []) -> GraphQLServerFixture.Answer {
        var body = object
        body["userErrors"] = errors.map { ["message": $0, "path": [key]] as [String: Any] }
        body["userWarnings"] = [] as [Any]
        return .data([key: body])
    }

    private func readyFilter(_ where: [String: Any]?) -> (Shipment) -> Bool {
        { s in
            if let v = `where`?["isGoodToGo"] as? Bool, s.isGoodToGo != v { return false }
            if let v = `where`?["isShipped"] as? Bool, s.isShipped != v { return false }
            if let v = `where`?["isPaid"] as? Bool, s.isPaid != v { return false }
            if let numbers = `where`?["number"] as? [String], !numbers.contains(s.number) { return false }
            return true
        }
    }

    public override func respond(_ call: GraphQLServerFixture.Call) -> GraphQLServerFixture.Answer {
        let v = call.variables
        switch call.operationName {
        case "ReadyShipments":
            let found = shipments.filter(readyFilter(v["where"] as? [String: Any])).sorted { $0.id < $1.id }
            return .data(["shipments": page(found, v).map(json)])
        case "ShipmentByNumber":
            return .data(["shipments": shipments.filter { $0.number == v["number"] as? String }.map(json)])
        case "CheckShipments":
            let found = shipments.filter(readyFilter(v["where"] as? [String: Any])).sorted { $0.id < $1.id }
            return .data(["shipments": found.prefix(10).map { ["id": $0.id, "number": $0.number] },
                          "counters": ["shipments": found.count]])
        case "Orders":
            let filter = v["where"] as? [String: Any] ?? [:]
            var found = orders
            if let statuses = filter["status"] as? [String] { found = found.filter { statuses.contains($0.status) } }
            if let number = filter["number"] as? Int { found = found.filter { $0.number == number } }
            if let from = (filter["updatedAt"] as? [String: Any])?["from"] as? String, let since = Self.date(from) {
                found = found.filter { (Self.date($0.updatedAt) ?? .distantPast) >= since }
            }
            return .data(["orders": page(found.sorted { $0.number < $1.number }, v).map(json)])
        case "RefundedOrders":
            var found = orders
            if let from = ((v["where"] as? [String: Any])?["updatedAt"] as? [String: Any])?["from"] as? String,
               let since = Self.date(from) {
                found = found.filter { (Self.date($0.updatedAt) ?? .distantPast) >= since }
            }
            return .data(["orders": page(found.sorted { $0.number < $1.number }, v).map { order -> [String: Any] in
                ["number": order.number,
                 "paymentHistory": order.refunds.map { ["createdAt": $0.at, "entryType": "REFUND", "status": $0.status,
                                                        "value": ["value": $0.value]] as [String: Any] },
                 "shipments": shipments.filter { $0.orderNumber == order.number }.map { s -> [String: Any] in
                     ["number": s.number, "returns": returns.filter { $0.shipmentID == s.id }.map { ["id": $0.id] }]
                 }]
            }])
        case "Products", "CheckProducts":
            let byProduct = Dictionary(grouping: sizes, by: \.product).sorted { $0.key < $1.key }
            let products = byProduct.enumerated().map { i, entry -> [String: Any] in
                ["id": i + 1, "name": entry.key, "productNumber": "P\(i + 1)",
                 "variants": Dictionary(grouping: entry.value, by: \.variant).sorted { $0.key < $1.key }.enumerated().map { j, variant in
                     ["id": (i + 1) * 100 + j, "name": variant.key, "variantNumber": "V\(j + 1)",
                      "productSizes": variant.value.map(json)] as [String: Any]
                 }]
            }
            if call.operationName == "CheckProducts" {
                return .data(["products": Array(products.prefix(10)), "counters": ["products": products.count]])
            }
            return .data(["products": page(products, v)])
        case "AnnouncedReturns":
            let statuses = (v["where"] as? [String: Any])?["status"] as? [String]
            let found = returns.filter { statuses?.contains($0.status) ?? true }.sorted { $0.id < $1.id }
            return .data(["returns": page(found, v).map(json)])
        case "UpdateShipment":
            guard let i = shipments.firstIndex(where: { $0.id == v["id"] as? Int }) else {
                return payload("updateShipment", ["shipment": NSNull()], errors: ["Shipment not found"])
            }
            let input = v["input"] as? [String: Any] ?? [:]
            if shipments[i].isShipped && input["shipmentInfo"] != nil {
                return payload("updateShipment", ["shipment": json(shipments[i])],
                               errors: ["It isn't possible to update shipment info if the shipment was already shipped"])
            }
            if let message = input["additionalMessage"] as? String { shipments[i].additionalMessage = message }
            return payload("updateShipment", ["shipment": json(shipments[i])])
        case "CaptureShipment":
            guard let i = shipments.firstIndex(where: { $0.id == v["id"] as? Int }) else {
                return payload("captureShipment", ["shipment": NSNull()], errors: ["Shipment not found"])
            }
            shipments[i].isPaid = true
            return payload("captureShipment", ["shipment": json(shipments[i])])
        case "CompleteShipment":
            guard let i = shipments.firstIndex(where: { $0.id == v["id"] as? Int }) else {
                return payload("completeShipment", ["shipment": NSNull()], errors: ["Shipment not found"])
            }
            if shipments[i].isShipped {
                return payload("completeShipment", ["shipment": json(shipments[i])], errors: ["Shipment is already completed"])
            }
            if completeNeedsPayment && !shipments[i].isPaid {
                return payload("completeShipment", ["shipment": json(shipments[i])],
                               errors: ["Shipment must be paid before it is completed"])
            }
            let input = v["input"] as? [String: Any] ?? [:]
            shipments[i].isShipped = true
            shipments[i].shippedAt = input["shippedAt"] as? String ?? "now"
            shipments[i].shipmentInfo = input["shipmentInfo"] as? [String: Any]
            shipments[i].sendEmail = input["sendEmail"] as? Bool
            if let message = input["additionalMessage"] as? String { shipments[i].additionalMessage = message }
            if shipments.filter({ $0.orderNumber == shipments[i].orderNumber }).allSatisfy(\.isShipped),
               let o = orders.firstIndex(where: { $0.number == shipments[i].orderNumber }) {
                orders[o].status = "SHIPPED"  // "GraphQL calls this order status SHIPPED"
            }
            return payload("completeShipment", ["shipment": json(shipments[i])])
        case "CreateReturn":
            let input = v["input"] as? [String: Any] ?? [:]
            guard let shipmentID = (input["shipment"] as? [String: Any])?["id"] as? Int,
                  let s = shipments.first(where: { $0.id == shipmentID }) else {
                return payload("createReturn", ["return": NSNull()], errors: ["Shipment not found"])
            }
            var lines: [(line: Int, quantity: Int)] = []
            for line in input["lines"] as? [[String: Any]] ?? [] {
                guard let id = (line["shipmentLine"] as? [String: Any])?["id"] as? Int, let quantity = line["quantity"] as? Int,
                      let shipped = s.lines.first(where: { $0.id == id }) else {
                    return payload("createReturn", ["return": NSNull()], errors: ["Shipment line not found"])
                }
                let returned = returns.filter { $0.shipmentID == shipmentID }.flatMap(\.lines).filter { $0.line == id }
                    .reduce(0) { $0 + $1.quantity }
                if returned + quantity > shipped.quantity {
                    return payload("createReturn", ["return": NSNull()],
                                   errors: ["Cannot return more than was shipped on line \(id)"])
                }
                lines.append((id, quantity))
            }
            let policy = (input["returnStockActionPolicy"] as? [String: Any])?.keys.first ?? "releaseItemsBackToWarehouse"
            nextReturnID += 1
            returns.append(Return(id: nextReturnID, shipmentID: shipmentID, status: "IN_PROGRESS",
                                  comment: input["comment"] as? String ?? "", lines: lines, stockPolicy: policy))
            return payload("createReturn", ["return": ["id": nextReturnID, "status": "IN_PROGRESS"]])
        case "CompleteReturn":
            guard let i = returns.firstIndex(where: { $0.id == v["id"] as? Int }) else {
                return payload("completeReturn", ["return": NSNull()], errors: ["Return not found"])
            }
            if returns[i].status == "COMPLETED" {
                return payload("completeReturn", ["return": ["id": returns[i].id, "status": "COMPLETED"]],
                               errors: ["You can't complete a return that already has a completed status"])
            }
            returns[i].status = "COMPLETED"
            return payload("completeReturn", ["return": ["id": returns[i].id, "status": "COMPLETED"]])
        case "SetStock":
            let input = v["input"] as? [String: Any] ?? [:]
            guard let warehouse = (input["warehouse"] as? [String: Any])?["name"] as? String, warehouses.contains(warehouse) else {
                return payload("setStock", ["stockChanges": [] as [Any]], errors: ["Warehouse not found"])
            }
            guard input["stockQuantityType"] as? String != nil, input["description"] as? String != nil else {
                return payload("setStock", ["stockChanges": [] as [Any]], errors: ["description and stockQuantityType are required"])
            }
            var changes: [[String: Any]] = []
            for entry in input["productSizes"] as? [[String: Any]] ?? [] {
                guard let id = (entry["productSize"] as? [String: Any])?["id"] as? Int, let quantity = entry["quantity"] as? Int,
                      let i = sizes.firstIndex(where: { $0.id == id }) else {
                    return payload("setStock", ["stockChanges": [] as [Any]], errors: ["Product size not found"])
                }
                if quantity < 0 { return payload("setStock", ["stockChanges": [] as [Any]], errors: ["Stock value must be greater or equal to 0"]) }
                sizes[i].stock[warehouse] = quantity
                changes.append(["id": changes.count + 1])
            }
            return payload("setStock", ["stockChanges": changes])
        default:
            return .errors([GraphQLServerFixture.error("Cannot query field \"\(call.operationName)\"", code: "GRAPHQL_VALIDATION_FAILED")],
                           status: 400)
        }
    }


    // MARK: - JSON, as Centra answers

    private func addressJSON(_ order: Order?) -> [String: Any] {
        ["firstName": "Amelia", "lastName": "Hart", "companyName": NSNull(), "address1": "14 Mill Lane", "address2": NSNull(),
         "city": "Leeds", "zipCode": order?.postcode ?? "LS6 2DT", "stateOrProvince": NSNull(), "phoneNumber": "+44 7700 900123",
         "cellPhoneNumber": NSNull(), "email": "amelia@example.com", "country": ["name": "United Kingdom", "code": "GB"]]
    }

    private func sizeRef(_ sku: String) -> [String: Any] {
        let size = sizes.first { $0.sku == sku }
        return ["id": size?.id ?? 0, "SKU": sku, "EAN": size?.ean ?? NSNull()]
    }

    private func json(_ order: Order) -> [String: Any] {
        let mine = shipments.filter { $0.orderNumber == order.number }
        return [
            "id": String(format: "%032x", order.number), "number": order.number, "status": order.status,
            "createdAt": "2026-11-30T07:15:00+00:00", "shippingMethod": ["name": "Express"],
            "customer": ["email": "amelia@example.com"], "shippingAddress": addressJSON(order),
            "attributes": [["type": ["name": "gift_message"], "elements": [["key": "text", "value": order.giftMessage]]]],
            "lines": mine.flatMap(\.lines).map { ["id": $0.id, "quantity": $0.quantity, "productSize": sizeRef($0.sku)] as [String: Any] },
            "shipments": mine.map { ["id": $0.id, "number": $0.number, "additionalMessage": $0.additionalMessage] as [String: Any] },
        ]
    }

    private func json(_ shipment: Shipment) -> [String: Any] {
        let order = orders.first { $0.number == shipment.orderNumber }
        return [
            "id": shipment.id, "number": shipment.number, "createdAt": "2026-11-30T07:20:00+00:00",
            "isGoodToGo": shipment.isGoodToGo, "isShipped": shipment.isShipped, "isPaid": shipment.isPaid,
            "additionalMessage": shipment.additionalMessage.isEmpty ? NSNull() : shipment.additionalMessage,
            "grandTotal": ["value": shipment.lines.reduce(0) { $0 + $1.price * Double($1.quantity) } + 3.95],
            "shippingAddress": addressJSON(order),
            "order": order.map { o -> [String: Any] in
                var j = json(o)
                j["lines"] = nil
                j["shipments"] = nil
                j["shippingAddress"] = nil
                return j
            } ?? NSNull(),
            "lines": shipment.lines.map { ["id": $0.id, "quantity": $0.quantity, "unitPrice": ["value": $0.price],
                                           "productSize": sizeRef($0.sku)] as [String: Any] },
            "returns": returns.filter { $0.shipmentID == shipment.id }.map(json),
        ]
    }

    private func json(_ ret: Return) -> [String: Any] {
        let shipment = shipments.first { $0.id == ret.shipmentID }
        return [
            "id": ret.id, "status": ret.status, "createdAt": ret.createdAt, "comment": ret.comment,
            "shipment": ["id": ret.shipmentID, "number": shipment?.number ?? "", "order": ["number": shipment?.orderNumber ?? 0]],
            "lines": ret.lines.map { line -> [String: Any] in
                let sku = shipment?.lines.first { $0.id == line.line }?.sku ?? ""
                return ["quantity": line.quantity, "shipmentLine": ["id": line.line, "productSize": sizeRef(sku)]]
            },
        ]
    }

    private func json(_ size: Size) -> [String: Any] {
        ["id": size.id, "SKU": size.sku, "EAN": size.ean, "sizeNumber": size.size, "size": ["name": size.size],
         "stock": size.stock.sorted { $0.key < $1.key }.map {
             ["warehouse": ["name": $0.key], "physicalQuantity": $0.value, "freeToAllocateQuantity": $0.value] as [String: Any]
         }]
    }
}
