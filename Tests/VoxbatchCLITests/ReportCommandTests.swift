import CSVKit
import Foundation
import TestSupport
import Testing

@Suite struct ReportCommandTests {
    @Test func theHTMLReportRendersInHeadlessChromiumWithoutErrors() throws {
        let folder = try CLI.temporaryDirectory().appendingPathComponent("demo")
        #expect(try CLI.run(["demo", "--folder", folder.path, "--orders", "300", "--json"]).status == 0)
        let config = folder.appendingPathComponent("voxbatch.yml").path
        let page = folder.appendingPathComponent("report.html")
        let r = try CLI.run(["report", "--config", config, "--html", page.path])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(!html.contains("<script"))
        #expect(!html.contains("src=\"http"))  // self-contained: no external assets

        let dom = folder.appendingPathComponent("dom.html").path
        let log = folder.appendingPathComponent("chromium.log").path
        let chromium = try ChildProcess(["/bin/sh", "-c",
            "chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 --dump-dom "
            + "'\(page.absoluteString)' > '\(dom)' 2> '\(log)'"])
        #expect(chromium.wait() == 0)
        let rendered = try String(contentsOfFile: dom, encoding: .utf8)
        #expect(rendered.contains("voxbatch — demo-shop"))
        #expect(rendered.contains("id=\"health\"") && rendered.contains("Needs attention"))
        #expect(rendered.contains("<svg id=\"chart\""))
        #expect(rendered.contains("invalid-address") && rendered.contains("Correct the address in the shop"))
        #expect(rendered.contains("id=\"files\"") && rendered.contains("STOCK_"))
        let messages = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(!messages.contains { $0.contains("CONSOLE") || $0.contains("Uncaught") || $0.contains("net::ERR") })
    }
}

@Suite struct FinanceCommandTests {
    /// Rows of the CSV files in `folder` whose names start with `prefix`.
    func rows(_ folder: String, _ prefix: String) throws -> [[String: String]] {
        var out: [[String: String]] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where name.hasPrefix(prefix) {
            let reader = try CSVReader(path: folder + "/" + name)
            while try reader.next() {
                var row: [String: String] = [:]
                for (i, c) in reader.header!.names.enumerated() where i < reader.fieldCount { row[c] = reader.field(i) }
                out.append(row)
            }
        }
        return out
    }

    @Test func theDemosDayMatchesItsOwnFiles() throws {
        let dir = try CLI.temporaryDirectory().appendingPathComponent("demo").path
        let env = ["VOXBATCH_NOW": "2026-11-30T08:00:00Z"]
        #expect(try CLI.run(["demo", "--folder", dir, "--orders", "30"], environment: env).status == 0)
        var sent = 0, despatched = 0, refunded = 0
        for day in ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"] {
            let r = try CLI.run(["finance", "--config", dir + "/voxbatch.yml", "--day", day, "--json"], environment: env)
            #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            for t in report["currencies"] as? [[String: Any]] ?? [] {
                sent += t["sentCents"] as? Int ?? 0
                despatched += t["despatchedCents"] as? Int ?? 0
                refunded += t["refundedCents"] as? Int ?? 0
            }
        }
        // The same figures from the files themselves: what went out at its price, what came back.
        let exchange = dir + "/exchange"
        let orders = try rows(exchange + "/in/processed", "SO_")
        var price: [String: Int] = [:]
        for row in orders { price[row["SalesOrderNumber"]! + "|" + row["ItemCode"]!] = Int((Double(row["SalePrice"]!)! * 100).rounded()) }
        let expectedSent = orders.reduce(0) { $0 + Int($1["QuantityOrdered"]!)! * price[$1["SalesOrderNumber"]! + "|" + $1["ItemCode"]!]! }
        let expectedDespatched = try rows(exchange + "/archive", "DESP_").reduce(0) {
            $0 + Int($1["No of items"]!)! * (price[$1["Salesorder number"]! + "|" + $1["Item code"]!] ?? 0)
        }
        let expectedRefunded = try rows(exchange + "/archive", "RET_").filter { ["Accepted", "Quarantined"].contains($0["Status"]!) }
            .reduce(0) { $0 + Int($1["Quantity"]!)! * (price[$1["Salesorder number"]! + "|" + $1["Item code"]!] ?? 0) }
        #expect(sent == expectedSent && sent > 0)
        #expect(despatched == expectedDespatched && despatched > 0)
        #expect(refunded == expectedRefunded)
        // The CSV for finance people, and the human table.
        let csv = dir + "/finance.csv"
        let r = try CLI.run(["finance", "--config", dir + "/voxbatch.yml", "--day", "2026-11-28", "--csv", csv], environment: env)
        #expect(r.stdout.contains("finance for 2026-11-28") && r.stdout.contains("currency  orders"))
        #expect(try String(contentsOfFile: csv, encoding: .utf8).hasPrefix("day,currency,orders_sent,sent,despatched,cancelled,refunded"))
        for bad in ["30/11/2026", "2026-02-30", "2026-1-30", "'2026-11-30'"] {  // the layout, and a real day
            #expect(try CLI.run(["finance", "--config", dir + "/voxbatch.yml", "--day", bad]).status == 2, "\(bad)")
        }
    }
}

@Suite struct ReportStatusJSONTests {
    @Test func theReportPrintsTheHealthItShowsWithStatusExitCode() throws {
        let (dir, config) = try CLI.starterWithStock(rows: 3)
        _ = dir
        let env = ["VOXBATCH_NOW": "2026-11-30T08:00:00Z"]
        let status = try CLI.run(["status", "--config", config, "--json"], environment: env)
        let page = try CLI.temporaryDirectory().appendingPathComponent("r.html").path
        let report = try CLI.run(["report", "--config", config, "--html", page, "--status-json"], environment: env)
        #expect(report.status == status.status, "\(report.stderr)")
        let a = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let b = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        #expect(a["healthy"] as? Bool == b["healthy"] as? Bool && a["client"] as? String == b["client"] as? String)
        #expect((a["problems"] as? [String]) == (b["problems"] as? [String]))
        #expect(FileManager.default.fileExists(atPath: page))
    }
}
