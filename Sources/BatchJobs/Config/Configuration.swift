import CSVKit
import FileTransport

/// One client's exchange, as described by `voxbatch.yml`.
///
/// Every key is known: an unknown key is an error (a typo must not silently disable a safety rule),
/// and a secret written inline is an error (secrets come from `*_env` variables or `*_file` files).
public struct Configuration: Sendable, Hashable {
    /// The client's name, used in alerts and reports.
    public var client: String
    /// The warehouse side.
    public var warehouse: Warehouse
    /// File-name patterns per flow.
    public var files: FileNames
    /// The storefront side.
    public var storefront: Storefront
    /// Translations between the two systems.
    public var mappings: Mappings
    /// Business rules.
    public var policies: Policies
    /// How transient failures are retried.
    public var retry: RetryPolicy
    /// Where alerts go.
    public var alerts: Alerts
    /// The folder for state (SQLite manifests, work files, locks), relative to the config file.
    public var stateDirectory: String
    /// `state.retention_days`: records applied from warehouse files first seen longer ago than this are
    /// pruned by reconcile (the files' own rows stay, so an old file dropped again is still a duplicate;
    /// the ledgers of what was sent and the stock levels in effect are never pruned).
    public var retentionDays = 400
    /// `state.database`: the client's manifest and job locks in PostgreSQL instead of the state folder's
    /// SQLite file (work files stay in the state folder).
    public var stateDatabase: PostgresSettings?

    /// Where the manifest lives.
    public var stateLocation: StateLocation {
        stateDatabase.map(StateLocation.postgres) ?? .sqlite(path: stateDirectory + "/manifest.sqlite")
    }
    /// The schedule file (`schedule:`), for `voxbatch schedule`.
    public var schedulePath: String?
    /// `metrics_file:` — where every run rewrites the client's metrics in Prometheus text format (for the
    /// node exporter's textfile collector), if set.
    public var metricsFile: String?
    /// `inventory_master:` — the system that holds the master inventory record beside the storefront
    /// (WAIR For Retail), if the client has one.
    public var inventoryMaster: InventoryMaster?

    /// An inventory planner that is the inventory master: its transfers go to the warehouse, and the
    /// warehouse's despatches, stock and allocations go back to it.
    public struct InventoryMaster: Sendable, Hashable {
        /// `wair`.
        public var kind: String
        /// The API's base URL (`https://public-api.wair.cloud/api/v1`).
        public var url: String
        /// The tenant code (`X-Tenant`).
        public var tenant: String
        /// POST /Token credentials, by reference only.
        public var username: SecretSource?
        public var password: SecretSource?
        /// The WAIR location id of the 3PL warehouse (transfers from it are picked; its stock is sent).
        public var warehouseLocation: String
        /// Sales-order numbers of transfers start with this, so despatches find their way back.
        public var orderPrefix = "WAIR-"
        /// Records per upload call (WAIR recommends at most 50,000 for stock and mutations).
        public var maxRecordsPerCall = 50_000
        /// A WAIR on-hand level that differs from the warehouse's by more than what is in flight and this
        /// many units is drift (`inventory-drift`, for the inventory team).
        public var driftTolerance = 0
        public var timeout = 30.0
        public var requestsPerSecond = 5.0
    }

    /// The warehouse's exchange folder and how to reach it.
    public struct Warehouse: Sendable, Hashable {
        public var transport: TransportOptions
        /// Folder for files to the warehouse.
        public var inbox: String
        /// Folder for files from the warehouse.
        public var outbox: String
        /// Where processed files go.
        public var archive: String
        /// Where rejected files and error reports go.
        public var error: String
        /// How drops are staged.
        public var staging: AtomicDrop.Staging
        /// How pickups decide a file is complete.
        public var readiness: Pickup.Readiness
        /// `pgp:` — files to the warehouse encrypted (and signed), files from it decrypted and verified.
        public var pgp: PGPSettings?
    }

