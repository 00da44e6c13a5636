import Foundation

// The JSON of WooCommerce's REST API v3 (https://woocommerce.github.io/woocommerce-rest-api-docs/), as
// far as voxbatch reads it.

struct WooOrder: Decodable {
    var id: Int
    var number: String
    var status: String
    var date_created_gmt: String?
    var customer_note: String?
    var billing: WooAddress?
    var shipping: WooAddress?
    var line_items: [WooLine]
    var shipping_lines: [WooShippingLine]?
    var meta_data: [WooMeta]?
    var shipping_total: String?
    var total: String?
    var currency: String?

    struct WooAddress: Decodable {
        var first_name: String?, last_name: String?, company: String?, address_1: String?, address_2: String?
        var city: String?, state: String?, postcode: String?, country: String?, email: String?, phone: String?
    }

    struct WooLine: Decodable {
        var id: Int
        var name: String?
        var sku: String?
        var quantity: Int
        var total: String?
        var price: Double?
    }

    struct WooShippingLine: Decodable {
        var method_id: String?
        var method_title: String?
    }

    func storefrontOrder() -> StorefrontOrder {
        let s = shipping ?? billing
        let name = [s?.first_name, s?.last_name].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        var fields: [String: String] = [:]
        for meta in meta_data ?? [] where !meta.key.hasPrefix("_") { fields[meta.key] = meta.text }
        var order = StorefrontOrder(
            id: String(id), number: number, status: status, createdAt: (date_created_gmt ?? "") + "Z",
            email: billing?.email ?? "", phone: billing?.phone ?? "",
            shipping: Address(name: name, company: s?.company ?? "", line1: s?.address_1 ?? "", line2: s?.address_2 ?? "",
                              city: s?.city ?? "", region: s?.state ?? "", postcode: s?.postcode ?? "",
                              country: s?.country ?? ""),
            service: shipping_lines?.first?.method_title ?? shipping_lines?.first?.method_id ?? "",
            shippingCost: shipping_total ?? "", total: total ?? "", customerNote: customer_note ?? "", fields: fields,
            lines: line_items.map { line in
                StorefrontOrder.Line(sku: line.sku ?? "", quantity: line.quantity,
                                     price: line.price.map { String(format: "%.2f", $0) } ?? "")
            })
        order.currency = currency ?? ""
        return order
    }
}

struct WooMeta: Decodable {
    var key: String
    var value: JSONValue?

    var text: String {
        switch value {
        case .string(let s): s
        case .number(let n): n == n.rounded() ? String(Int(n)) : String(n)
        case .bool(let b): String(b)
        default: ""
        }
    }
}

/// Any JSON value (meta values can be anything).
enum JSONValue: Decodable {
    case string(String), number(Double), bool(Bool), other

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .string(s) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else { self = .other }
    }
}

struct WooNote: Decodable {
    var id: Int
    var note: String
}

struct WooRefund: Decodable {
    var id: Int
    var reason: String?
}

struct WooProduct: Decodable {
    var id: Int
    var name: String?
    var type: String?
    var sku: String?
    var price: String?
    var regular_price: String?
    var weight: String?
    var global_unique_id: String?
    var manage_stock: Bool?
    var stock_quantity: Int?
    var attributes: [Attribute]?
    var parentID: Int?

    struct Attribute: Decodable {
        var name: String?
        var option: String?
    }

    enum CodingKeys: String, CodingKey {
        case id, name, type, sku, price, regular_price, weight, global_unique_id, manage_stock, stock_quantity, attributes
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        type = try c.decodeIfPresent(String.self, forKey: .type)
        sku = try c.decodeIfPresent(String.self, forKey: .sku)
        price = try c.decodeIfPresent(String.self, forKey: .price)
        regular_price = try c.decodeIfPresent(String.self, forKey: .regular_price)
        weight = try c.decodeIfPresent(String.self, forKey: .weight)
        global_unique_id = try c.decodeIfPresent(String.self, forKey: .global_unique_id)
        // WooCommerce sends manage_stock as true/false, and "parent" for variations that inherit it.
        manage_stock = (try? c.decodeIfPresent(Bool.self, forKey: .manage_stock)) ?? nil
        if manage_stock == nil, (try? c.decodeIfPresent(String.self, forKey: .manage_stock)) == "parent" { manage_stock = true }
        stock_quantity = try c.decodeIfPresent(Int.self, forKey: .stock_quantity)
        attributes = try c.decodeIfPresent([Attribute].self, forKey: .attributes)
    }
}
