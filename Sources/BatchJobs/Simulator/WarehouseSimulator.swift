import CSVKit
import Foundation

/// A stand-in for the Peoplevox side of a local exchange folder, for demos and for rehearsing a rollout.
///
/// Each ``step(now:)`` does what a warehouse does between two exchanges: imports the item-types, sales-order
/// and cancellation files dropped in `in/` (refusing orders with unknown item codes or a number it already
/// has, as Peoplevox does), moves orders received at least `delay` seconds earlier through picking to
/// despatch (some in two packages, the second a step later), takes returns of despatched orders, and writes
/// order-status, despatch, stock and returns files to `out/`. Its state lives in `.simulator/` inside the
/// exchange; it is deterministic for a given seed.
public final class WarehouseSimulator {
    /// What the simulator does in a step.
    public struct Settings: Sendable, Hashable {
        /// Orders younger than this many seconds are left alone.
        public var delay: Double = 0
        /// Share of waiting orders that start picking in a step.
        public var pickRate = 0.7
        /// Share of despatched multi-line orders that leave in two packages.
        public var splitRate = 0.15
        /// Share of despatched orders that come back.
        public var returnRate = 0.05
        /// Units on hand given to each new item.
        public var initialStock = 5...60
        public var seed: UInt64 = 42

        public init() {}
    }

    /// What one step did.
    public struct StepReport: Sendable, Hashable, Codable {
        public var itemsImported = 0
        public var ordersAccepted = 0
        public var ordersRefused: [String] = []
        public var cancelled = 0
        public var cancelRefused = 0
        public var packagesDespatched = 0
        public var returnLines = 0
        public var filesWritten: [String] = []
    }

    struct Order: Codable {
        var number: String
        var lines: [Line]
        var state: String
        var received: Double
        var stateChanged = true
        var secondPackage: [Line]?
        var returned = false
    }

    struct Line: Codable {
        var sku: String
        var quantity: Int
    }

    struct State: Codable {
        var onHand: [String: Int] = [:]
        var orders: [String: Order] = [:]
        var orderSequence: [String] = []
        var processedFiles: Set<String> = []
        var despatchCounter = 100_000
        var returnCounter = 50_000
        var rng = SplitMix64(seed: 0)
        var pendingReturns: [[String]] = []
        var steps = 0
    }

    public let exchange: String
    public var settings: Settings
    private var state: State
    private let statePath: String

    /// Opens the simulator over the exchange folder `exchange` (with `in/` and `out/`).
    public init(exchange: String, settings: Settings = Settings()) throws {
        self.exchange = exchange
        self.settings = settings
        for sub in ["in", "out", ".simulator"] {
            try FileManager.default.createDirectory(atPath: exchange + "/" + sub, withIntermediateDirectories: true)
        }
        statePath = exchange + "/.simulator/state.json"
        if let data = FileManager.default.contents(atPath: statePath) {
            state = try JSONDecoder().decode(State.self, from: data)
        } else {
            state = State()
            state.rng = SplitMix64(seed: settings.seed)
        }
    }

