import Foundation

// The GraphQL documents voxbatch sends to Centra's Integration API (`<base>/graphql`), and the JSON it
// reads back, as far as voxbatch reads it. Shapes follow Centra's published reference and cookbook:
// https://centra.dev/guides/erp-gql-integration (orders(where:), createShipment/updateShipment/
// completeShipment, createReturn/completeReturn, `returns`), https://centra.dev/graphql/shipmentcompleteinput.html,
// https://centra.dev/graphql/shipmentupdateinput.html, https://centra.dev/graphql/shipmentinfoinput.html,
// https://centra.dev/graphql/stocksetinput.html and https://centra.dev/graphql/productsizeinput.html.
// Top-level lists page with `limit`/`page` (Centra's convention); totals come from `counters`.

enum CentraDocuments {
    static let shipmentFields = """
        fragment VoxShipment on Shipment {
          id number createdAt isGoodToGo isShipped isPaid additionalMessage
          grandTotal(includingTax: true) { value }
          shippingAddress { firstName lastName companyName address1 address2 city zipCode stateOrProvince
                            phoneNumber cellPhoneNumber email country { code } }
          order { id number status createdAt shippingMethod { name } customer { email }
                  attributes { type { name } elements { key ... on AttributeStringElement { value } } } }
          lines { id quantity unitPrice { value } productSize { id SKU EAN } }
          returns { id status comment lines { quantity shipmentLine { id } } }
        }
        """

    static let readyShipments = """
        query ReadyShipments($where: ShipmentFilter, $limit: Int, $page: Int) {
          shipments(where: $where, sort: [id_ASC], limit: $limit, page: $page) { ...VoxShipment }
        }
        """ + "\n" + shipmentFields

    static let shipmentByNumber = """
        query ShipmentByNumber($number: String!) {
          shipments(where: { number: [$number] }, limit: 1) { ...VoxShipment }
        }
        """ + "\n" + shipmentFields

    static let orders = """
        query Orders($where: OrderFilter, $limit: Int, $page: Int) {
          orders(where: $where, sort: [id_ASC], limit: $limit, page: $page) {
            id number status createdAt shippingMethod { name } customer { email }
            shippingAddress { firstName lastName companyName address1 address2 city zipCode stateOrProvince
                              phoneNumber cellPhoneNumber email country { code } }
            lines { id quantity productSize { id SKU EAN } }
            shipments { id number additionalMessage }
          }
        }
        """

    static let updateShipment = """
        mutation UpdateShipment($id: Int!, $input: ShipmentUpdateInput!) {
          updateShipment(id: $id, input: $input) { shipment { id additionalMessage } userErrors { message path } }
        }
        """

    static let captureShipment = """
        mutation CaptureShipment($id: Int!) {
          captureShipment(id: $id) { shipment { id isPaid } userErrors { message path } }
        }
        """

    static let completeShipment = """
        mutation CompleteShipment($id: Int!, $input: ShipmentCompleteInput!) {
          completeShipment(id: $id, input: $input) {
            shipment { id isShipped additionalMessage } userErrors { message path } userWarnings { message }
          }
        }
        """

    static let createReturn = """
        mutation CreateReturn($input: ReturnCreateInput!) {
          createReturn(input: $input) { return { id status } userErrors { message path } }
        }
        """

    static let completeReturn = """
        mutation CompleteReturn($id: Int!, $input: ReturnCompleteInput!) {
          completeReturn(id: $id, input: $input) { return { id status } userErrors { message path } }
        }
        """

    static let announcedReturns = """
        query AnnouncedReturns($where: ReturnFilter, $limit: Int, $page: Int) {
          returns(where: $where, sort: [id_ASC], limit: $limit, page: $page) {
            id status createdAt comment
            shipment { id number order { number } }
            lines { quantity shipmentLine { id productSize { id SKU EAN } } }
          }
        }
        """

    /// Orders changed since a time, with their refunds (payment history entries of type REFUND) and their
    /// shipments' returns: https://centra.dev/guides/erp-gql-integration (`paymentHistory(where: {entryType: …})`).
    static let refundedOrders = """
        query RefundedOrders($where: OrderFilter, $limit: Int, $page: Int) {
          orders(where: $where, sort: [id_ASC], limit: $limit, page: $page) {
            number
            paymentHistory(where: { entryType: [REFUND] }) { createdAt entryType status value { value } }
            shipments { number returns { id } }
          }
        }
        """

    static let products = """
        query Products($limit: Int, $page: Int) {
          products(sort: [id_ASC], limit: $limit, page: $page) {
            id name productNumber
            variants { id name variantNumber
              productSizes { id SKU EAN sizeNumber size { name }
                stock { warehouse { name } physicalQuantity freeToAllocateQuantity } } }
          }
        }
        """

    static let setStock = """
        mutation SetStock($input: StockSetInput!) {
          setStock(input: $input) { stockChanges { id } userErrors { message path } }
        }
        """

