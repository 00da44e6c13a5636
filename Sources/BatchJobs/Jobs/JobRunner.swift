import FileTransport
import Foundation
import Logging

/// The jobs voxbatch runs, in the order a day needs them (`run all`).
public enum JobName: String, Sendable, Hashable, Codable, CaseIterable {
    /// The product master to the warehouse (new and changed SKUs).
    case exportItems = "export-items"
    /// Warehouse stock levels to the storefront.
    case importStock = "import-stock"
    /// Warehouse stock (changes, on hand, allocations) to the inventory master (WAIR), if the client has one.
    case exportInventory = "export-inventory"
    /// The warehouse's order states (picking, packing...), used by cancellations and reconciliation.
    case importOrderStatus = "import-order-status"
    /// Cancelled orders: withheld, requested, or flagged as too late.
    case exportCancellations = "export-cancellations"
    /// Orders ready for fulfilment to the warehouse.
    case exportOrders = "export-orders"
    /// The inventory master's transfers from the warehouse (WAIR), as sales orders, if the client has one.
    case exportTransfers = "export-transfers"
    /// Returns announced in the shop (RMA) to the warehouse, so it knows what is coming.
    case exportReturns = "export-returns"
    /// Despatches (packages, tracking) to the storefront.
    case importDespatches = "import-despatches"
    /// Returns to refunds in the storefront.
    case importReturns = "import-returns"
    /// What should have happened and did not.
    case reconcile

    /// Whether the job has anything to do for `configuration` (the inventory master's jobs need one).
    public func applies(to configuration: Configuration) -> Bool {
        switch self {
        case .exportInventory, .exportTransfers: configuration.inventoryMaster != nil
        default: true
        }
    }

    /// The jobs of a day for `configuration`, in order (`run all`).
    public static func all(for configuration: Configuration) -> [JobName] {
        allCases.filter { $0.applies(to: configuration) }
    }

    /// One line for `--help`.
    public var summary: String {
        switch self {
        case .exportItems: "send new and changed SKUs as a Peoplevox item-types file"
        case .importStock: "set storefront availability from the warehouse's stock files (minus the buffer)"
        case .exportInventory: "send the warehouse's stock changes, on-hand levels and allocations to the inventory master"
        case .importOrderStatus: "read the warehouse's order states (decides whether a cancellation can stop an order)"
        case .exportCancellations: "withhold, request or flag cancelled orders"
        case .exportOrders: "send orders ready for fulfilment as Peoplevox sales-order files"
        case .exportReturns: "send returns announced in the shop (RMA) as expected-return files"
        case .exportTransfers: "send the inventory master's transfers from the warehouse as sales-order files"
        case .importDespatches: "apply despatches (packages, tracking, carrier) to the storefront"
        case .importReturns: "refund returned lines in a final state, restocking sellable ones"
        case .reconcile: "list unsent orders, orders past the SLA, unapplied despatches and stock differences"
        }
    }
}

/// How a job runs.
public struct JobOptions: Sendable, Hashable {
    /// Do everything but the effects; report what would change.
    public var dryRun = false
    /// import-stock: push every SKU, changed or not.
    public var full = false

    public init(dryRun: Bool = false, full: Bool = false) {
        self.dryRun = dryRun
        self.full = full
    }
}

/// What a job run did, for people and (as JSON) for scripts.
public struct JobResult: Sendable, Hashable, Codable {
    public var job: String
    /// `ok`, `completed-with-exceptions` or `failed`.
    public var outcome: String
    public var summary: RunSummary
    /// For reconcile: what it found.
    public var reconciliation: Reconciliation.Report?
    /// For a failed run: why.
    public var error: String?

    public init(job: String, outcome: String, summary: RunSummary, reconciliation: Reconciliation.Report? = nil,
                error: String? = nil) {
        self.job = job
        self.outcome = outcome
        self.summary = summary
        self.reconciliation = reconciliation
        self.error = error
    }

    /// Whether something needs a person (rejected rows, exceptions, findings).
    public var needsAttention: Bool { outcome != "ok" }
}