    /// One round of warehouse work at `now` (the simulated warehouse's time: its dates, file names and the
    /// files' modification times); returns what it did.
    @discardableResult
    public func step(now: Date) throws -> StepReport {
        var report = StepReport()
        let t = now.timeIntervalSince1970
        try importFiles(&report, now: t)
        var statusRows: [[String]] = []
        var despatchRows: [[String]] = []
        var returnRows: [[String]] = state.pendingReturns
        state.pendingReturns = []
        let date = Self.peoplevoxDate(now)
        for number in state.orderSequence {
            guard var order = state.orders[number] else { continue }
            switch order.state {
            case "New" where t - order.received >= settings.delay && chance(settings.pickRate):
                order.state = "Picking"
                order.stateChanged = true
            case "Picking":
                var lines = order.lines
                if lines.count > 1 && chance(settings.splitRate) {
                    let cut = lines.count / 2
                    order.secondPackage = Array(lines[cut...])
                    lines = Array(lines[..<cut])
                    order.state = "Part despatched"
                } else {
                    order.state = "Despatched"
                }
                despatchRows += despatch(order.number, lines, date: date)
                report.packagesDespatched += 1
                order.stateChanged = true
            case "Part despatched":
                despatchRows += despatch(order.number, order.secondPackage ?? [], date: date)
                report.packagesDespatched += 1
                order.secondPackage = nil
                order.state = "Despatched"
                order.stateChanged = true
            case "Despatched" where !order.returned && chance(settings.returnRate):
                order.returned = true
                let line = order.lines[Int(next() % UInt64(order.lines.count))]
                state.returnCounter += 1
                let states = ["Accepted", "Accepted", "Accepted", "Quarantined", "Rejected", "Pending"]
                let status = states[Int(next() % UInt64(states.count))]
                let row = [order.number, "RMA-\(state.returnCounter)", line.sku, "1", status,
                           ["Too small", "Changed mind", "Faulty", "Not as described"][Int(next() % 4)], date]
                returnRows.append(row)
                report.returnLines += 1
                if status == "Pending" {  // the same return reaches a final state next time
                    var later = row
                    later[4] = "Accepted"
                    state.pendingReturns.append(later)
                }
                if status == "Accepted" { state.onHand[line.sku, default: 0] += 1 }
            default:
                break
            }
            if order.stateChanged {
                statusRows.append([order.number, order.state, date])
                order.stateChanged = false
            }
            state.orders[number] = order
        }
        state.steps += 1
        // The step number keeps names unique when steps follow each other within a second.
        let stamp = OutboundPipeline.fileTimestamp(now) + String(format: "_%04d", state.steps)
        if !statusRows.isEmpty {
            report.filesWritten.append(try write("STATUS_\(stamp).csv", PeoplevoxTemplates.orderStatus.headerNames, statusRows, at: now))
        }
        if !despatchRows.isEmpty {
            report.filesWritten.append(try write("DESP_\(stamp).csv", PeoplevoxTemplates.despatches.headerNames, despatchRows, at: now))
        }
        if !returnRows.isEmpty {
            report.filesWritten.append(try write("RET_\(stamp).csv", PeoplevoxTemplates.returns.headerNames, returnRows, at: now))
        }
        if !state.onHand.isEmpty {
            let allocated = allocatedUnits()
            let rows = state.onHand.keys.sorted().map { sku -> [String] in
                let onHand = state.onHand[sku] ?? 0
                let held = allocated[sku] ?? 0
                return [sku, String(max(0, onHand - held)), String(onHand), String(held), date]
            }
            report.filesWritten.append(try write("STOCK_\(stamp).csv", PeoplevoxTemplates.stock.headerNames, rows, at: now))
        }
        try save()
        return report
    }

    /// The warehouse state of an order, if it has it.
    public func orderState(_ number: String) -> String? { state.orders[number]?.state }

    /// Item codes the warehouse holds.
    public var itemCodes: Set<String> { Set(state.onHand.keys) }

    // MARK: - Importing