    /// File-name patterns: globs for files read, templates with `{timestamp}` and `{sequence}` for files
    /// written.
    public struct FileNames: Sendable, Hashable {
        public var salesOrders = "SO_{timestamp}_{sequence}.csv"
        public var items = "ITEMS_{timestamp}.csv"
        public var cancellations = "CANCEL_{timestamp}.csv"
        /// Expected returns (RMA) announced in the shop.
        public var expectedReturns = "RMA_{timestamp}_{sequence}.csv"
        public var despatches = "DESP_*.csv"
        public var stock = "STOCK_*.csv"
        public var returns = "RET_*.csv"
        public var orderStatus = "STATUS_*.csv"
        /// `files.guard_formulas`: write a leading `'` before values of files for the warehouse that start
        /// with `=`, `+`, `-`, `@` (the spreadsheet formula guard). Off by default: the warehouse's system
        /// imports these files by machine and would keep the apostrophe (on packing slips, labels, gift
        /// messages). Turn it on only for a warehouse whose staff open the files in a spreadsheet, knowing
        /// that such values then reach the WMS changed.
        public var guardFormulas = false
    }

    /// The storefront connection.
    public struct Storefront: Sendable, Hashable {
        /// One of ``Configuration/storefrontKinds``.
        public var kind: String
        /// For the plain-file storefront: its folder.
        public var folder: String?
        /// For API storefronts: the base URL.
        public var url: String?
        /// API credentials, by reference only.
        public var key: SecretSource?
        public var secret: SecretSource?
        /// The order statuses that mean "ready for fulfilment".
        public var readyStatuses: [String]
        /// The order statuses that mean "cancelled".
        public var cancelledStatuses = ["cancelled"]
        /// API storefronts: the order meta key that carries tracking (for tracking plugins).
        public var trackingMetaKey = "_voxbatch_tracking"
        /// API storefronts: whether despatch notes are shown to the customer.
        public var notifyCustomer = true
        /// API storefronts: at most this many requests a second (0: no limit).
        public var requestsPerSecond = 5.0
        /// WooCommerce: refunds go back through the payment gateway (`api_refund`), or are only recorded.
        public var refundPayment = true
        /// API storefronts: seconds per request.
        public var timeout = 30.0
        /// Centra: the Integration API token; Marketplacer: the Seller API key (`token_env`/`token_file`),
        /// sent as a bearer token.
        public var token: SecretSource?
        /// Centra: the name of the Centra warehouse that stands for the 3PL (stock is set there); SCAYLE:
        /// the warehouse's reference key.
        public var stockWarehouse: String?
        /// Which identifier is the SKU voxbatch maps to a Peoplevox item code. Centra: `sku` (product number +
        /// variant number + size number, `ProductSize.SKU`) or `ean`. Marketplacer: the variant's `sku`,
        /// `barcode`, or `external_id:KEY`.
        public var skuField = "sku"
        /// Centra: the `StockQuantityType` stock is set as (`PHYSICAL`: Centra subtracts its own allocations).
        public var stockQuantityType = "PHYSICAL"
        /// SCAYLE: the shop and shop country the orders and updates belong to.
        public var shopKey: String?
        public var countryCode: String?
        /// Centra: capture a shipment's payment (`captureShipment`) before completing it, when it is not paid yet.
        public var captureOnDespatch = false
    }

    /// Translations between storefront and warehouse vocabularies.
    public struct Mappings: Sendable, Hashable {
        /// Storefront SKU → warehouse item code, where they differ.
        public var skus: [String: String] = [:]

        /// Warehouse item code → storefront SKU (``skus`` read backwards), for what comes from the warehouse.
        public var storefrontSKUs: [String: String] {
            Dictionary(skus.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        }
        /// Warehouse carrier name → storefront carrier name.
        public var carriers: [String: String] = [:]
        /// Warehouse status → storefront status.
        public var statuses: [String: String] = [:]
        /// Per Peoplevox template: template column → the warehouse's own column name.
        public var columns: [String: [String: String]] = [:]
        /// Extra sales-order columns: Peoplevox column → storefront field (gift message, instructions...).
        public var extraColumns: [String: String] = [:]
        /// `order_fields`: any sales-order column (standard ones included) → the storefront order field it is
        /// filled from (`StorefrontOrder.allFields`: `shipping.postcode`, `email`, a custom attribute…),
        /// instead of voxbatch's default for that column.
        public var orderFields: [String: String] = [:]
        /// `required_fields`: order fields an order must have to be sent; an order without one is held
        /// as a `missing-field` exception naming it.
        public var requiredFields: [String] = []
    }

