import CSVKit
import Foundation

/// The Peoplevox import templates and export reports voxbatch exchanges, as CSVKit templates.
///
/// Column names follow Peoplevox's published template field names (see `docs/formats.md`); where
/// Peoplevox's layout is not public (returns, cancellations, the simple stock file) the names are a
/// sensible default that a client's YAML can rename.
public enum PeoplevoxTemplates {
    /// Date layouts seen in Peoplevox reports and in files made by spreadsheet tools.
    public static let dateFormats = ["dd/MM/yyyy HH:mm", "dd/MM/yyyy HH:mm:ss", "dd/MM/yyyy", "iso8601",
                                     "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm"]

    /// A date in one of `dateFormats` (`30/11/2026 15:10`, ISO 8601…) as ISO 8601 UTC, for the storefront
    /// APIs that take one (a despatch time); a time without a zone is taken as UTC. Nil when it is none.
    public static func iso8601(_ text: String) -> String? {
        for pattern in dateFormats {
            guard let value = DateFormat(pattern).parse(text) else { continue }
            return value.iso8601
        }
        return nil
    }

    /// Sales orders to the warehouse, one row per order line with the order's fields repeated.
    public static let salesOrders = CSVTemplate(
        name: "peoplevox-sales-orders",
        columns: [
            ColumnRule("SalesOrderNumber", required: true, maxLength: 50),
            ColumnRule("Customer", maxLength: 100),
            ColumnRule("CustomerPurchaseOrderReferenceNumber", maxLength: 50),
            ColumnRule("ShippingAddressLine1", required: true, maxLength: 100),
            ColumnRule("ShippingAddressLine2", maxLength: 100),
            ColumnRule("ShippingAddressCity", required: true, maxLength: 60),
            ColumnRule("ShippingAddressRegion", maxLength: 60),
            ColumnRule("ShippingAddressPostcode", .postcode(countryColumn: "ShippingAddressCountry"),
                       required: true, maxLength: 20),
            ColumnRule("ShippingAddressCountry", required: true, maxLength: 60),
            ColumnRule("ShippingAddressReference", maxLength: 50),
            ColumnRule("InvoiceAddressLine1", maxLength: 100),
            ColumnRule("InvoiceAddressLine2", maxLength: 100),
            ColumnRule("InvoiceAddressCity", maxLength: 60),
            ColumnRule("InvoiceAddressRegion", maxLength: 60),
            ColumnRule("InvoiceAddressPostcode", .postcode(countryColumn: "InvoiceAddressCountry"), maxLength: 20),
            ColumnRule("InvoiceAddressCountry", maxLength: 60),
            ColumnRule("InvoiceAddressReference", maxLength: 50),
            ColumnRule("IsPartialShipment", .boolean),
            ColumnRule("Status", .enumeration(values: ["New", "Cancelled"])),
            ColumnRule("RequestedDeliveryDate", .date(formats: dateFormats)),
            ColumnRule("ShippingCost", .decimal(scale: 2, min: 0)),
            ColumnRule("Email", .email, required: true, maxLength: 254),
            ColumnRule("ContactName", required: true, maxLength: 100),
            ColumnRule("TotalSale", .decimal(scale: 2, min: 0)),
            ColumnRule("Discount", .decimal(scale: 2)),
            ColumnRule("TaxPaid", .decimal(scale: 2, min: 0)),
            ColumnRule("CreatedDate", .date(formats: dateFormats)),
            ColumnRule("PaymentMethod", maxLength: 50),
            ColumnRule("ServiceType", maxLength: 50),
            ColumnRule("ChannelName", maxLength: 50),
            ColumnRule("SalesOrderAttribute1", maxLength: 250),
            ColumnRule("SalesOrderAttribute2", maxLength: 250),
            ColumnRule("SalesOrderAttribute3", maxLength: 250),
            ColumnRule("ItemCode", required: true, maxLength: 50),
            ColumnRule("QuantityOrdered", .integer(min: 1), required: true),
            ColumnRule("Line", .integer(min: 1)),
            ColumnRule("SalePrice", .decimal(scale: 2, min: 0)),
        ],
        uniqueKey: ["SalesOrderNumber", "ItemCode"]
    )

    /// Item types (the product master) to the warehouse.
    public static let itemTypes = CSVTemplate(
        name: "peoplevox-item-types",
        columns: [
            ColumnRule("ItemCode", required: true, maxLength: 50),
            ColumnRule("Name", required: true, maxLength: 200),
            ColumnRule("Barcode", maxLength: 50),
            ColumnRule("ItemGroup", maxLength: 50),
            ColumnRule("RetailPrice", .decimal(scale: 2, min: 0)),
            ColumnRule("Description", maxLength: 1000),
            ColumnRule("UnitOfMeasure", maxLength: 20),
            ColumnRule("BuyPrice", .decimal(scale: 2, min: 0)),
            ColumnRule("WholesalePrice", .decimal(scale: 2, min: 0)),
            ColumnRule("Weight", .decimal(scale: 3, min: 0)),
            ColumnRule("WeightMeasure", .enumeration(values: ["g", "kg", "lb", "oz"])),
            ColumnRule("Height", .decimal(scale: 2, min: 0)),
            ColumnRule("Width", .decimal(scale: 2, min: 0)),
            ColumnRule("Depth", .decimal(scale: 2, min: 0)),
            ColumnRule("DimensionMeasure", .enumeration(values: ["mm", "cm", "m", "in"])),
            ColumnRule("Tags", maxLength: 250),
            ColumnRule("Attribute1", maxLength: 100),
            ColumnRule("Attribute2", maxLength: 100),
            ColumnRule("Attribute3", maxLength: 100),
            ColumnRule("TaxCode", maxLength: 20),
        ],
        uniqueKey: ["ItemCode"]
    )

