import FileTransport
import Foundation
import Logging

/// `voxbatch demo`: a day (and the next morning) of a shop and its warehouse on the embedded default —
/// a local exchange folder, the plain-file storefront and the warehouse simulator — with every job run
/// in the order a day runs them, ending in a short report.
public struct Demo {
    /// Where the demo's exchange, shop and state live.
    public var folder: String
    public var shop = DemoShop()
    public var logger = Logger(label: "voxbatch.demo")

    public init(folder: String) {
        self.folder = folder
    }

    /// What the demo did.
    public struct Report: Sendable, Hashable, Codable {
        public var folder = ""
        public var products = 0
        public var ordersInShop = 0
        public var ordersSent = 0
        public var salesOrderFiles = 0
        public var ordersDespatched = 0
        public var ordersPartlyDespatched = 0
        public var packages = 0
        public var ordersCompleted = 0
        public var stockUpdatesApplied = 0
        public var stockFiles = 0
        public var returnLinesRefunded = 0
        public var returnLinesWaiting = 0
        public var cancellationsWithheld = 0
        public var cancellationsRequested = 0
        public var cancellationsTooLate = 0
        public var duplicateOrderSentOnce = false
        /// Open exceptions by kind: how many, and one example message.
        public var exceptions: [String: Exception] = [:]
        public var seconds = 0.0

        public struct Exception: Sendable, Hashable, Codable {
            public var count: Int
            public var owner: String
            public var example: String
        }
    }

    final class Clock: @unchecked Sendable {
        var now: Date
        init(_ now: Date) { self.now = now }
    }

    /// Midnight (UTC) of the demo's first day: the latest one from which all its 33 hours are past, so
    /// that `status` and `report` right after the demo see a day that has just happened (the manifest
    /// keeps the jobs' simulated times).
    static func firstDay(now: Date) -> Date {
        Date(timeIntervalSince1970: ((now.timeIntervalSince1970 - 33 * 3600) / 86_400).rounded(.down) * 86_400)
    }

    /// Runs the whole day: the latest one all of whose 33 hours are past at `now`. `progress` receives one
    /// line per phase.
    public func run(now: Date, progress: (String) -> Void = { _ in }) throws -> Report {
        let stopwatch = Stopwatch()  // how long the demo took, for the summary
        let fm = FileManager.default
        for sub in ["exchange/in", "exchange/out", "exchange/archive", "exchange/error", "shop/orders"] {
            try fm.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
        }
        let configPath = folder + "/voxbatch.yml"
        try Self.configuration.write(toFile: configPath, atomically: true, encoding: .utf8)
        let configuration = try Configuration.load(path: configPath)
        let day = Self.firstDay(now: now)
        let (contents, batches) = try shop.generate(into: folder + "/shop", day: day)
        let clock = Clock(day.addingTimeInterval(7 * 3600))
        let simulator = try WarehouseSimulator(exchange: folder + "/exchange")

        var runner = try JobRunner(configuration: configuration, logger: logger, clock: { clock.now })
        func run(_ jobs: JobName...) throws {
            for job in jobs { _ = try runner.run(job) }
        }
        func at(_ hour: Double, _ what: String) {
            clock.now = day.addingTimeInterval(hour * 3600)
            let c = WallTime(Int(clock.now.timeIntervalSince1970.rounded(.down)))  // the demo runs in UTC
            let weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][c.weekday]
            progress(String(format: "%@ %02d:%02d  %@", weekday, c.hour, c.minute, what))
        }

        at(7, "morning orders arrive; items, stock and orders go to the warehouse")
        try DemoShop.writeOrders(batches[0], named: "01-morning.csv", storefrontFolder: folder + "/shop")
        runner = try JobRunner(configuration: configuration, logger: logger, clock: { clock.now })
        try run(.exportItems)
        try simulator.step(now: clock.now)
        try run(.importStock, .exportOrders)

        at(9, "the warehouse starts picking")
        try simulator.step(now: clock.now)
        try run(.importOrderStatus, .importDespatches)

