import CSVKit
import Foundation

/// export-items: the storefront's product master as a Peoplevox item-types file. New SKUs and SKUs
/// whose data changed are sent; unchanged ones are not sent again.
public struct ExportItemsFlow: OutboundFlow {
    public static let flowName = "items"
    public let name = ExportItemsFlow.flowName
    public let template: CSVTemplate
    public let fileNamePattern: String
    public let resendsChanged = true
    let storefront: any Storefront
    let skus: [String: String]

    public init(configuration: Configuration, storefront: any Storefront) {
        template = configuration.template("items")!.0
        fileNamePattern = configuration.files.items
        self.storefront = storefront
        skus = configuration.mappings.skus
    }

    public func collect() throws -> [OutboundRecord] { try allPages() }

    /// The catalogue a page at a time: each page's items are sent (or found unchanged) before the next is read.
    public func collect(pages body: ([OutboundRecord]) throws -> Void) throws {
        let template = self.template
        try storefront.products(pageSize: 5_000) { products in
            try body(products.map { product in
                let code = skus[product.sku] ?? product.sku
                let item = ItemType(itemCode: code, name: product.name, barcode: product.barcode,
                                    retailPrice: product.price, weightGrams: product.weightGrams,
                                    attributes: product.attributes)
                return OutboundRecord(key: code, rows: [item.row(in: template)])
            })
        }
    }
}

/// The SKUs on one side only: the storefront's catalogue against what the warehouse is known to hold.
public struct SKUAudit: Sendable, Hashable, Codable {
    /// In the storefront, unknown to the warehouse (orders for them would be refused).
    public var storefrontOnly: [String]
    /// In the warehouse (its stock files), not in the storefront (stock that cannot be sold).
    public var warehouseOnly: [String]
    public var matched: Int

    /// Compares the storefront's catalogue with the warehouse's items.
    public static func run(storefront: any Storefront, manifest: Manifest, skus: [String: String]) throws -> SKUAudit {
        let shop = Set(try storefront.products().map { skus[$0.sku] ?? $0.sku })
        let warehouse = try manifest.warehouseItems()  // what the warehouse itself reported in its stock files
        return SKUAudit(storefrontOnly: shop.subtracting(warehouse).sorted(),
                        warehouseOnly: warehouse.subtracting(shop).sorted(),
                        matched: shop.intersection(warehouse).count)
    }
}
