import Foundation

// The GraphQL documents voxbatch sends to Marketplacer's Seller API (`<url>/graphql`) and the JSON it
// reads back, as far as voxbatch reads it. Shapes follow Marketplacer's published reference and examples:
// https://dev.marketplacer.com/docs/seller-api/reference/queries/invoices (invoices(first, after, filters)
// with totalCount, nodes, pageInfo), https://dev.marketplacer.com/graph-doc/invoice.doc.html (buyer fields,
// annotations), https://dev.marketplacer.com/docs/seller-api/reference/mutations/shipmentcreate
// (shippedItems, postageCarrierId, trackingNumber, dispatchedAt, note; errors { field messages }),
// https://dev.marketplacer.com/docs/seller-api/reference/mutations/refundrequestcreate and
// .../refundrequestreturn ("Can only mark an awaiting RefundRequest as returned"),
// https://dev.marketplacer.com/docs/seller-api/examples/products/howto_updateproducts (variantUpdate;
// variants carry sku, barcode, countOnHand, externalIds), and the invoice status flags
// (https://dev.marketplacer.com/docs/seller-api/examples/orders/howto_invoicestatusflags: PAID, SENT, …).

enum MarketplacerDocuments {
    static let invoiceFields = """
        fragment VoxInvoice on Invoice {
          id legacyId statusFlags createdAt paidAt updatedAt
          buyerFirstName buyerSurname buyerEmailAddress buyerPhone buyerMessageToSeller
          shippingAddress { firstName surname companyName address city postcode state { short } country { code } phone }
          shippingOptionName totalFormatted postageFormatted
          metadata { key value }
          lineItems { id quantity unitPriceFormatted
                      variant { id sku barcode externalIds { key value } } }
          shipments { id note trackingNumber shippedItems { lineItem { id } quantity } }
          refundRequests { id status notes { note } lineItems { lineItem { id } quantity } }
          annotations { id message }
        }
        """

    static let invoices = """
        query Invoices($first: Int, $after: String, $filters: InvoiceFilters) {
          invoices(first: $first, after: $after, filters: $filters) {
            totalCount nodes { ...VoxInvoice } pageInfo { hasNextPage endCursor }
          }
        }
        """ + "\n" + invoiceFields

    static let invoiceByNumber = """
        query InvoiceByNumber($legacyId: Int!) {
          invoices(first: 1, filters: { legacyIds: [$legacyId] }) { nodes { ...VoxInvoice } }
        }
        """ + "\n" + invoiceFields

    static let postageCarriers = """
        query PostageCarriers { postageCarriers { id name } }
        """

    static let shipmentCreate = """
        mutation ShipmentCreate($input: ShipmentCreateMutationInput!) {
          shipmentCreate(input: $input) { shipment { id } errors { field messages } }
        }
        """

    static let refundRequestCreate = """
        mutation RefundRequestCreate($input: RefundRequestCreateMutationInput!) {
          refundRequestCreate(input: $input) { refundRequest { id status } errors { field messages } }
        }
        """

    static let refundRequestReturn = """
        mutation RefundRequestReturn($input: RefundRequestReturnMutationInput!) {
          refundRequestReturn(input: $input) { refundRequest { id status } errors { field messages } }
        }
        """

    static let invoiceAnnotationCreate = """
        mutation InvoiceAnnotationCreate($input: InvoiceAnnotationCreateMutationInput!) {
          invoiceAnnotationCreate(input: $input) { invoiceAnnotation { id } errors { field messages } }
        }
        """

    static let adverts = """
        query Adverts($first: Int, $after: String) {
          adverts(first: $first, after: $after) {
            totalCount
            nodes { id title variants(first: 100) { nodes { id label sku barcode countOnHand externalIds { key value } } } }
            pageInfo { hasNextPage endCursor }
          }
        }
        """

    static let variantUpdate = """
        mutation VariantUpdate($input: VariantUpdateMutationInput!) {
          variantUpdate(input: $input) { variant { id countOnHand } errors { field messages } }
        }
        """
}

struct MarketplacerKeyValue: Decodable {
    var key: String?
    var value: String?
}

