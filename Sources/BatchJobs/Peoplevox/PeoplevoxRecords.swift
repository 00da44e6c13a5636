import CSVKit

/// A delivery or invoice address.
public struct Address: Sendable, Hashable, Codable {
    public var name: String
    public var company: String
    public var line1: String
    public var line2: String
    public var city: String
    public var region: String
    public var postcode: String
    /// ISO 3166-1 alpha-2 country code.
    public var country: String

    public init(name: String = "", company: String = "", line1: String = "", line2: String = "", city: String = "",
                region: String = "", postcode: String = "", country: String = "") {
        self.name = name
        self.company = company
        self.line1 = line1
        self.line2 = line2
        self.city = city
        self.region = region
        self.postcode = postcode
        self.country = country
    }
}

/// A sales order as Peoplevox imports it: the order's fields and its lines.
public struct SalesOrder: Sendable, Hashable {
    public var number: String
    public var customer: String
    public var email: String
    public var contactName: String
    public var shipping: Address
    public var status = "New"
    public var createdDate: String
    public var requestedDeliveryDate = ""
    public var serviceType: String
    public var channelName: String
    public var paymentMethod = ""
    public var shippingCost = ""
    public var totalSale = ""
    public var discount = ""
    public var taxPaid = ""
    /// Extra Peoplevox columns (custom attributes: gift message, delivery instructions...), by column name.
    public var extraColumns: [String: String] = [:]
    public var lines: [Line]

    /// One order line.
    public struct Line: Sendable, Hashable {
        public var itemCode: String
        public var quantity: Int
        public var salePrice: String

        public init(itemCode: String, quantity: Int, salePrice: String = "") {
            self.itemCode = itemCode
            self.quantity = quantity
            self.salePrice = salePrice
        }
    }

    public init(number: String, customer: String, email: String, contactName: String, shipping: Address,
                createdDate: String, serviceType: String = "", channelName: String = "", lines: [Line]) {
        self.number = number
        self.customer = customer
        self.email = email
        self.contactName = contactName
        self.shipping = shipping
        self.createdDate = createdDate
        self.serviceType = serviceType
        self.channelName = channelName
        self.lines = lines
    }

    /// Sets the order-level column `column` (a standard one, or else an extra column) to `value`.
    public mutating func set(column: String, to value: String) {
        switch column {
        case "Customer": customer = value
        case "Email": email = value
        case "ContactName": contactName = value
        case "ShippingAddressLine1": shipping.line1 = value
        case "ShippingAddressLine2": shipping.line2 = value
        case "ShippingAddressCity": shipping.city = value
        case "ShippingAddressRegion": shipping.region = value
        case "ShippingAddressPostcode": shipping.postcode = value
        case "ShippingAddressCountry": shipping.country = value
        case "RequestedDeliveryDate": requestedDeliveryDate = value
        case "ServiceType": serviceType = value
        case "ChannelName": channelName = value
        case "PaymentMethod": paymentMethod = value
        case "ShippingCost": shippingCost = value
        case "TotalSale": totalSale = value
        case "Discount": discount = value
        case "TaxPaid": taxPaid = value
        case "CreatedDate": createdDate = value
        default: extraColumns[column] = value
        }
    }

    /// The order's rows in `template`'s layout (one per line, the order's fields repeated).
    public func rows(in template: CSVTemplate) -> [[String]] {
        rows(in: Layout(template))
    }

    /// The order's rows in a layout bound once (an export binds it once per run, not once per order).
    ///
    /// A column takes the first of its name and aliases that has a value, as `template.row` would look them up
    /// in a dictionary of the order's fields over its extra columns (with the line's fields for a line column):
    /// a standard field always has one, an extra column when the order sets it.
    public func rows(in layout: Layout) -> [[String]] {
        var row = [String](repeating: "", count: layout.sources.count)
        for c in layout.orderColumns { row[c] = value(layout.sources[c]) }
        return lines.enumerated().map { i, line in
            for c in layout.lineColumns { row[c] = value(layout.sources[c], line: line, number: i + 1) }
            return row
        }
    }

