@testable import BatchJobs
import CSVKit
import Foundation
import Testing

/// The plain-file storefront's orders kept in a temporary file (``OrderStore``): what goes in comes back, changed
/// orders keep their changes after they leave the cache, and numbers whose hashes collide are told apart.
@Suite struct OrderStoreTests {
    /// A folder of the test's own, removed after it.
    final class Folder {
        let path = NSTemporaryDirectory() + "voxbatch-orderstore-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// An order with every field set, texts of its own (multi-byte, long enough to be kept on the heap).
    static func order(_ n: Int, lines: Int = 3, status: String = "paid") -> StorefrontOrder {
        var order = StorefrontOrder(
            id: "id-\(n)", number: "WEB-\(n)", status: status, createdAt: "2026-11-\(n % 28 + 1)T10:00:00Z",
            email: "kunde.\(n)@example.de", phone: "+49 30 \(n)",
            shipping: Address(name: "Jürgen Weiß \(n)", company: n % 2 == 0 ? "" : "Größe & Söhne GmbH",
                              line1: "Straße \(n)", line2: "Hinterhaus", city: "Köln", region: "NRW",
                              postcode: "5066\(n % 10)", country: "DE"),
            service: "express", shippingCost: "4.95", total: "\(n).00", customerNote: "bitte klingeln ☎ \(n)",
            fields: ["gift_message": "Alles Gute \(n)", "channel": "web"],
            lines: (0..<lines).map { StorefrontOrder.Line(sku: "SKU-\(n)-\($0)", quantity: $0 + 1, price: "12.50") })
        order.currency = "EUR"
        return order
    }

    /// Thousands of orders (the buffer written to the file several times over, orders larger than a read block and
    /// than 1 MiB), read back in a shuffled order: each equal to what went in; a number never added is not found.
    @Test func ordersComeBackAsTheyWentIn() throws {
        let dir = try Folder()
        let store = try OrderStore(temporaryDirectory: dir.path)
        var expected: [StorefrontOrder] = []
        for n in 0..<6_000 {
            // Records larger than half a read block (order 7, ~20 KB; order 11, ~140 KB) and one of more than 1 MiB,
            // whose length is read before it (order 13).
            var order = Self.order(n, lines: [7: 300, 11: 2_000, 13: 30_000][n] ?? 3)
            if n % 5 == 0 { order.fulfilmentIDs = ["DSP-\(n)/SKU-\(n)-0"] }
            if n % 7 == 0 { order.refundIDs = ["RMA-\(n)/SKU-\(n)-1"] }
            order.lines[0].fulfilled = n % 3
            order.lines[0].refunded = n % 2
            expected.append(order)
            try store.add(order, file: 0)
        }
        #expect(store.count == 6_000)
        for k in 0..<6_000 {  // every order once, out of order (4007 and 6000 have no common factor)
            let n = k * 4_007 % 6_000
            #expect(try store.order("WEB-\(n)") == expected[n])
        }
        #expect(try store.order("WEB-6000") == nil)
        #expect(try store.withOrder("nope") { _ in true } == nil)
    }

    /// Changes made through ``OrderStore/modify(_:_:)`` are kept when the order leaves the cache and is read back
    /// from its new record; orders not changed are as they were.
    @Test func changedOrdersKeepTheirChangesAfterLeavingTheCache() throws {
        let dir = try Folder()
        let store = try OrderStore(temporaryDirectory: dir.path)
        for n in 0..<2_000 { try store.add(Self.order(n), file: 0) }
        for n in stride(from: 0, to: 2_000, by: 2) {
            try store.modify("WEB-\(n)") { order in
                order.lines[1].fulfilled += 2
                order.fulfilmentIDs.insert("DSP-\(n)/SKU-\(n)-1")
                order.status = "completed"
            }
        }
        for n in 0..<2_000 {  // every order, so the changed ones have long left the cache of 128
            var want = Self.order(n)
            if n % 2 == 0 {
                want.lines[1].fulfilled = 2
                want.fulfilmentIDs = ["DSP-\(n)/SKU-\(n)-1"]
                want.status = "completed"
            }
            #expect(try store.order("WEB-\(n)") == want)
        }
        // Changed again, twice over, after being written out once.
        try store.modify("WEB-0") { $0.lines[1].fulfilled += 1 }
        for n in 1..<400 { _ = try store.order("WEB-\(n)") }
        #expect(try store.order("WEB-0")?.lines[1].fulfilled == 3)
    }

