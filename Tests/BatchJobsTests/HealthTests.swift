@testable import BatchJobs
import Foundation
import TestSupport
import Testing

/// `status`, alerts and the report judge ages (a file waiting, the last stock file, orders past the SLA)
/// and windows (the chart's days) on the runner's clock: the same day's events give the same verdict
/// whatever the real date.
@Suite struct HealthTests {
    /// One order despatched, one not, a stock file: everything sent on the fixture's morning.
    func morning(_ epoch: Epoch) throws -> FlowFixture {
        let f = try FlowFixture(epoch: epoch)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)]), .init(number: "WEB-2", lines: [("TSH-M", 1)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        return f
    }

    @Test(arguments: Epoch.allCases)
    func agesAreJudgedOnTheRunnersClock(epoch: Epoch) throws {
        let f = try morning(epoch)
        var health = try f.runner().health()
        #expect(health.problems == [] && health.healthy)
        #expect(health.checkedAt == UTC.iso(f.now))
        #expect(health.lastStockFile == "STOCK_1.csv" && health.lastStockFileAgeHours == 0)
        #expect(health.jobs.first { $0.job == "export-orders" }?.lastRun == UTC.iso(f.now))

        // A despatch file arrives at 09:00 and is not read: fine for its first hour, a problem after it.
        f.now += 3600
        try f.fromWarehouse("DESP_1.csv", despatchColumns + f.despatch("WEB-1", "DSP-1", "TSH-M", 1))
        f.now += 30 * 60
        health = try f.runner().health()
        #expect(health.filesWaiting == [.init(name: "DESP_1.csv", ageMinutes: 30)] && health.healthy)
        f.now += 90 * 60
        health = try f.runner().health()
        #expect(health.problems == ["DESP_1.csv has waited unread for 120 min (limit 60 min)"])
        try f.run(.importDespatches)
        #expect(try f.runner().health().healthy)

        // 25 h after the stock file: stale. 49 h after the export: WEB-2 (never despatched) is past the SLA.
        f.now = epoch.start.addingTimeInterval(25 * 3600)
        health = try f.runner().health()
        #expect(health.problems == ["the last stock file (STOCK_1.csv) is 25 h old (limit 24 h)"])
        #expect(health.lastStockFileAgeHours == 25)
        f.now = epoch.start.addingTimeInterval(49 * 3600)
        health = try f.runner().health()
        #expect(health.ordersPastSLA == ["WEB-2"])
        #expect(health.problems == ["1 order(s) past the 48 h SLA",
                                    "the last stock file (STOCK_1.csv) is 49 h old (limit 24 h)"])
    }

    @Test(arguments: Epoch.allCases)
    func theReportCoversTheDaysBeforeTheRunnersClock(epoch: Epoch) throws {
        let f = try morning(epoch)
        f.now += 2 * 86_400  // Wednesday morning: Monday's runs are in the 7-day chart, on Monday's bar
        let page = try HTMLReport(runner: try f.runner(), days: 7).render()
        #expect(page.contains("checked \(UTC.iso(f.now))"))
        #expect(page.contains("orders out (2)"))
        #expect(page.contains(">\(UTC.format(epoch.start, "EEE d"))</text>"))
        #expect(page.contains(">\(UTC.format(f.now, "EEE d"))</text>"))
        // Ten days later the same runs have left the window.
        f.now += 10 * 86_400
        #expect(try HTMLReport(runner: try f.runner(), days: 7).render().contains("orders out (0)"))
    }

    @Test(arguments: Epoch.allCases)
    func healthIsExposedAsPrometheusTextOnTheRunnersClock(epoch: Epoch) throws {
        let f = try FlowFixture(epoch: epoch)
        try f.products(["TSH-M"])
        try f.orders("a.csv", [.init(number: "WEB-1", lines: [("TSH-M", 1)]), .init(number: "WEB-2", lines: [("NEW-9", 1)])])
        try f.stockFile("STOCK_1.csv", [("TSH-M", 50)])
        try f.run(.importStock)
        try f.run(.exportOrders)
        f.now += 2 * 3600
        var report = try f.runner().health()
        report.client = "shop \"north\""  // a label value that needs escaping
        let text = PrometheusMetrics.render([report])
        let sample = #/^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\} -?[0-9.e+]+$/#
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.wholeMatch(of: sample) != nil, "not exposition format: \(line)")
        }
        let client = #"client="shop \"north\"""#
        #expect(text.contains("voxbatch_healthy{\(client)} 0\n"))
        #expect(text.contains("voxbatch_open_exceptions{\(client),kind=\"unknown-sku\"} 1\n"))
        #expect(text.contains("voxbatch_job_last_run_timestamp_seconds{\(client),job=\"export-orders\"} "
                              + "\(Int(epoch.start.timeIntervalSince1970))\n"))
        #expect(text.contains("voxbatch_job_last_run_rows{\(client),job=\"export-orders\",result=\"applied\"} 1\n"))
        #expect(text.contains("voxbatch_stock_file_age_seconds{\(client)} 7200\n"))
        #expect(text.contains("# TYPE voxbatch_orders_past_sla gauge\n"))
    }
}