    /// The order's rows as ``OutboundPipeline/pack(_:)`` packs them, written straight to bytes: the same bytes as
    /// packing ``rows(in:)-(Layout)``. The order's columns are the same on every line, so they are packed once,
    /// with the places the line's columns go; each line is those bytes with its own values put in. The result
    /// is measured before it is written: a record waiting in a file's batch holds no spare capacity.
    public func packedRows(in layout: Layout) -> PackedRows {
        var orderBytes: [UInt8] = []
        orderBytes.reserveCapacity(256)
        var cuts: [Int] = []  // where each line column goes in `orderBytes`
        cuts.reserveCapacity(layout.lineColumns.count)
        for (c, source) in layout.sources.enumerated() {
            if layout.isLineColumn[c] {
                cuts.append(orderBytes.count)
            } else {
                var field = value(source)
                field.withUTF8 { orderBytes.append(contentsOf: $0) }
                orderBytes.append(0x1F)
            }
        }
        var lineValues: [String] = []
        lineValues.reserveCapacity(lines.count * cuts.count)
        var total = lines.count * (orderBytes.count + 1 + cuts.count)
        for (i, line) in lines.enumerated() {
            for c in layout.lineColumns {
                let field = value(layout.sources[c], line: line, number: i + 1)
                total += field.utf8.count
                lineValues.append(field)
            }
        }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { out, written in
            var at = 0
            func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
                (out.baseAddress! + at).initialize(from: base, count: bytes.count)
                at += bytes.count
            }
            orderBytes.withUnsafeBufferPointer { order in
                var v = 0
                for _ in lines {
                    var from = 0
                    for cut in cuts {
                        put(UnsafeBufferPointer(rebasing: order[from..<cut]))
                        lineValues[v].withUTF8(put)
                        out[at] = 0x1F
                        at += 1
                        v += 1
                        from = cut
                    }
                    put(UnsafeBufferPointer(rebasing: order[from...]))
                    out[at] = 0x1E
                    at += 1
                }
            }
            precondition(at == total, "packed rows measured \(total) bytes, wrote \(at)")
            written = at
        }
        return PackedRows(bytes: bytes, rows: lines.count, fieldCount: lines.count * layout.sources.count)
    }

    /// A column's value: the first of its extra columns the order sets, else its field (a line's, on `line`,
    /// numbered from 1). No closures over the order: each would copy it.
    private func value(_ source: Layout.Source, line: Line? = nil, number: Int = 0) -> String {
        for key in source.extras { if let v = extraColumns[key] { return v } }
        switch source.field {
        case .number: return self.number
        case .customer: return customer
        case .line1: return shipping.line1
        case .line2: return shipping.line2
        case .city: return shipping.city
        case .region: return shipping.region
        case .postcode: return shipping.postcode
        case .country: return shipping.country
        case .partialShipment: return "false"
        case .status: return status
        case .requestedDeliveryDate: return requestedDeliveryDate
        case .shippingCost: return shippingCost
        case .email: return email
        case .contactName: return contactName
        case .totalSale: return totalSale
        case .discount: return discount
        case .taxPaid: return taxPaid
        case .createdDate: return createdDate
        case .paymentMethod: return paymentMethod
        case .serviceType: return serviceType
        case .channelName: return channelName
        case .itemCode: return line?.itemCode ?? ""
        case .quantity: return line.map { String($0.quantity) } ?? ""
        case .lineNumber: return line == nil ? "" : String(number)
        case .salePrice: return line?.salePrice ?? ""
        case .blank: return ""
        }
    }

    /// Where each column of a sales-order template takes its value from, bound once.
    public struct Layout: Sendable {
        enum Field: Sendable {
            case number, customer, line1, line2, city, region, postcode, country, partialShipment, status
            case requestedDeliveryDate, shippingCost, email, contactName, totalSale, discount, taxPaid, createdDate
            case paymentMethod, serviceType, channelName
            case itemCode, quantity, lineNumber, salePrice
            case blank
        }

        /// Extra columns to try first, in order, then a field (a standard one always has a value).
        struct Source: Sendable {
            var extras: [String] = []
            var field = Field.blank
        }

        static let fields: [String: Field] = [
            "SalesOrderNumber": .number, "Customer": .customer, "ShippingAddressLine1": .line1,
            "ShippingAddressLine2": .line2, "ShippingAddressCity": .city, "ShippingAddressRegion": .region,
            "ShippingAddressPostcode": .postcode, "ShippingAddressCountry": .country,
            "IsPartialShipment": .partialShipment, "Status": .status, "RequestedDeliveryDate": .requestedDeliveryDate,
            "ShippingCost": .shippingCost, "Email": .email, "ContactName": .contactName, "TotalSale": .totalSale,
            "Discount": .discount, "TaxPaid": .taxPaid, "CreatedDate": .createdDate, "PaymentMethod": .paymentMethod,
            "ServiceType": .serviceType, "ChannelName": .channelName,
            "ItemCode": .itemCode, "QuantityOrdered": .quantity, "Line": .lineNumber, "SalePrice": .salePrice,
        ]

        let sources: [Source]
        /// Columns with the order's values (the same on every line), and those with the line's.
        let orderColumns: [Int]
        let lineColumns: [Int]
        let isLineColumn: [Bool]

        public init(_ template: CSVTemplate) {
            var sources: [Source] = [], orderColumns: [Int] = [], lineColumns: [Int] = []
            for (c, rule) in template.columns.enumerated() {
                let keys = [rule.name] + rule.aliases
                var source = Source()
                for key in keys {
                    if let field = Self.fields[key] {
                        source.field = field
                        break
                    }
                    source.extras.append(key)
                }
                sources.append(source)
                if keys.contains(where: SalesOrder.lineFields.contains) { lineColumns.append(c) } else { orderColumns.append(c) }
            }
            self.sources = sources
            self.orderColumns = orderColumns
            self.lineColumns = lineColumns
            isLineColumn = sources.indices.map(lineColumns.contains)
        }
    }

    /// The fields a sales-order row takes from its line rather than its order.
    static let lineFields: Set<String> = ["ItemCode", "QuantityOrdered", "Line", "SalePrice"]
}