    /// Business rules.
    public struct Policies: Sendable, Hashable {
        public var stockBuffer = 0
        public var stockBufferPerSKU: [String: Int] = [:]
        public var slaHours = 48
        /// The marketplace's dispatch window: a ready order older than this many hours (from when it was
        /// placed or paid) and not yet despatched is flagged by reconcile, so the seller's performance
        /// rating is protected in time. 0: not checked.
        public var dispatchWindowHours = 0
        /// An order held by a pre-flight problem is looked at again with backoff (`order_retry_backoff_minutes`,
        /// doubling each attempt, at most a day); at `order_retry_attempts` it is an
        /// `order-retries-exhausted` incident for the alerting, naming the order and the error.
        public var orderRetryAttempts = 5
        public var orderRetryBackoffMinutes = 15
        public var refundStates = ["Accepted", "Quarantined"]
        public var restockStates = ["Accepted"]
        public var maxOrdersPerFile = 500
        /// Warehouse order states in which a cancellation request still stops the order (before picking).
        public var cancellableStates = ["New"]
        /// A stock file older than this makes the integration unhealthy (status, alerts).
        public var stockMaxAgeHours = 24
        /// A warehouse file waiting unread longer than this makes the integration unhealthy.
        public var fileWaitMinutes = 60
    }

    /// Alert destinations.
    public struct Alerts: Sendable, Hashable {
        /// Where alerts are posted (a secret: the URL often carries a token).
        public var webhookURL: SecretSource?
        /// A shell command run for each alert (the JSON on standard input, VOXBATCH_ALERT_* in the environment).
        public var command: String?
        /// A job failing this many runs in a row is an incident.
        public var afterConsecutiveFailures = 3
        /// The webhook body: plain JSON, or Slack- or Teams-compatible.
        public var format = Format.json
        /// Open exceptions of these kinds are incidents.
        public var exceptionKinds = ["rejected-file", "rejected-rows", "unknown-sku", "cancel-too-late",
                                     "despatch-not-applied", "order-retries-exhausted", "pgp-decrypt-failed",
                                     "pgp-bad-signature", "pgp-unsigned", "pgp-unknown-signer"]
        /// Seconds for each webhook request.
        public var timeout = 10.0

        public enum Format: String, Sendable, Hashable { case json, slack, teams }
    }

    /// A Peoplevox template with the client's column renames (`mappings.columns`) applied.
    ///
    /// - Parameter key: One of ``templateKeys``.
    /// - Returns: The template, and the renamed columns that the template does not have (to report).
    public func template(_ key: String) -> (CSVTemplate, unknown: [String])? {
        let base: CSVTemplate? = switch key {
        case "sales_orders": PeoplevoxTemplates.salesOrders
        case "items": PeoplevoxTemplates.itemTypes
        case "cancellations": PeoplevoxTemplates.cancellations
        case "expected_returns": PeoplevoxTemplates.expectedReturns
        case "despatches": PeoplevoxTemplates.despatches
        case "stock": PeoplevoxTemplates.stock
        case "returns": PeoplevoxTemplates.returns
        case "order_status": PeoplevoxTemplates.orderStatus
        default: nil
        }
        guard let base else { return nil }
        return base.renamingColumns(mappings.columns[key] ?? [:])
    }

    /// The storefront kinds voxbatch knows.
    /// The storefront types this build can run (a type is listed only once its connector passes the
    /// conformance suite).
    public static let storefrontKinds = ["file", "woocommerce", "centra", "marketplacer", "scayle"]
    /// Storefront types that are planned but cannot run yet: `config check` says so plainly instead of
    /// letting a set-up check clean and fail at its first run.
    public static let plannedStorefrontKinds: [String] = []
    /// The Peoplevox templates whose columns can be renamed under `mappings.columns`.
    public static let templateKeys = ["sales_orders", "items", "cancellations", "expected_returns", "despatches", "stock",
                                       "returns", "order_status"]
}

/// A configuration file that cannot be used, with every problem and its YAML path.
public struct ConfigError: Error, CustomStringConvertible {
    /// The file.
    public let path: String
    /// The problems.
    public let problems: [YAMLProblem]

    public var description: String {
        "\(path) has \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
