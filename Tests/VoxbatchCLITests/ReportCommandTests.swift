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