    static let checkShipments = """
        query CheckShipments($where: ShipmentFilter) {
          shipments(where: $where, sort: [id_ASC], limit: 10, page: 1) { id number }
          counters { shipments(where: $where) }
        }
        """

    static let checkProducts = """
        query CheckProducts {
          products(sort: [id_ASC], limit: 10, page: 1) { id variants { productSizes { SKU EAN } } }
          counters { products }
        }
        """
}

struct CentraMoney: Decodable { var value: Double? }

struct CentraNamed: Decodable { var name: String? }

struct CentraAddress: Decodable {
    var firstName: String?, lastName: String?, companyName: String?, address1: String?, address2: String?
    var city: String?, zipCode: String?, stateOrProvince: String?, phoneNumber: String?, cellPhoneNumber: String?
    var email: String?
    var country: Country?

    struct Country: Decodable { var code: String? }

    var address: Address {
        Address(name: [firstName, lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " "),
                company: companyName ?? "", line1: address1 ?? "", line2: address2 ?? "", city: city ?? "",
                region: stateOrProvince ?? "", postcode: zipCode ?? "", country: country?.code ?? "")
    }
}

struct CentraSizeRef: Decodable {
    var id: Int?
    var SKU: String?
    var EAN: String?
}

/// A custom attribute (Centra's attribute model: a type and its elements).
struct CentraAttribute: Decodable {
    var type: CentraNamed?
    var elements: [Element]?

    struct Element: Decodable {
        var key: String?
        var value: String?
    }
}

struct CentraOrder: Decodable {
    var id: String?
    var number: Int
    var status: String?
    var createdAt: String?
    var shippingMethod: CentraNamed?
    var customer: Customer?
    var attributes: [CentraAttribute]?
    var shippingAddress: CentraAddress?
    var lines: [Line]?
    var shipments: [ShipmentRef]?

    struct Customer: Decodable { var email: String? }
    struct Line: Decodable {
        var id: Int
        var quantity: Int
        var productSize: CentraSizeRef?
    }
    struct ShipmentRef: Decodable {
        var id: Int
        var number: String
        var additionalMessage: String?
    }

    /// The order's custom attributes by name (`gift_message`...): an attribute with one element is its
    /// type's name; one with several, `type_key`.
    var fields: [String: String] {
        var out: [String: String] = [:]
        for attribute in attributes ?? [] {
            guard let name = attribute.type?.name else { continue }
            let elements = attribute.elements ?? []
            for element in elements {
                guard let value = element.value else { continue }
                out[elements.count == 1 ? name : name + "_" + (element.key ?? "")] = value
            }
        }
        return out
    }
}

struct CentraRefundedOrder: Decodable {
    var number: Int
    var paymentHistory: [Entry]?
    var shipments: [Shipment]?

    struct Entry: Decodable {
        var createdAt: String?
        var entryType: String?
        var status: String?
        var value: CentraMoney?
    }
    struct Shipment: Decodable {
        var number: String
        var returns: [Ref]?
        struct Ref: Decodable { var id: Int }
    }
}

struct CentraShipment: Decodable {
    var id: Int
    var number: String
    var createdAt: String?
    var isGoodToGo: Bool?
    var isShipped: Bool?
    var isPaid: Bool?
    var additionalMessage: String?
    var grandTotal: CentraMoney?
    var shippingAddress: CentraAddress?
    var order: CentraOrder?
    var lines: [Line]
    var returns: [CentraReturn]?

    struct Line: Decodable {
        var id: Int
        var quantity: Int
        var unitPrice: CentraMoney?
        var productSize: CentraSizeRef?
    }
}

struct CentraReturn: Decodable {
    var id: Int
    var status: String?
    var createdAt: String?
    var comment: String?
    var shipment: ShipmentRef?
    var lines: [Line]?

    struct ShipmentRef: Decodable {
        var id: Int?
        var number: String?
        var order: OrderRef?
        struct OrderRef: Decodable { var number: Int? }
    }
    struct Line: Decodable {
        var quantity: Int
        var shipmentLine: ShipmentLineRef?
        struct ShipmentLineRef: Decodable {
            var id: Int?
            var productSize: CentraSizeRef?
        }
    }

    var isCompleted: Bool { status?.uppercased() == "COMPLETED" }
}

struct CentraProduct: Decodable {
    var id: Int
    var name: String?
    var productNumber: String?
    var variants: [Variant]?

    struct Variant: Decodable {
        var id: Int
        var name: String?
        var variantNumber: String?
        var productSizes: [Size]?
    }
    struct Size: Decodable {
        var id: Int
        var SKU: String?
        var EAN: String?
        var sizeNumber: String?
        var size: CentraNamed?
        var stock: [Stock]?
    }
    struct Stock: Decodable {
        var warehouse: CentraNamed?
        var physicalQuantity: Int?
        var freeToAllocateQuantity: Int?
    }
}