struct MarketplacerVariant: Decodable {
    var id: String
    var label: String?
    var sku: String?
    var barcode: String?
    var countOnHand: Int?
    var externalIds: [MarketplacerKeyValue]?
}

struct MarketplacerAdvert: Decodable {
    var id: String
    var title: String?
    var variants: Connection?

    struct Connection: Decodable { var nodes: [MarketplacerVariant]? }
}

struct MarketplacerInvoice: Decodable {
    var id: String
    var legacyId: Int
    var statusFlags: [String]?
    var createdAt: String?
    var paidAt: String?
    var buyerFirstName: String?
    var buyerSurname: String?
    var buyerEmailAddress: String?
    var buyerPhone: String?
    var buyerMessageToSeller: String?
    var shippingAddress: ShippingAddress?
    var shippingOptionName: String?
    var totalFormatted: String?
    var postageFormatted: String?
    var metadata: [MarketplacerKeyValue]?
    var lineItems: [LineItem]
    var shipments: [Shipment]?
    var refundRequests: [RefundRequest]?
    var annotations: [Annotation]?

    struct ShippingAddress: Decodable {
        var firstName: String?, surname: String?, companyName: String?, address: String?, city: String?
        var postcode: String?, phone: String?
        var state: Named?
        var country: Named?
        struct Named: Decodable { var short: String?; var code: String? }
    }
    struct LineItem: Decodable {
        var id: String
        var quantity: Int
        var unitPriceFormatted: String?
        var variant: MarketplacerVariant?
    }
    struct ItemRef: Decodable {
        var lineItem: Ref?
        var quantity: Int
        struct Ref: Decodable { var id: String }
    }
    struct Shipment: Decodable {
        var id: String
        var note: String?
        var trackingNumber: String?
        var shippedItems: [ItemRef]?
    }
    struct RefundRequest: Decodable {
        var id: String
        var status: String?
        var notes: [Note]?
        var lineItems: [ItemRef]?
        struct Note: Decodable { var note: String? }
        var text: String { (notes ?? []).compactMap(\.note).joined(separator: "\n") }
    }
    struct Annotation: Decodable {
        var id: String?
        var message: String?
    }

    var flags: Set<String> { Set((statusFlags ?? []).map { $0.uppercased() }) }

    /// Every field of the invoice by name, for `mappings.order_fields` and `required_fields`: the buyer's
    /// fields (`buyerFirstName`…), the address (`shippingAddress.postcode`…), `legacyId`, `id`,
    /// `shippingOptionName`, `statusFlags`, and each custom attribute as `metadata.KEY`.
    var fields: [String: String] {
        var out: [String: String] = [
            "id": id, "legacyId": String(legacyId), "statusFlags": (statusFlags ?? []).joined(separator: " "),
        ]
        let pairs: [(String, String?)] = [
            ("buyerFirstName", buyerFirstName), ("buyerSurname", buyerSurname), ("buyerEmailAddress", buyerEmailAddress),
            ("buyerPhone", buyerPhone), ("buyerMessageToSeller", buyerMessageToSeller),
            ("shippingOptionName", shippingOptionName), ("createdAt", createdAt), ("paidAt", paidAt),
            ("totalFormatted", totalFormatted), ("postageFormatted", postageFormatted),
            ("shippingAddress.firstName", shippingAddress?.firstName), ("shippingAddress.surname", shippingAddress?.surname),
            ("shippingAddress.companyName", shippingAddress?.companyName), ("shippingAddress.address", shippingAddress?.address),
            ("shippingAddress.city", shippingAddress?.city), ("shippingAddress.postcode", shippingAddress?.postcode),
            ("shippingAddress.state", shippingAddress?.state?.short), ("shippingAddress.country", shippingAddress?.country?.code),
            ("shippingAddress.phone", shippingAddress?.phone),
        ]
        for (key, value) in pairs { if let value { out[key] = value } }
        for entry in metadata ?? [] {
            guard let key = entry.key, let value = entry.value else { continue }
            out["metadata." + key] = value
            out[key] = out[key] ?? value  // plain name too, like other storefronts' custom attributes
        }
        return out
    }
}
