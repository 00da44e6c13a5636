import CSVKit
import Foundation

/// Generates a realistic shop for the plain-file storefront: a catalogue of apparel SKUs and orders
/// with the mistakes real shops make (SKUs the warehouse never heard of, bad or missing postcodes, an
/// order exported twice), written in the formats the storefront reads.
public struct DemoShop {
    public var products = 300
    public var orders = 2_000
    public var seed: UInt64 = 7
    /// Orders with an SKU the warehouse does not have.
    public var unknownSKUOrders = 6
    /// Orders with a postcode that is not valid for the country.
    public var badPostcodeOrders = 8
    /// Orders with no postcode at all.
    public var missingPostcodeOrders = 3

    public init() {}

    /// What was generated, for the demo's report and for tests.
    public struct Contents: Sendable, Hashable {
        public var skus: [String]
        /// Products whose item row is incomplete (no name), so the warehouse never learns them.
        public var brokenItems: [String]
        public var unknownSKUOrders: [String]
        public var badPostcodeOrders: [String]
        public var missingPostcodeOrders: [String]
        /// The order exported twice.
        public var duplicateOrder: String
    }

    /// Writes `products.csv` into `folder` and returns the orders to release in two batches (morning,
    /// afternoon) as rows of the orders CSV layout, placed from 06:00 on `day` (a UTC midnight).
    public func generate(into folder: String, day: Date) throws -> (Contents, batches: [[[String]]]) {
        var rng = SplitMix64(seed: seed)
        func next() -> UInt64 { rng.next() }
        func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }

        let styles = [("TSH", "Crew T-shirt", "12.00", 180), ("HOD", "Zip hoodie", "45.00", 620),
                      ("SCK", "Wool socks", "9.50", 90), ("JKT", "Rain jacket", "89.00", 740),
                      ("CAP", "Canvas cap", "18.00", 110), ("TRS", "Chino trousers", "55.00", 480)]
        let colours = [("NVY", "Navy"), ("BLK", "Black"), ("GRY", "Grey"), ("OLV", "Olive"), ("RST", "Rust"),
                       ("WHT", "White"), ("SKY", "Sky")]
        let sizes = ["XS", "S", "M", "L", "XL"]
        var products: [[String]] = []
        var skus: [String] = []
        var prices: [String: String] = [:]
        outer: for style in styles {
            for colour in colours {
                for fit in ["REG", "SLM"] {
                    for size in sizes {
                        guard products.count < self.products else { break outer }
                        let sku = "\(style.0)-\(fit)-\(colour.0)-\(size)"
                        let barcode = String(5_060_000_000_000 + UInt64(products.count) * 7 + 3)
                        products.append([sku, barcode, "\(style.1) \(colour.1) \(fit == "SLM" ? "slim" : "regular")",
                                         size, colour.1, String(style.3), style.2])
                        skus.append(sku)
                        prices[sku] = style.2
                    }
                }
            }
        }
        // Two products whose item rows are incomplete: they never reach the warehouse's item list.
        let broken = [skus[skus.count - 1], skus[skus.count - 2]]
        for i in products.indices where broken.contains(products[i][0]) { products[i][2] = "" }
        try writeCSV(folder + "/products.csv", ["sku", "barcode", "name", "size", "colour", "weight_grams", "price"],
                     products)
        let sellable = skus.filter { !broken.contains($0) }