/// An item type (a SKU of the product master) as Peoplevox imports it.
public struct ItemType: Sendable, Hashable {
    public var itemCode: String
    public var name: String
    public var barcode: String
    public var retailPrice: String
    /// Weight in grams.
    public var weightGrams: String
    /// Variant attributes (size, colour...), written to Attribute1...3.
    public var attributes: [String]
    public var description = ""
    public var itemGroup = ""

    public init(itemCode: String, name: String, barcode: String = "", retailPrice: String = "", weightGrams: String = "",
                attributes: [String] = []) {
        self.itemCode = itemCode
        self.name = name
        self.barcode = barcode
        self.retailPrice = retailPrice
        self.weightGrams = weightGrams
        self.attributes = attributes
    }

    /// The item's row in `template`'s layout.
    public func row(in template: CSVTemplate) -> [String] {
        var values = ["ItemCode": itemCode, "Name": name, "Barcode": barcode, "RetailPrice": retailPrice,
                      "Description": description, "ItemGroup": itemGroup, "UnitOfMeasure": "Each"]
        if !weightGrams.isEmpty {
            values["Weight"] = weightGrams
            values["WeightMeasure"] = "g"
        }
        for (i, attribute) in attributes.prefix(3).enumerated() { values["Attribute\(i + 1)"] = attribute }
        return template.row(values)
    }
}

/// A request to cancel an order the warehouse already has.
public struct CancellationRequest: Sendable, Hashable {
    public var orderNumber: String
    public var reason: String
    public var requestedDate: String

    public init(orderNumber: String, reason: String, requestedDate: String) {
        self.orderNumber = orderNumber
        self.reason = reason
        self.requestedDate = requestedDate
    }

    /// The request's row in `template`'s layout.
    public func row(in template: CSVTemplate) -> [String] {
        template.row(["SalesOrderNumber": orderNumber, "Status": "Cancelled", "Reason": reason,
                      "RequestedDate": requestedDate])
    }
}

/// One despatched item line of a package (a row of the "Despatch summary" report).
public struct DespatchLine: Sendable, Hashable {
    public var orderNumber: String
    /// The package: one order can leave in several despatches (a partial shipment).
    public var despatchNumber: String
    public var carrier: String
    public var service: String
    /// As written in the file.
    public var despatchDate: String
    public var trackingNumber: String
    public var itemCode: String
    public var quantity: Int