    /// An order in a later file replaces the earlier one in its place; one whose rows are apart in a file is put
    /// back together; the sequence is the order first seen, each in its latest version.
    @Test func laterVersionsReplaceAndSplitRowsJoin() throws {
        let dir = try Folder()
        let store = try OrderStore(temporaryDirectory: dir.path)
        try store.add(Self.order(1), file: 0)
        try store.add(Self.order(2), file: 0)
        try store.add(Self.order(1, lines: 1, status: "cancelled"), file: 1)
        try store.add(Self.order(3, lines: 1), file: 1)
        try store.add(Self.order(4), file: 1)
        var more = Self.order(3, lines: 3)
        more.lines.removeFirst()  // the rest of order 3's rows, further down the same file
        try store.add(more, file: 1)
        for n in 5..<300 { try store.add(Self.order(n), file: 1) }  // 1 to 4 leave the cache
        var sequence: [StorefrontOrder] = []
        try store.forEachInSequence { sequence.append($0) }
        #expect(sequence.count == 299)
        #expect(Array(sequence.prefix(4)) == [Self.order(1, lines: 1, status: "cancelled"), Self.order(2),
                                              Self.order(3, lines: 3), Self.order(4)])
        #expect(sequence.map(\.number) == (1..<300).map { "WEB-\($0)" })
    }

    /// Every number with the same hash (one slot, the same tag), then hashes that share a tag but not a slot: each
    /// order is found by its own number, changed ones keep their changes, an unknown number is not found.
    @Test(arguments: [true, false])
    func numbersWhoseHashesCollideAreToldApart(wholeHash: Bool) throws {
        let dir = try Folder()
        let store = try OrderStore(temporaryDirectory: dir.path, hash: { number in
            wholeHash ? 42 : KeyHash.of(number) & ~0xFF_FFFF | 0xAB_CDEF  // the slot's bits differ, the tag's do not
        })
        for n in 0..<400 { try store.add(Self.order(n), file: 0) }
        try store.add(Self.order(5, lines: 1), file: 1)  // a later version, found among the others
        try store.modify("WEB-9") { $0.lines[0].fulfilled = 1 }
        for n in (0..<400).reversed() {
            var want = Self.order(n, lines: n == 5 ? 1 : 3)
            if n == 9 { want.lines[0].fulfilled = 1 }
            #expect(try store.order("WEB-\(n)") == want)
        }
        #expect(try store.order("WEB-400") == nil)
        #expect(store.count == 400)
    }

    /// Export files read straight into records (``OrderStore/addGroups(ofCSV:file:)``) give the same orders as each
    /// group made an order and added: ids missing, spaces around values, quoted commas and line breaks, columns of
    /// the shop's own, empty values, a quantity that is not a number, rows of an order apart in a file, a later file's
    /// version, and a file without the optional columns.
    @Test func filesReadIntoRecordsGiveTheSameOrdersAsOrdersAdded() throws {
        let dir = try Folder()
        let header = "order_id,order_number,status,created_at,email,name,address1,city,postcode,country,sku,quantity,"
            + "price,gift_message,channel\n"
        let first = header
            + "A1,WEB-1,paid,2026-11-01T10:00:00Z, jo@example.com ,Jo Bloggs,\"1 High St, Flat 2\",Leeds,LS1 1AA,GB,TSH-M,2,12.50,\"Happy\nbirthday\",web\n"
            + ",WEB-1,paid,2026-11-01T10:00:00Z,jo@example.com,Jo Bloggs,1 High St,Leeds,LS1 1AA,GB,HOD-L,x,30.00,,web\n"
            + ",WEB-2,paid,2026-11-02T10:00:00Z,al@example.com,Al Ng,2 Low Rd,York,YO1 1AA,GB,TSH-M,1,12.50,,\n"
            + "A3,WEB-3,paid,2026-11-03T10:00:00Z,mo@example.com,Mo Öz,3 Brücke,Köln,50667,DE,CAP,1,9.00,,shop\n"
            + "A1,WEB-1,paid,2026-11-01T10:00:00Z,jo@example.com,Jo Bloggs,1 High St,Leeds,LS1 1AA,GB,SCK-S, 3 ,4.00,,web\n"
            + ",,paid,2026-11-04T10:00:00Z,nobody@example.com,No Number,,,,,TSH-M,1,12.50,,web\n"
        let second = "order_number,status,sku,quantity\n"
            + "WEB-2,cancelled,TSH-M,1\n"
            + "WEB-4,paid,HOD-L,1\n"
        try first.write(toFile: dir.path + "/1.csv", atomically: true, encoding: .utf8)
        try second.write(toFile: dir.path + "/2.csv", atomically: true, encoding: .utf8)
        let direct = try OrderStore(temporaryDirectory: dir.path), added = try OrderStore(temporaryDirectory: dir.path)
        for (f, name) in ["1.csv", "2.csv"].enumerated() {
            try direct.addGroups(ofCSV: dir.path + "/" + name, file: f)
            try OrderExports.forEachGroup(in: dir.path + "/" + name) { order, _ in try added.add(order, file: f) }
        }
        var fromRecords: [StorefrontOrder] = [], fromOrders: [StorefrontOrder] = []
        try direct.forEachInSequence { fromRecords.append($0) }
        try added.forEachInSequence { fromOrders.append($0) }
        #expect(fromRecords == fromOrders)
        #expect(fromRecords.map(\.number) == ["WEB-1", "WEB-2", "WEB-3", "WEB-4"])
        let web1 = try #require(try direct.order("WEB-1"))
        #expect(web1.id == "A1" && web1.email == "jo@example.com" && web1.shipping.line1 == "1 High St, Flat 2")
        #expect(web1.lines.map(\.sku) == ["TSH-M", "HOD-L", "SCK-S"] && web1.lines.map(\.quantity) == [2, 0, 3])
        #expect(web1.fields == ["gift_message": "Happy\nbirthday", "channel": "web"])
        #expect(try direct.order("WEB-2")?.status == "cancelled" && direct.order("WEB-2")?.id == "WEB-2")
    }

    /// A work folder where no file can be made: a named error, naming the folder.
    @Test func aFolderWhereNoFileCanBeMadeIsANamedError() throws {
        let dir = try Folder()
        FileManager.default.createFile(atPath: dir.path + "/file", contents: Data())
        do {
            _ = try OrderStore(temporaryDirectory: dir.path + "/file/orders")
            Issue.record("a store was made under a file")
        } catch let error as OrderStoreError {
            #expect(error.errno == ENOTDIR)
            #expect(error.description == "cannot keep the shop's orders for look-ups in \(dir.path)/file/orders: Not a directory")
        }
    }
}