    /// Cancellation requests to the warehouse.
    public static let cancellations = CSVTemplate(
        name: "peoplevox-cancellations",
        columns: [
            ColumnRule("SalesOrderNumber", required: true, maxLength: 50),
            ColumnRule("Status", .enumeration(values: ["Cancelled"]), required: true),
            ColumnRule("Reason", maxLength: 250),
            ColumnRule("RequestedDate", .date(formats: dateFormats)),
        ],
        uniqueKey: ["SalesOrderNumber"]
    )

    /// The "Despatch summary" report from the warehouse: one row per despatched item line.
    public static let despatches = CSVTemplate(
        name: "peoplevox-despatches",
        columns: [
            ColumnRule("Salesorder number", required: true, maxLength: 50),
            ColumnRule("Despatch number", required: true, maxLength: 50),
            ColumnRule("Carrier", maxLength: 50),
            ColumnRule("Service", maxLength: 50),
            ColumnRule("Despatch date", .date(formats: dateFormats), required: true),
            ColumnRule("Tracking number", maxLength: 100),
            ColumnRule("Item code", required: true, maxLength: 50),
            ColumnRule("No of items", .integer(min: 1), required: true),
            ColumnRule("Destination country", maxLength: 60),
            ColumnRule("Customer order reference", maxLength: 50),
        ],
        uniqueKey: ["Salesorder number", "Despatch number", "Item code"]
    )

    /// Stock levels from the warehouse (the simple availability file; the snapshot time comes from
    /// the `Timestamp` column or, when absent, from the file name).
    public static let stock = CSVTemplate(
        name: "peoplevox-stock",
        columns: [
            ColumnRule("Item code", required: true, maxLength: 50, aliases: ["ItemCode"]),
            ColumnRule("Available", .integer(), required: true),
            ColumnRule("On hand", .integer(min: 0), aliases: ["OnHand"]),
            ColumnRule("Allocated", .integer(min: 0)),
            ColumnRule("Timestamp", .date(formats: dateFormats), aliases: ["Date time"]),
        ],
        uniqueKey: ["Item code"]
    )

    /// Returns from the warehouse, one row per returned line.
    public static let returns = CSVTemplate(
        name: "peoplevox-returns",
        columns: [
            ColumnRule("Salesorder number", required: true, maxLength: 50),
            ColumnRule("Return number", required: true, maxLength: 50),
            ColumnRule("Item code", required: true, maxLength: 50),
            ColumnRule("Quantity", .integer(min: 1), required: true),
            ColumnRule("Status", .enumeration(values: ["Accepted", "Quarantined", "Rejected", "Pending"]),
                       required: true),
            ColumnRule("Reason", maxLength: 250),
            ColumnRule("Return date", .date(formats: dateFormats)),
        ],
        uniqueKey: ["Return number", "Item code"]
    )

    /// Sales-order states from the warehouse (a "Sales order status" report), one row per order whose
    /// state changed: what tells voxbatch whether a cancellation can still stop an order.
    public static let orderStatus = CSVTemplate(
        name: "peoplevox-order-status",
        columns: [
            ColumnRule("Salesorder number", required: true, maxLength: 50),
            ColumnRule("Status", required: true, maxLength: 30),
            ColumnRule("Date", .date(formats: dateFormats), aliases: ["Status date"]),
        ],
        uniqueKey: ["Salesorder number"]
    )

    /// Returns announced in the shop (RMA), sent ahead so the warehouse knows what is coming and can book it
    /// in against its return number. No public Peoplevox column list was found: these names are a default
    /// and every column can be renamed (`mappings.columns.expected_returns`), like every template.
    public static let expectedReturns = CSVTemplate(
        name: "peoplevox-expected-returns",
        columns: [
            ColumnRule("ReturnNumber", required: true, maxLength: 50),
            ColumnRule("SalesOrderNumber", required: true, maxLength: 50),
            ColumnRule("ItemCode", required: true, maxLength: 50),
            ColumnRule("QuantityExpected", .integer(min: 1), required: true),
            ColumnRule("Reason", maxLength: 250),
            ColumnRule("RequestedDate", .date(formats: dateFormats)),
        ],
        uniqueKey: ["ReturnNumber", "ItemCode"]
    )

    /// Every built-in template.
    public static let all: [CSVTemplate] = [salesOrders, itemTypes, cancellations, expectedReturns, despatches, stock,
                                            returns, orderStatus]

    /// A built-in template by its full name (`peoplevox-despatches`) or short name (`despatches`).
    public static func named(_ name: String) -> CSVTemplate? {
        let key = name.lowercased()
        return all.first { $0.name == key || $0.name == "peoplevox-" + key }
    }
}
