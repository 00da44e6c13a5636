import Foundation
import Testing

@Suite struct ValidateCommandTests {
    @Test func validSampleExitsZeroWithSummary() throws {
        let r = try CLI.run(["validate", "samples/peoplevox/sales-orders.csv", "--template", "sales-orders"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("6 rows, 6 valid, 0 invalid"))
    }

    @Test func sampleWithMistakesExitsOneAndWritesFixableErrorReport() throws {
        let dir = try CLI.temporaryDirectory()
        let report = dir.appendingPathComponent("errors.csv").path
        let r = try CLI.run(["validate", "samples/peoplevox/sales-orders-with-mistakes.csv",
                             "--template", "peoplevox-sales-orders", "--errors", report])
        #expect(r.status == 1)
        #expect(r.stdout.contains("9 rows, 1 valid, 8 invalid"))
        let text = try String(contentsOfFile: report, encoding: .utf8)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("error_row,error_line,error_column,error_value,error_rule,error_message,SalesOrderNumber,"))
        #expect(lines.contains { $0.hasPrefix("1,2,ShippingAddressPostcode,,required,a value is required,WEB-100231,") })
        #expect(text.contains("field-count"))
        #expect(text.contains("unexpected-quote"))
    }

    @Test func jsonSummaryIsMachineReadable() throws {
        let r = try CLI.run(["validate", "samples/peoplevox/despatches-with-mistakes.csv", "--template", "despatches",
                             "--json"])
        #expect(r.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let summary = object?["summary"] as? [String: Any]
        #expect(summary?["rows"] as? Int == 5)
        #expect(summary?["invalid"] as? Int == 4)
        let counts = summary?["problemCounts"] as? [String: Int]
        #expect(counts?["integer"] == 2)
        #expect(counts?["required"] == 1)
        #expect(counts?["date"] == 1)
    }

    @Test func windows1252SemicolonFileIsReadWithItsAccents() throws {
        let r = try CLI.run(["validate", "samples/peoplevox/stock-with-mistakes-cp1252.csv", "--template", "stock",
                             "--delimiter", ";", "--json"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("\"encoding\" : \"windows-1252\""))
        #expect(r.stdout.contains("\"invalid\" : 3"))
    }

    @Test func yamlTemplateFileIsAccepted() throws {
        let dir = try CLI.temporaryDirectory()
        let file = dir.appendingPathComponent("acme.csv")
        try "Order;Parcel;Carrier;Shipped;Tracking;SKU;Qty\r\nWEB-1;P1;DPD;25/11/2026 14:00;1550;TSH-1;2\r\nWEB-1;P1;Hermes;25/11/2026 14:00;1550;TSH-2;1\r\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["validate", file.path, "--template", "samples/templates/despatches-3pl-acme.yml",
                             "--delimiter", ";"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("2 rows, 1 valid, 1 invalid"))
        #expect(r.stdout.contains("Carrier: is not one of: Royal Mail, DPD, DHL Parcel, Evri"))
    }

    @Test func usageErrorsExitTwoWithAClearMessage() throws {
        let unknown = try CLI.run(["validate", "samples/peoplevox/stock.csv", "--template", "nope"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown template \"nope\""))
        let missing = try CLI.run(["validate", "/no/such/file.csv", "--template", "stock"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot open /no/such/file.csv"))
        let delimiter = try CLI.run(["validate", "samples/peoplevox/stock.csv", "--template", "stock",
                                     "--delimiter", "::"])
        #expect(delimiter.status == 2)
        #expect(delimiter.stderr.contains("--delimiter"))
    }

    @Test func everySubcommandHasHelp() throws {
        // Walk the whole command tree from the root's SUBCOMMANDS lists.
        var pending: [[String]] = [[]]
        var seen = 0
        while let path = pending.popLast() {
            let r = try CLI.run(path + ["--help"])
            #expect(r.status == 0, "\(path)")
            #expect(r.stdout.contains("USAGE"), "\(path)")
            seen += 1
            guard let range = r.stdout.range(of: "SUBCOMMANDS:") else { continue }
            // A subcommand line: two spaces, a lower-case name, then spaces (wrapped text is indented further).
            for line in r.stdout[range.upperBound...].split(separator: "\n") where line.hasPrefix("  ") && !line.hasPrefix("   ") {
                let name = line.dropFirst(2).prefix { $0.isLowercase || $0 == "-" }
                guard !name.isEmpty, name != "help", line.dropFirst(2 + name.count).first == " " else { continue }
                pending.append(path + [String(name)])
            }
        }
        #expect(seen >= 30)
        #expect(try CLI.run(["--help"]).stdout.contains("4  another run holds the lock"))
    }
}

@Suite struct CSVShowCommandTests {
    @Test func printsOneJSONObjectPerRecordKeyedByHeader() throws {
        let r = try CLI.run(["csv", "show", "samples/peoplevox/sales-orders.csv", "--limit", "6"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 6)
        let last = try JSONSerialization.jsonObject(with: Data(lines[5].utf8)) as? [String: String]
        #expect(last?["SalesOrderAttribute2"] == "Deliver to reception, 9-5 only\nAsk for Goods-In")
        #expect(lines[0].hasPrefix("{\"SalesOrderNumber\":\"WEB-100231\",\"Customer\":\"Amelia Hughes\""))
    }

    @Test func noHeaderPrintsArraysAndMalformedRecordsGoToStderr() throws {
        let r = try CLI.run(["csv", "show", "samples/peoplevox/sales-orders-with-mistakes.csv", "--no-header"])
        #expect(r.status == 1)
        #expect(r.stdout.split(separator: "\n").first?.hasPrefix("[\"SalesOrderNumber\",\"Customer\"") == true)
        #expect(r.stderr.contains("line 12, record 10, field 2: a quote inside an unquoted field"))
    }
}