/// The plain-file storefront's journals write a row's fields packed, then as a packed record: the bytes are those of
/// writing each field, whatever the values hold.
@Suite struct CSVJournalTests {
    @Test func rowsWrittenPackedAreTheBytesOfWritingEachField() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let header = ["id", "carrier", "quantity", "note"]
        let journal = CSVJournal(path: folder + "/journal.csv", header: header)
        // Plain values, and ones that need quotes, start like a formula (journals are not guarded), hold a packing
        // separator or another control character, or are negative or long.
        let values: [(String, String, Int, String)] = [
            ("A/1", "DPD", 1, "2026-12-06T10:00:00Z"), ("A/2", "Royal Mail, Tracked", -3, "say \"hi\""),
            ("A/3", "=DPD", 12, "two\nlines"), ("A/4", "unit\u{1F}sep", 0, "row\u{1E}sep"), ("A/5", "bell\u{07}", 7, ""),
            ("A/6", String(repeating: "long", count: 20), 1_234_567, "-5"), ("", "", 0, ""),
        ]
        let expected = MemorySink()
        let writer = CSVWriter(sink: expected, lineEnding: .lf, guardsFormulas: false)
        try writer.write(record: header)
        for (id, carrier, quantity, note) in values {
            var id = id
            try journal.append { row in
                try id.withUTF8 { try row.write(fieldBytes: $0) }
                try row.write(field: carrier)
                try row.write(integer: quantity)
                try row.write(field: note)
            }
            try writer.write(record: [id, carrier, String(quantity), note])
        }
        try journal.flush()
        try writer.flush()
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/journal.csv"))) == expected.bytes)
        var carriers: [String] = []
        try journal.forEachRow(columns: ["carrier"]) { carriers.append($0[0] ?? "?") }
        #expect(carriers == values.map(\.1))
    }

    /// A journal is read row by row by column name: a file whose columns are in another order, or that lacks one
    /// (written by another version), gives the values by name and `nil` for the missing column.
    @Test func aJournalIsReadByColumnNameWhateverItsOrder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "quantity,id\n3,A/1\n,A/2\n".write(toFile: folder + "/journal.csv", atomically: true, encoding: .utf8)
        let journal = CSVJournal(path: folder + "/journal.csv", header: ["id", "carrier", "quantity"])
        var rows: [[String?]] = []
        try journal.forEachRow(columns: ["id", "quantity", "carrier"]) { rows.append([$0[0], $0[1], $0[2]]) }
        #expect(rows == [["A/1", "3", nil], ["A/2", "", nil]])
    }
}