/// Runs jobs for one configuration: opens the manifest, the storefront and the warehouse transport
/// once, takes each job's lock, and composes the flow with its pipeline.
public final class JobRunner {
    public let configuration: Configuration
    public let manifest: Manifest
    public let storefront: any Storefront
    /// The inventory master (WAIR), when the configuration has one: its transfers, and its client.
    public let transfers: WairTransfers?
    public let inventoryMaster: WairClient?
    private var transport: (any FileTransport)?
    private var pgp: OpenPGP?
    /// Told how long files move (for a progress display on a terminal).
    public var progress: ((PipelineProgress) -> Void)?
    private let logger: Logger
    /// The time every decision of this runner's jobs and checks is taken at: the clock the command was
    /// given (the wall clock at the CLI's entry point, a pinned or simulated one in the demo and tests).
    public let clock: () -> Date

    /// Opens the state for `configuration`.
    ///
    /// - Parameters:
    ///   - storefront: A storefront to use instead of the configured one (tests, the demo).
    ///   - clock: The time jobs, health checks and manifest stamps use. There is no default: whoever
    ///     creates a runner says which time it runs on.
    /// - Throws: ``StorefrontError`` for an unusable storefront, GRDB errors for an unusable manifest.
    public init(configuration: Configuration, storefront: (any Storefront)? = nil,
                logger: Logger = Logger(label: "voxbatch.jobs"), clock: @escaping () -> Date) throws {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory + "/work",
                                                withIntermediateDirectories: true)
        // VOXBATCH_LOCK_WAIT: seconds to wait for another process holding the manifest (default 10).
        let wait = ProcessInfo.processInfo.environment["VOXBATCH_LOCK_WAIT"].flatMap(Double.init) ?? 10
        manifest = try Manifest(location: configuration.stateLocation, busyTimeout: wait, clock: clock)
        let shop = try storefront ?? Self.makeStorefront(configuration, clock: clock)
        if let master = configuration.inventoryMaster {
            let client = WairClient(settings: master, manifest: manifest, retry: configuration.retry, clock: clock)
            let transfers = WairTransfers(client: client, manifest: manifest, clock: clock)
            inventoryMaster = client
            self.transfers = transfers
            self.storefront = RoutingStorefront(primary: shop, transfers: transfers)
        } else {
            inventoryMaster = nil
            transfers = nil
            self.storefront = shop
        }
    }

    deinit { transport?.close() }

    /// The configured storefront.
    public static func makeStorefront(_ configuration: Configuration, clock: @escaping () -> Date) throws
        -> any Storefront
    {
        switch configuration.storefront.kind {
        case "file":
            let shop = try FileStorefront(folder: configuration.storefront.folder ?? configuration.stateDirectory + "/shop",
                                          clock: clock)
            shop.temporaryDirectory = configuration.stateDirectory + "/work/storefront"  // with the jobs' other work files
            return shop
        case "woocommerce":
            return try WooCommerceStorefront(configuration: configuration.storefront, retry: configuration.retry,
                                             clock: clock)
        case "centra":
            return try CentraStorefront(configuration: configuration.storefront, retry: configuration.retry, clock: clock)
        case "marketplacer":
            return try MarketplacerStorefront(configuration: configuration.storefront, retry: configuration.retry, clock: clock)
        case "scayle":
            return try ScayleStorefront(configuration: configuration.storefront, retry: configuration.retry, clock: clock)
        default:
            throw StorefrontError(storefront: configuration.storefront.kind,
                                  message: "this storefront type is not available in this build; use type: " + Configuration.storefrontKinds.joined(separator: ", "),
                                  isTransient: false)
        }
    }

    /// The warehouse transport, connected on first use.
    func warehouse() throws -> any FileTransport {
        if let transport { return transport }
        let made = try Retry.run(configuration.retry, operation: "connect to the warehouse", logger: logger) {
            try configuration.warehouse.transport.makeTransport(logger: logger)
        }
        transport = made
        return made
    }

    /// Runs one job under its lock.
    ///
    /// - Throws: ``JobLockError/held(job:pid:path:)`` when another run holds the lock; transport and
    ///   storefront errors that outlasted the retries.
    public func run(_ job: JobName, options: JobOptions = .init()) throws -> JobResult {
        let lock = try JobLock(job: job.rawValue, location: configuration.stateLocation,
                               stateDirectory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        let stopwatch = Stopwatch()  // a duration for the log, not a time decision
        var result: JobResult
        switch job {
        case .exportItems:
            result = finish(job, try outbound().run(ExportItemsFlow(configuration: configuration, storefront: storefront),
                                                    dryRun: options.dryRun))
        case .exportOrders:
            var pipeline = try outbound()
            pipeline.maxRecordsPerFile = configuration.policies.maxOrdersPerFile
            result = finish(job, try pipeline.run(ExportOrdersFlow(configuration: configuration, storefront: storefront,
                                                                   manifest: manifest), dryRun: options.dryRun))
        case .exportReturns:
            if let source = storefront as? any ReturnsSource {
                result = finish(job, try outbound().run(ExportReturnsFlow(configuration: configuration, source: source,
                                                                          manifest: manifest), dryRun: options.dryRun))
            } else {
                logger.info("returns start in the warehouse for this storefront: nothing to announce",
                            metadata: ["storefront": "\(configuration.storefront.kind)"])
                result = JobResult(job: job.rawValue, outcome: "ok", summary: RunSummary(job: job.rawValue, dryRun: options.dryRun))
            }
        case .exportCancellations:
            result = finish(job, try outbound().run(
                ExportCancellationsFlow(configuration: configuration, storefront: storefront, manifest: manifest,
                                        clock: clock), dryRun: options.dryRun))
        case .importStock:
            var flow = ImportStockFlow(configuration: configuration, storefront: storefront, manifest: manifest,
                                       full: options.full)
            flow.notesForInventoryMaster = inventoryMaster != nil
            result = finish(job, try inbound().run(flow, dryRun: options.dryRun))
        case .exportInventory:
            result = try exportInventory(dryRun: options.dryRun)
        case .exportTransfers:
            if let transfers {
                var pipeline = try outbound()
                pipeline.maxRecordsPerFile = configuration.policies.maxOrdersPerFile
                result = finish(job, try pipeline.run(ExportOrdersFlow(configuration: configuration, storefront: transfers,
                                                                       manifest: manifest, jobName: job), dryRun: options.dryRun))
            } else {
                logger.info("no inventory master configured: no transfers to send")
                result = JobResult(job: job.rawValue, outcome: "ok", summary: RunSummary(job: job.rawValue, dryRun: options.dryRun))
            }
        case .importOrderStatus:
            result = finish(job, try inbound().run(ImportOrderStatusFlow(configuration: configuration, manifest: manifest),
                                                   dryRun: options.dryRun))
        case .importDespatches:
            result = finish(job, try inbound().run(ImportDespatchesFlow(configuration: configuration,
                                                                        storefront: storefront, manifest: manifest),
                                                   dryRun: options.dryRun))
        case .importReturns:
            result = finish(job, try inbound().run(ImportReturnsFlow(configuration: configuration, storefront: storefront,
                                                                     manifest: manifest),
                                                   dryRun: options.dryRun))
        case .reconcile:
            result = try reconcile(dryRun: options.dryRun)
        }
        logger.info("job finished", metadata: [
            "job": "\(job.rawValue)", "outcome": "\(result.outcome)", "files": "\(result.summary.files.count)",
            "applied": "\(result.summary.applied)", "skipped": "\(result.summary.skipped)",
            "failed": "\(result.summary.failed)", "exceptions": "\(result.summary.exceptions)",
            "seconds": "\(String(format: "%.2f", stopwatch.seconds))",
        ])
        return result
    }

    private func finish(_ job: JobName, _ summary: RunSummary) -> JobResult {
        let attention = summary.failed + summary.exceptions > 0
        return JobResult(job: job.rawValue, outcome: attention ? "completed-with-exceptions" : "ok", summary: summary)
    }

    private func outbound() throws -> OutboundPipeline {
        var pipeline = OutboundPipeline(transport: try warehouse(), manifest: manifest,
                                        inbox: configuration.warehouse.inbox, workDirectory: try workFolder("outbound"),
                                        logger: logger, clock: clock)
        pipeline.retry = configuration.retry
        pipeline.guardsFormulas = configuration.files.guardFormulas
        pipeline.retryAttempts = configuration.policies.orderRetryAttempts
        pipeline.retryBackoffMinutes = configuration.policies.orderRetryBackoffMinutes
        pipeline.pgp = try openPGP()
        return pipeline
    }

    /// The warehouse's PGP set-up, opened once per run (a private keyring under the state folder when the
    /// configuration gives key files rather than a keyring).
    public func openPGP() throws -> OpenPGP? {
        guard let settings = configuration.warehouse.pgp else { return nil }
        if let pgp { return pgp }
        let opened = try OpenPGP(settings: settings, workHome: configuration.stateDirectory + "/gnupg")
        pgp = opened
        return opened
    }

    private func inbound() throws -> InboundPipeline {
        let transport = try warehouse()
        let w = configuration.warehouse
        var pipeline = InboundPipeline(transport: transport, manifest: manifest,
                                       folders: (outbox: w.outbox, archive: w.archive, error: w.error),
                                       pickup: Pickup(transport: transport, readiness: w.readiness),
                                       workDirectory: try workFolder("inbound"), logger: logger)
        pipeline.retry = configuration.retry
        pipeline.reportsDirectory = reportsDirectory
        pipeline.progress = progress
        pipeline.pgp = try openPGP()
        return pipeline
    }

    /// Where copies of the error reports are kept.
    public var reportsDirectory: String { configuration.stateDirectory + "/reports" }

    /// Where the kept copy of a received file's error report is (it exists only if rows were rejected).
    public func keptErrorReport(for file: String) -> String {
        reportsDirectory + "/" + InboundPipeline.errorReportName(file)
    }

    private func workFolder(_ name: String) throws -> String {
        let path = configuration.stateDirectory + "/work/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func exportInventory(dryRun: Bool) throws -> JobResult {
        let name = JobName.exportInventory.rawValue
        guard let client = inventoryMaster else {
            logger.info("no inventory master configured: nothing to send")
            return JobResult(job: name, outcome: "ok", summary: RunSummary(job: name, dryRun: dryRun))
        }
        let runID = dryRun ? nil : try manifest.startRun(job: name)
        do {
            let sent = try ExportInventory(client: client, manifest: manifest, clock: clock).run(dryRun: dryRun)
            if let runID { try manifest.finishRun(runID, outcome: "ok", applied: sent.levels, skipped: 0, failed: 0) }
            let summary = RunSummary(job: name, dryRun: dryRun)
            logger.info("stock sent to the inventory master", metadata: [
                "mutations": "\(sent.mutations)", "levels": "\(sent.levels)", "allocations": "\(sent.allocations)"])
            return JobResult(job: name, outcome: "ok", summary: summary)
        } catch {
            if let runID { try manifest.finishRun(runID, outcome: "failed", applied: 0, skipped: 0, failed: 0, error: "\(error)") }
            throw error
        }
    }

    private func reconcile(dryRun: Bool) throws -> JobResult {
        let runID = dryRun ? nil : try manifest.startRun(job: JobName.reconcile.rawValue)
        do {
            var reconciliation = Reconciliation(configuration: configuration, storefront: storefront, manifest: manifest,
                                                transport: try warehouse(), clock: clock)
            reconciliation.inventoryMaster = inventoryMaster
            let report = try reconciliation.run(dryRun: dryRun)
            let outcome = report.findings > 0 ? "completed-with-exceptions" : "ok"
            if let runID { try manifest.finishRun(runID, outcome: outcome, applied: 0, skipped: 0, failed: report.findings) }
            var summary = RunSummary(job: JobName.reconcile.rawValue, dryRun: dryRun)
            summary.files = []
            return JobResult(job: JobName.reconcile.rawValue, outcome: outcome, summary: summary, reconciliation: report)
        } catch {
            if let runID { try manifest.finishRun(runID, outcome: "failed", applied: 0, skipped: 0, failed: 0, error: "\(error)") }
            throw error
        }
    }
}