    public init(orderNumber: String, despatchNumber: String, carrier: String, service: String, despatchDate: String,
                trackingNumber: String, itemCode: String, quantity: Int) {
        self.orderNumber = orderNumber
        self.despatchNumber = despatchNumber
        self.carrier = carrier
        self.service = service
        self.despatchDate = despatchDate
        self.trackingNumber = trackingNumber
        self.itemCode = itemCode
        self.quantity = quantity
    }
}

/// A SKU's stock level at a moment (a row of the stock file).
public struct StockLevel: Sendable, Hashable {
    public var itemCode: String
    /// Available to sell, as the warehouse reports it.
    public var available: Int
    /// When the warehouse took the snapshot (seconds since 1970, UTC).
    public var snapshot: Int
    /// Stock on hand and allocated to open orders, when the file has them (an inventory master wants them).
    public var onHand: Int? = nil
    public var allocated: Int? = nil
}

/// One returned line.
public struct ReturnLine: Sendable, Hashable {
    public var orderNumber: String
    public var returnNumber: String
    public var itemCode: String
    public var quantity: Int
    /// The warehouse's state for the returned goods (Accepted, Quarantined, Rejected, Pending...).
    public var status: String
    public var reason: String
}

/// A sales order's state in the warehouse (New, Picking, Picked, Packing, Despatched, Cancelled).
public struct OrderStatusLine: Sendable, Hashable {
    public var orderNumber: String
    public var status: String
    public var date: String
}

/// Reads typed records from the rows of a validated file, with column positions resolved once per
/// file from its header (renamed and aliased columns included).
public struct PeoplevoxRowReader {
    private let positions: [String: Int]
    private let dateFormats = PeoplevoxTemplates.dateFormats.map(DateFormat.init)

    /// Binds `columns` (template column names) of `template` to `header`.
    public init(template: CSVTemplate, header: CSVHeader, columns: [String]) {
        var positions: [String: Int] = [:]
        for column in columns { positions[column] = template.position(of: column, in: header) }
        self.positions = positions
    }

    /// The text of `column` in the reader's current row ("" when the file has no such column).
    public func text(_ column: String, _ reader: CSVReader) -> String {
        text(at: position(column), reader)
    }

    /// The whole number in `column`, or 0.
    public func integer(_ column: String, _ reader: CSVReader) -> Int {
        integer(at: position(column), reader)
    }

    /// The date in `column` as seconds since 1970 (UTC), if it has one.
    public func date(_ column: String, _ reader: CSVReader) -> Int? {
        let value = text(column, reader)
        guard !value.isEmpty else { return nil }
        return date(value)
    }

    /// `value` read with the first of the Peoplevox date formats that fits, as seconds since 1970 (UTC).
    public func date(_ value: String) -> Int? {
        dateFormats.lazy.compactMap { $0.parse(value) }.first?.epochSeconds
    }

    /// Whether the file has `column`.
    public func has(_ column: String) -> Bool { (positions[column] ?? nil) != nil }

    /// Where `column` is in the file's rows, for the per-row readers below (resolved once per file).
    public func position(_ column: String) -> Int? { positions[column] ?? nil }

    /// The text at `position` ("" when there is none).
    public func text(at position: Int?, _ reader: CSVReader) -> String {
        guard let i = position, i < reader.fieldCount else { return "" }
        return reader.field(i).trimmingSpaces
    }

    /// The whole number at `position`, or 0, read from the bytes without a string.
    public func integer(at position: Int?, _ reader: CSVReader) -> Int {
        guard let i = position, i < reader.fieldCount else { return 0 }
        return reader.withFieldBytes(i) { Self.integer($0) } ?? 0
    }