        let people = [("Amelia Hart", "14 Mill Lane", "Leeds", "LS6 2DT", "GB"),
                      ("Oliver Grant", "3 Harbour Road", "Bristol", "BS1 5TY", "GB"),
                      ("Isla Moreau", "22 Rue des Lilas", "Lyon", "69003", "FR"),
                      ("Noah Becker", "Hauptstraße 8", "Berlin", "10115", "DE"),
                      ("Freya Jansen", "Keizersgracht 120", "Amsterdam", "1015 CW", "NL"),
                      ("George Walsh", "7 Castle Street", "Edinburgh", "EH2 3AH", "GB"),
                      ("Ava Murphy", "41 Baggot Street", "Dublin", "D02 X285", "IE"),
                      ("Leo Rossi", "Via Roma 15", "Milano", "20121", "IT")]
        let services = ["standard", "standard", "standard", "express", "next-day"]
        var unknownOrders: [String] = []
        var badPostcode: [String] = []
        var missingPostcode: [String] = []
        var batches: [[[String]]] = [[], []]
        let base = day.addingTimeInterval(6 * 3600)  // orders placed from 06:00
        for n in 0..<orders {
            let number = "WEB-\(200_001 + n)"
            let person = pick(people)
            var postcode = person.3
            var lines: [(String, Int)] = []
            let lineCount = 1 + Int(next() % 3)
            for _ in 0..<lineCount {
                let sku = pick(sellable)
                if !lines.contains(where: { $0.0 == sku }) { lines.append((sku, 1 + Int(next() % 2))) }
            }
            if n % 331 == 17 && unknownOrders.count < unknownSKUOrders {
                lines[0].0 = "LEGACY-\(lines[0].0)"  // a renamed SKU the warehouse never received
                unknownOrders.append(number)
            } else if n % 97 == 41 && badPostcode.count < badPostcodeOrders {
                postcode = person.4 == "GB" ? "LS6" : "ABC"
                badPostcode.append(number)
            } else if n % 401 == 99 && missingPostcode.count < missingPostcodeOrders {
                postcode = ""
                missingPostcode.append(number)
            } else if n % 149 == 3 && n % 2 == 1 {
                // An order containing one of the never-sent products.
                lines.append((pick(broken), 1))
                unknownOrders.append(number)
            }
            let created = base.addingTimeInterval(Double(n) * 20)
            let iso = UTCTime.iso8601(created)
            let gift = n % 23 == 0 ? "Happy birthday, love from us all" : ""
            let instructions = n % 17 == 0 ? "Leave with the neighbour at no. 12" : ""
            var total = Decimal(0)
            for (sku, qty) in lines { total += (Decimal(string: prices[sku] ?? "0") ?? 0) * Decimal(qty) }
            for (sku, qty) in lines {
                batches[n < orders / 2 ? 0 : 1].append([
                    number, number, "paid", iso, "customer\(n)@example.com", "+44 7700 900\(String(format: "%03d", n % 1000))",
                    person.0, "", person.1, "", person.2, "", postcode, person.4, pick(services), "3.95", "\(total)", "",
                    sku, String(qty), prices[sku] ?? "0.00", gift, instructions,
                ])
            }
        }
        // One order exported twice: it appears again in the afternoon file.
        let duplicate = batches[0].first![0]
        batches[1] += batches[0].filter { $0[0] == duplicate }
        let contents = Contents(skus: skus, brokenItems: broken, unknownSKUOrders: unknownOrders,
                                badPostcodeOrders: badPostcode, missingPostcodeOrders: missingPostcode,
                                duplicateOrder: duplicate)
        return (contents, batches)
    }

    /// The header of the orders files the demo writes.
    public static let orderHeader = FileStorefront.orderColumns + ["gift_message", "delivery_instructions"]

    /// Writes an orders file into the storefront's `orders/` folder.
    public static func writeOrders(_ rows: [[String]], named name: String, storefrontFolder: String) throws {
        try FileManager.default.createDirectory(atPath: storefrontFolder + "/orders", withIntermediateDirectories: true)
        try writeCSV(storefrontFolder + "/orders/" + name, orderHeader, rows)
    }
}

func writeCSV(_ path: String, _ header: [String], _ rows: [[String]]) throws {
    let sink = try FileDescriptorSink(path: path)
    // Shop exports are written as shops write them: verbatim (voxbatch's own exports guard formulas).
    let writer = CSVWriter(sink: sink, lineEnding: .lf, guardsFormulas: false)
    try writer.write(record: header)
    for row in rows { try writer.write(record: row) }
    try writer.flush()
    try sink.sync()
}