        at(10, "afternoon orders arrive; customers cancel a few orders")
        let sent = Set(try runner.manifest.appliedRecords(flow: ExportOrdersFlow.flowName).map(\.key))
        var cancel: [String] = []
        var wantNew = 4, wantPicking = 4
        for row in batches[0] where sent.contains(row[0]) && !cancel.contains(row[0]) {
            let state = simulator.orderState(row[0])
            if state == "New" && wantNew > 0 { cancel.append(row[0]); wantNew -= 1 }
            else if state == "Picking" && wantPicking > 0 { cancel.append(row[0]); wantPicking -= 1 }
        }
        var afternoonNumbers: [String] = []
        for row in batches[1] where !afternoonNumbers.contains(row[0]) && row[0] != contents.duplicateOrder {
            afternoonNumbers.append(row[0])
            if afternoonNumbers.count == 4 { break }
        }
        cancel += afternoonNumbers
        let cancellations = (batches[0] + batches[1]).filter { cancel.contains($0[0]) }.map { row -> [String] in
            var row = row
            row[2] = "cancelled"
            return row
        }
        var seenCancel: Set<String> = []
        try DemoShop.writeOrders(batches[1], named: "02-afternoon.csv", storefrontFolder: folder + "/shop")
        try DemoShop.writeOrders(cancellations.filter { seenCancel.insert($0[0] + $0[18]).inserted },
                                 named: "03-cancellations.csv", storefrontFolder: folder + "/shop")
        runner = try JobRunner(configuration: configuration, logger: logger, clock: { clock.now })
        try run(.exportCancellations, .exportOrders)

        for (hour, label) in [(11.0, "despatches, returns and stock flow back"), (14, "more despatches"),
                              (17, "the last packages of the day leave"), (32, "next morning: the night's files"),
                              (33, "next morning: reconciliation")] {
            at(hour, label)
            try simulator.step(now: clock.now)
            try run(.importOrderStatus, .importDespatches, .importReturns, .importStock)
        }
        try run(.exportCancellations, .reconcile)
        return try report(runner: runner, contents: contents, stopwatch: stopwatch)
    }

    private func report(runner: JobRunner, contents: DemoShop.Contents, stopwatch: Stopwatch) throws -> Report {
        var r = Report()
        r.folder = folder
        r.products = contents.skus.count
        let manifest = runner.manifest
        let orders = try runner.storefront.orders(statuses: ["paid", "processing", "completed", "cancelled"])
        r.ordersInShop = orders.count
        r.ordersSent = try manifest.recordCount(flow: ExportOrdersFlow.flowName)
        r.salesOrderFiles = try manifest.files(flow: ExportOrdersFlow.flowName, limit: 100_000).count
        var packages: Set<String> = []
        for order in orders {
            let orderPackages = Set(order.fulfilmentIDs.map { $0.prefix { $0 != "/" } })
            if !orderPackages.isEmpty { r.ordersDespatched += 1 }
            if orderPackages.count > 1 { r.ordersPartlyDespatched += 1 }
            for p in orderPackages { packages.insert(order.number + "/" + p) }
            if order.status == "completed" { r.ordersCompleted += 1 }
            r.returnLinesRefunded += order.refundIDs.count
        }
        r.packages = packages.count
        let stockRuns = try manifest.recentRuns(job: "import-stock", limit: 1000)
        r.stockUpdatesApplied = stockRuns.reduce(0) { $0 + $1.applied }
        r.stockFiles = try manifest.files(flow: ImportStockFlow.flowName, limit: 100_000).count
        let returnRuns = try manifest.recentRuns(job: "import-returns", limit: 1000)
        let waiting = returnRuns.reduce(0) { $0 + $1.skipped }
        r.returnLinesWaiting = waiting
        for record in try manifest.appliedRecords(flow: ExportCancellationsFlow.flowName) {
            if record.hash == "withheld" { r.cancellationsWithheld += 1 } else { r.cancellationsRequested += 1 }
        }
        r.duplicateOrderSentOnce = try manifest.fileName(flow: ExportOrdersFlow.flowName,
                                                         recordKey: contents.duplicateOrder) != nil
        for e in try manifest.exceptions() {
            if e.kind == "cancel-too-late" { r.cancellationsTooLate += 1 }
            var entry = r.exceptions[e.kind] ?? Report.Exception(count: 0, owner: e.owner.rawValue, example: e.message)
            entry.count += 1
            r.exceptions[e.kind] = entry
        }
        r.seconds = stopwatch.seconds
        return r
    }

    /// The demo's configuration: the embedded default, with pickups that do not wait (the simulator
    /// publishes files atomically).
    static let configuration = """
        # Written by voxbatch demo: the embedded default (local exchange folder, plain-file storefront).
        client: demo-shop
        warehouse:
          url: file://exchange
          pickup:
            readiness: stable
            interval: 0
        storefront:
          type: file
          folder: shop
          ready_statuses: [paid]
        mappings:
          carriers:
            Royal Mail: royal-mail
            DPD: dpd
          extra_columns:
            SalesOrderAttribute1: gift_message
            SalesOrderAttribute2: delivery_instructions
        policies:
          stock_buffer: 2
          max_orders_per_file: 250
        retry:
          attempts: 2
          initial_delay: 0.1
          max_delay: 1
        state: state
        """
}