    /// A decimal integer in `bytes` (spaces and tabs around it, an optional sign), or nil.
    static func integer(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        var negative = false
        if start < end, bytes[start] == UInt8(ascii: "-") || bytes[start] == UInt8(ascii: "+") {
            negative = bytes[start] == UInt8(ascii: "-")
            start += 1
        }
        guard start < end else { return nil }
        var value = 0
        for i in start..<end {
            let digit = Int(bytes[i]) &- 48
            guard digit >= 0 && digit <= 9 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !o1 && !o2 else { return nil }
            value = sum
        }
        return value
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        guard let first = utf8.first, let last = utf8.last,
              first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 else { return self }
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}

extension DespatchLine {
    /// Reads despatch lines from rows of a file laid out as `template` with `header`.
    public static func decoder(template: CSVTemplate, header: CSVHeader) -> (CSVReader) -> DespatchLine {
        let r = PeoplevoxRowReader(template: template, header: header, columns: [
            "Salesorder number", "Despatch number", "Carrier", "Service", "Despatch date", "Tracking number",
            "Item code", "No of items",
        ])
        // Positions looked up once, not by name for every field of every row.
        let order = r.position("Salesorder number"), package = r.position("Despatch number"), carrier = r.position("Carrier")
        let service = r.position("Service"), date = r.position("Despatch date"), tracking = r.position("Tracking number")
        let item = r.position("Item code"), quantity = r.position("No of items")
        return { row in
            DespatchLine(orderNumber: r.text(at: order, row), despatchNumber: r.text(at: package, row),
                         carrier: r.text(at: carrier, row), service: r.text(at: service, row),
                         despatchDate: r.text(at: date, row), trackingNumber: r.text(at: tracking, row),
                         itemCode: r.text(at: item, row), quantity: r.integer(at: quantity, row))
        }
    }

    /// The idempotency key: order + package + item.
    public var key: String { .keyPath(orderNumber, despatchNumber, itemCode) }
}

extension StockLevel {
    /// Reads stock levels; a row without its own timestamp takes `fileSnapshot`.
    public static func decoder(template: CSVTemplate, header: CSVHeader, fileSnapshot: Int)
        -> (CSVReader) -> StockLevel
    {
        let r = PeoplevoxRowReader(template: template, header: header,
                                   columns: ["Item code", "Available", "On hand", "Allocated", "Timestamp"])
        let item = r.position("Item code"), availableAt = r.position("Available"), onHandAt = r.position("On hand")
        let allocatedAt = r.position("Allocated"), timestampAt = r.position("Timestamp")
        let derive = availableAt == nil && onHandAt != nil
        // A stock file is one snapshot: its rows mostly carry the same timestamp, parsed once.
        var lastStamp = "", lastSnapshot: Int?
        return { row in
            let available = derive ? r.integer(at: onHandAt, row) - r.integer(at: allocatedAt, row) : r.integer(at: availableAt, row)
            var snapshot = fileSnapshot
            if timestampAt != nil {
                let stamp = r.text(at: timestampAt, row)
                if stamp != lastStamp {
                    lastStamp = stamp
                    lastSnapshot = stamp.isEmpty ? nil : r.date(stamp)
                }
                snapshot = lastSnapshot ?? fileSnapshot
            }
            return StockLevel(itemCode: r.text(at: item, row), available: available, snapshot: snapshot,
                              onHand: onHandAt != nil ? r.integer(at: onHandAt, row) : nil,
                              allocated: allocatedAt != nil ? r.integer(at: allocatedAt, row) : nil)
        }
    }
}

extension ReturnLine {
    /// Reads returned lines.
    public static func decoder(template: CSVTemplate, header: CSVHeader) -> (CSVReader) -> ReturnLine {
        let r = PeoplevoxRowReader(template: template, header: header, columns: [
            "Salesorder number", "Return number", "Item code", "Quantity", "Status", "Reason",
        ])
        let order = r.position("Salesorder number"), number = r.position("Return number"), item = r.position("Item code")
        let quantity = r.position("Quantity"), status = r.position("Status"), reason = r.position("Reason")
        return { row in
            ReturnLine(orderNumber: r.text(at: order, row), returnNumber: r.text(at: number, row),
                       itemCode: r.text(at: item, row), quantity: r.integer(at: quantity, row),
                       status: r.text(at: status, row), reason: r.text(at: reason, row))
        }
    }
}

extension OrderStatusLine {
    /// Reads order states.
    public static func decoder(template: CSVTemplate, header: CSVHeader) -> (CSVReader) -> OrderStatusLine {
        let r = PeoplevoxRowReader(template: template, header: header, columns: ["Salesorder number", "Status", "Date"])
        let order = r.position("Salesorder number"), status = r.position("Status"), date = r.position("Date")
        return { row in
            OrderStatusLine(orderNumber: r.text(at: order, row), status: r.text(at: status, row), date: r.text(at: date, row))
        }
    }
}