    private func importFiles(_ report: inout StepReport, now: Double) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: exchange + "/in").filter {
            $0.hasSuffix(".csv") && !state.processedFiles.contains($0)
        }.sorted()
        for name in names {
            let path = exchange + "/in/" + name
            let reader = try CSVReader(path: path)
            var rows: [[String: String]] = []
            while try reader.next() {
                guard let header = reader.header else { continue }
                var row: [String: String] = [:]
                for (i, column) in header.names.enumerated() where i < reader.fieldCount { row[column] = reader.field(i) }
                rows.append(row)
            }
            if name.hasPrefix("ITEMS") {
                for row in rows {
                    guard let code = row["ItemCode"], !code.isEmpty, state.onHand[code] == nil else { continue }
                    let span = UInt64(settings.initialStock.count)
                    state.onHand[code] = settings.initialStock.lowerBound + Int(next() % span)
                    report.itemsImported += 1
                }
            } else if name.hasPrefix("SO") {
                var grouped: [(String, [Line])] = []
                var index: [String: Int] = [:]
                for row in rows {
                    let number = row["SalesOrderNumber"] ?? ""
                    let line = Line(sku: row["ItemCode"] ?? "", quantity: Int(row["QuantityOrdered"] ?? "") ?? 0)
                    if let i = index[number] { grouped[i].1.append(line) } else {
                        index[number] = grouped.count
                        grouped.append((number, [line]))
                    }
                }
                for (number, lines) in grouped {
                    if state.orders[number] != nil || lines.contains(where: { state.onHand[$0.sku] == nil }) {
                        report.ordersRefused.append(number)  // a duplicate number or an unknown item code
                        continue
                    }
                    state.orders[number] = Order(number: number, lines: lines, state: "New", received: now)
                    state.orderSequence.append(number)
                    report.ordersAccepted += 1
                }
            } else if name.hasPrefix("CANCEL") {
                for row in rows {
                    guard let number = row["SalesOrderNumber"], var order = state.orders[number] else { continue }
                    if order.state == "New" {
                        order.state = "Cancelled"
                        order.stateChanged = true
                        state.orders[number] = order
                        report.cancelled += 1
                    } else {
                        report.cancelRefused += 1
                    }
                }
            }
            state.processedFiles.insert(name)
            try? FileManager.default.createDirectory(atPath: exchange + "/in/processed", withIntermediateDirectories: true)
            try? FileManager.default.moveItem(atPath: path, toPath: exchange + "/in/processed/" + name)
        }
    }

    // MARK: - Helpers

    private func despatch(_ number: String, _ lines: [Line], date: String) -> [[String]] {
        state.despatchCounter += 1
        let package = "DSP-\(state.despatchCounter)"
        let carriers = [("Royal Mail", "Tracked 48", "RM"), ("DPD", "Next Day", "15501")]
        let carrier = carriers[Int(next() % 2)]
        let tracking = carrier.2 == "RM" ? "RM\(100_000_000 + Int(next() % 899_999_999))GB"
                                         : "\(carrier.2)\(1_000_000_000 + Int(next() % 8_999_999_999))"
        return lines.map { line in
            state.onHand[line.sku] = max(0, (state.onHand[line.sku] ?? 0) - line.quantity)
            return [number, package, carrier.0, carrier.1, date, tracking, line.sku, String(line.quantity), "", ""]
        }
    }

    private func allocatedUnits() -> [String: Int] {
        var held: [String: Int] = [:]
        for order in state.orders.values where order.state == "New" || order.state == "Picking" {
            for line in order.lines { held[line.sku, default: 0] += line.quantity }
        }
        return held
    }

    /// Publishes a file in `out/` (written aside, then renamed), modified at `at`: the simulated warehouse
    /// wrote it at its own time, so a file's age is judged on the same clock as everything else.
    private func write(_ name: String, _ header: [String], _ rows: [[String]], at: Date) throws -> String {
        let sink = MemorySink()
        let writer = CSVWriter(sink: sink, guardsFormulas: false)  // a WMS's export: values verbatim
        try writer.write(record: header)
        for row in rows { try writer.write(record: row) }
        try writer.flush()
        let final = exchange + "/out/" + name
        let temporary = final + ".part"
        try Data(sink.bytes).write(to: URL(fileURLWithPath: temporary))
        try FileManager.default.setAttributes([.modificationDate: at], ofItemAtPath: temporary)
        guard rename(temporary, final) == 0 else {
            throw StorefrontError(storefront: "simulator", message: "cannot publish \(final)", isTransient: false)
        }
        return name
    }

    private func save() throws {
        try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: statePath), options: .atomic)
    }

    private func next() -> UInt64 { state.rng.next() }

    private func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }

    static func peoplevoxDate(_ date: Date) -> String {
        let c = UTCTime.parts(date)
        return String(format: "%02d/%02d/%04d %02d:%02d", c.day, c.month, c.year, c.hour, c.minute)
    }
}
