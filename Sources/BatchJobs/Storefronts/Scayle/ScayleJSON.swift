import Foundation

// The JSON of SCAYLE's Admin API as far as voxbatch reads it. Shapes follow SCAYLE's published docs:
// https://scayle.dev/en/developer-guide/transactions-and-orders/manage-transactions (the order: id,
// referenceKey, publicKey, status, currencyCode, address, customer, cost, items, packages, shipping;
// prices in cents), https://scayle.dev/en/onboarding-guide/onboarding-backend/send-order-updates
// (create-shipment per package with carrier, deliveryDate, shipmentKey as the track & trace id, items
// with orderItemId and a returnKey to find again; create-cancellation; create-return by returnKey) and
// https://scayle.dev/en/onboarding-guide/onboarding-backend/update-your-variants-stock (POST
// /variants/{variantIdentifier}/stocks with quantity, warehouseReferenceKey, changedAt — an older
// changedAt changes nothing and the current stock is returned). SCAYLE order items are units: an order
// line of quantity 3 is three items.

struct ScayleOrder: Decodable {
    var id: Int
    var referenceKey: String?
    var publicKey: String?
    var status: String
    var currencyCode: String?
    var createdAt: String?
    var updatedAt: String?
    var address: Addresses?
    var customer: Customer?
    var cost: Cost?
    var shipping: Shipping?
    var customData: [String: String]?
    var items: [Item]
    var returns: [Return]?

    struct Addresses: Decodable { var shipping: Address? }
    struct Address: Decodable {
        var firstName: String?, lastName: String?, companyName: String?, street: String?, houseNumber: String?
        var additional: String?, zipCode: String?, city: String?, countryCode: String?, phone: String?
    }
    struct Customer: Decodable { var email: String?; var phone: String? }
    struct Cost: Decodable { var withTax: Int? }
    struct Shipping: Decodable { var deliveryCosts: Int?; var carrierKey: String?; var shippingMethod: String? }
    struct Item: Decodable {
        var id: Int
        /// `open`, `delivered`, `cancelled`, `returned`.
        var status: String?
        var variant: Variant?
        var price: Cost?
        var returnKey: String?
        struct Variant: Decodable { var id: Int?; var referenceKey: String? }
    }
    struct Return: Decodable {
        var id: Int?
        var referenceKey: String?
        var items: [Ref]?
        var customData: [String: Bool]?
        struct Ref: Decodable { var orderItemId: Int }
    }
}

struct ScaylePage<T: Decodable>: Decodable {
    var entities: [T]
    var cursor: Cursor?
    struct Cursor: Decodable { var next: String? }
}

struct ScayleProduct: Decodable {
    var id: Int
    var name: String?
    var variants: [Variant]?

    struct Variant: Decodable {
        var id: Int
        var referenceKey: String?
        var ean: String?
        var stocks: [Stock]?
    }
    struct Stock: Decodable {
        var warehouseReferenceKey: String?
        var quantity: Int?
        var changedAt: String?
    }
}

struct ScayleErrors: Decodable {
    var errors: [Entry]?
    struct Entry: Decodable { var code: String?; var message: String?; var field: String? }
    var text: String? {
        let parts = (errors ?? []).map { [$0.field, $0.message ?? $0.code].compactMap { $0 }.joined(separator: ": ") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}
