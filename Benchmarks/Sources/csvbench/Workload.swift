import CSVKit
import Foundation

/// The benchmark file: sales-order-like rows with 20 columns, some quoted fields with commas, quotes
/// and newlines, generated deterministically so every run reads the same bytes.
enum Workload {
    static let header = [
        "SalesOrderNumber", "Customer", "Email", "ShippingAddressLine1", "ShippingAddressLine2",
        "ShippingAddressCity", "ShippingAddressRegion", "ShippingAddressPostcode", "ShippingAddressCountry", "Phone",
        "CreatedDate", "ServiceType", "ChannelName", "GiftMessage", "ItemCode", "QuantityOrdered", "Line",
        "SalePrice", "TotalSale", "TaxPaid",
    ]

    /// The 20-column template the parse + validate figure uses.
    static let template = CSVTemplate(
        name: "bench-sales-orders",
        columns: [
            ColumnRule("SalesOrderNumber", required: true, maxLength: 20),
            ColumnRule("Customer", required: true, maxLength: 100),
            ColumnRule("Email", .email, required: true, maxLength: 254),
            ColumnRule("ShippingAddressLine1", required: true, maxLength: 100),
            ColumnRule("ShippingAddressLine2", maxLength: 100),
            ColumnRule("ShippingAddressCity", required: true, maxLength: 60),
            ColumnRule("ShippingAddressRegion", maxLength: 60),
            ColumnRule("ShippingAddressPostcode", .postcode(countryColumn: "ShippingAddressCountry"), required: true),
            ColumnRule("ShippingAddressCountry", .enumeration(values: ["GB", "DE", "FR", "NL", "IE"]), required: true),
            ColumnRule("Phone", maxLength: 30),
            ColumnRule("CreatedDate", .date(formats: ["dd/MM/yyyy HH:mm"]), required: true),
            ColumnRule("ServiceType", .enumeration(values: ["Standard", "Express", "NextDay"])),
            ColumnRule("ChannelName", maxLength: 50),
            ColumnRule("GiftMessage", maxLength: 500),
            ColumnRule("ItemCode", required: true, maxLength: 50),
            ColumnRule("QuantityOrdered", .integer(min: 1), required: true),
            ColumnRule("Line", .integer(min: 1)),
            ColumnRule("SalePrice", .decimal(scale: 2, min: 0)),
            ColumnRule("TotalSale", .decimal(scale: 2, min: 0)),
            ColumnRule("TaxPaid", .decimal(scale: 2, min: 0)),
        ]
    )

    /// Writes about `megabytes` MB of rows to `path`.
    static func generate(path: String, megabytes: Int) throws {
        let sink = try FileDescriptorSink(path: path)
        let writer = CSVWriter(sink: sink, guardsFormulas: false)
        try writer.write(record: header)
        var rng = SplitMix(seed: 2026)
        let target = megabytes * 1_000_000
        var written = 0
        var order = 100_000
        let names = ["Amelia Hughes", "Jonas Weber", "Sophie Martin", "Daan de Vries", "Olivia Bennett", "Liam O'Brien"]
        let streets = ["14 Wellington Road", "Schönhauser Allee 112", "27 rue des Lilas", "Prinsengracht 263",
                       "Unit 4, Riverside Park", "12 Quay Street"]
        let places: [(String, String, String)] = [("Manchester", "M14 6HR", "GB"), ("Berlin", "10439", "DE"),
                                                  ("Lyon", "69003", "FR"), ("Amsterdam", "1016 GV", "NL"),
                                                  ("Leeds", "LS10 1RD", "GB"), ("Galway", "H91 E2K0", "IE")]
        let gifts = ["", "", "", "", "", "", "Happy birthday, Lena!", "Say \"hi\" to Tom", "Line one\nLine two",
                     "With love, from all of us"]
        var record: [String] = Array(repeating: "", count: 20)
        while written < target {
            order += 1
            let lines = 1 + Int(rng.next() % 4)
            let who = Int(rng.next() % UInt64(names.count))
            let place = places[Int(rng.next() % UInt64(places.count))]
            for line in 1...lines {
                let price = Double(rng.next() % 20_000) / 100
                let qty = 1 + Int(rng.next() % 3)
                record[0] = "WEB-\(order)"
                record[1] = names[who]
                record[2] = "customer\(order)@example.com"
                record[3] = streets[who]
                record[4] = rng.next() % 3 == 0 ? "Flat \(rng.next() % 40 + 1)" : ""
                record[5] = place.0
                record[6] = ""
                record[7] = place.1
                record[8] = place.2
                record[9] = "+44 7700 \(900_000 + Int(rng.next() % 99_999))"
                record[10] = String(format: "%02d/11/2026 %02d:%02d", 1 + Int(rng.next() % 28), Int(rng.next() % 24),
                                    Int(rng.next() % 60))
                record[11] = ["Standard", "Express", "NextDay"][Int(rng.next() % 3)]
                record[12] = "webshop"
                record[13] = gifts[Int(rng.next() % UInt64(gifts.count))]
                record[14] = "SKU-\(10_000 + Int(rng.next() % 5_000))-\(["S", "M", "L"][Int(rng.next() % 3)])"
                record[15] = String(qty)
                record[16] = String(line)
                record[17] = String(format: "%.2f", price)
                record[18] = String(format: "%.2f", price * Double(qty))
                record[19] = String(format: "%.2f", price * Double(qty) / 6)
                try writer.write(record: record)
                written += record.reduce(21) { $0 + $1.utf8.count }
            }
        }
        try writer.flush()
    }
}

/// A small deterministic random number generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
