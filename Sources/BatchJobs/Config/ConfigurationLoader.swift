import CSVKit
import FileTransport
import Foundation

extension Configuration {
    /// Reads and checks a configuration file.
    ///
    /// Relative paths in the file (state folder, local exchange, key files) are taken relative to the
    /// file's own folder, so a configuration works from any working directory.
    ///
    /// - Throws: ``ConfigError`` listing every problem, or a `YAMLProblem` if the file is not YAML.
    public static func load(path: String) throws -> Configuration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(path: path, problems: [YAMLProblem(path: "", line: 0, message: "cannot read the file")])
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(yaml: text, baseDirectory: base, name: path)
    }

    /// Parses configuration text; `baseDirectory` resolves relative paths.
    public static func parse(yaml text: String, baseDirectory: String, name: String = "voxbatch.yml") throws
        -> Configuration
    {
        let doc: StrictYAML
        do {
            doc = try StrictYAML(text: text)
        } catch let problem as YAMLProblem {
            throw ConfigError(path: name, problems: [problem])
        }
        let reader = ConfigReader(doc: doc, base: baseDirectory)
        let config = reader.read()
        guard doc.problems.isEmpty, let config else { throw ConfigError(path: name, problems: doc.problems) }
        return config
    }
}

/// Walks the YAML tree, reporting problems to the document as it goes.
private struct ConfigReader {
    let doc: StrictYAML
    let base: String

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/") {
            return (ProcessInfo.processInfo.environment["HOME"] ?? "/root") + path.dropFirst(1)
        }
        return base + "/" + path
    }

    /// A secret given as `NAME_env` or `NAME_file`; `NAME` itself (inline) is an error.
    func secret(_ map: StrictYAML.Mapping, _ name: String) -> SecretSource? {
        if let inline = map[name] {
            doc.report(inline, "secrets must not be written in the configuration; use \(name)_env (an environment "
                       + "variable) or \(name)_file (a file readable only by its owner)")
            return nil
        }
        if let env = map["\(name)_env"]?.string { return .environment(env) }
        if let file = map["\(name)_file"]?.string { return .file(resolve(file)) }
        return nil
    }

    func read() -> Configuration? {
        guard let root = doc.root.mapping(allowed: [
            "client", "warehouse", "files", "storefront", "mappings", "policies", "retry", "alerts", "state", "schedule",
            "metrics_file", "inventory_master",
        ]) else { return nil }
        let client = root.required("client")?.string ?? ""
        let warehouse = root.required("warehouse").flatMap(readWarehouse)
        let files = root["files"].map(readFiles) ?? Configuration.FileNames()
        let storefront = root.required("storefront").flatMap(readStorefront)
        let mappings = root["mappings"].map(readMappings) ?? Configuration.Mappings()
        let policies = root["policies"].map(readPolicies) ?? Configuration.Policies()
        let retry = root["retry"].map(readRetry) ?? RetryPolicy()
        let alerts = root["alerts"].map(readAlerts) ?? Configuration.Alerts()
        // `state: FOLDER`, `state: postgres://user@host:5432/db`, or
        // `state: {path: FOLDER, retention_days: N, database: postgres://…, schema:, password_env/_file:, ca_file:}`.
        var retentionDays = 400
        var statePath = ".voxbatch"
        var database: (value: StrictYAML.Value, url: String, map: StrictYAML.Mapping?)?
        if let value = root["state"] {
            if case .mapping = value.node, let map = value.mapping(allowed: [
                "path", "retention_days", "database", "schema", "password_env", "password_file", "ca_file",
            ]) {
                statePath = map["path"]?.string ?? statePath
                if let v = map["retention_days"], let n = v.int {
                    if n < 30 { doc.report(v, "retention_days must be at least 30 (the history ops look back on)") }
                    else { retentionDays = n }
                }
                if let v = map["database"], let url = v.string { database = (v, url, map) }
                for key in ["schema", "password_env", "password_file", "ca_file"] where map[key] != nil && database == nil {
                    doc.report(map[key], "\(key) applies to a PostgreSQL state database: set state.database too")
                }
            } else if let text = value.string {
                if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") { database = (value, text, nil) }
                else { statePath = text }
            }
        }
        var stateDatabase: PostgresSettings?
        if let database {
            let schema = database.map?["schema"]?.string ?? PostgresSettings.schema(forClient: client)
            let password = database.map.flatMap { secret($0, "password") }
            do {
                stateDatabase = try PostgresSettings(url: database.url, schema: schema, password: password,
                                                     caFile: database.map?["ca_file"]?.string.map(resolve))
            } catch let error as StateDatabaseError {
                doc.report(database.value, error.message)
            } catch {
                doc.report(database.value, "\(error)")
            }
        }
        let state = resolve(statePath)
        guard let warehouse, let storefront else { return nil }
        var configuration = Configuration(client: client, warehouse: warehouse, files: files, storefront: storefront,
                                          mappings: mappings, policies: policies, retry: retry, alerts: alerts,
                                          stateDirectory: state)
        configuration.retentionDays = retentionDays
        configuration.stateDatabase = stateDatabase
        configuration.schedulePath = root["schedule"]?.string.map(resolve)
        configuration.metricsFile = root["metrics_file"]?.string.map(resolve)
        configuration.inventoryMaster = root["inventory_master"].flatMap(readInventoryMaster)
        return configuration
    }

    func readInventoryMaster(_ value: StrictYAML.Value) -> Configuration.InventoryMaster? {
        guard let map = value.mapping(allowed: [
            "type", "url", "tenant", "username", "username_env", "username_file", "password", "password_env", "password_file",
            "warehouse_location", "order_prefix", "max_records_per_call", "drift_tolerance", "timeout", "requests_per_second",
        ]) else { return nil }
        guard let typeValue = map.required("type"), let kind = typeValue.string else { return nil }
        if kind != "wair" { doc.report(typeValue, "unknown inventory master type \"\(kind)\"; use wair") }
        let url = map.required("url")?.string ?? ""
        if !url.hasPrefix("https://") && !url.hasPrefix("http://127.0.0.1") && !url.hasPrefix("http://localhost") {
            doc.report(map["url"], "inventory master URLs must use https:// (credentials travel with every request)")
        }
        if map["username_env"] == nil && map["username_file"] == nil || map["password_env"] == nil && map["password_file"] == nil {
            doc.report(value, "WAIR needs username_env/username_file and password_env/password_file (the POST /Token "
                       + "credentials WAIR e-mails)", path: map.path + ".username_env")
        }
        var master = Configuration.InventoryMaster(
            kind: kind, url: url, tenant: map.required("tenant")?.string ?? "", username: secret(map, "username"),
            password: secret(map, "password"), warehouseLocation: map.required("warehouse_location")?.string ?? "")
        master.orderPrefix = map["order_prefix"]?.string ?? master.orderPrefix
        if master.orderPrefix.isEmpty { doc.report(map["order_prefix"], "order_prefix cannot be empty: despatches of "
                                                   + "transfers are told from the shop's orders by it") }
        if let v = map["max_records_per_call"], let n = v.int {
            if n < 1 || n > 50_000 { doc.report(v, "max_records_per_call must be 1...50000 (WAIR's recommended maximum)") }
            else { master.maxRecordsPerCall = n }
        }
        master.driftTolerance = map["drift_tolerance"]?.int ?? master.driftTolerance
        master.timeout = map["timeout"]?.double ?? master.timeout
        master.requestsPerSecond = map["requests_per_second"]?.double ?? master.requestsPerSecond
        return master
    }

    func readWarehouse(_ value: StrictYAML.Value) -> Configuration.Warehouse? {
        guard let map = value.mapping(allowed: [
            "url", "identity", "passphrase", "passphrase_env", "passphrase_file", "password", "password_env",
            "password_file", "known_hosts", "host_key_policy", "connect_timeout", "io_timeout", "folders", "staging",
            "pickup", "ca_file", "client_certificate", "client_key", "allow_plaintext", "pgp",
        ]) else { return nil }
        guard let urlValue = map.required("url"), let url = urlValue.string else { return nil }
        var location: TransportLocation
        do {
            location = try TransportLocation(url: url.hasPrefix("file://") && !url.hasPrefix("file:///")
                                             ? "file://" + resolve(String(url.dropFirst("file://".count))) : url)
        } catch let error as TransportError {
            doc.report(urlValue, error.message)
            return nil
        } catch {
            return nil
        }
        if case .folder(let path) = location { location = .folder(path: path) }
        var policy = SFTPSettings.HostKeyPolicy.strict
        if let p = map["host_key_policy"] {
            if let parsed = p.string.flatMap(SFTPSettings.HostKeyPolicy.init(rawValue:)) { policy = parsed } else {
                doc.report(p, "host_key_policy must be strict or accept-new")
            }
        }
        let identity = map["identity"]?.string.map(resolve)
        let password = secret(map, "password")
        let passphrase = secret(map, "passphrase")
        if case .sftp = location, identity == nil, password == nil {
            doc.report(value, "an sftp:// warehouse needs identity (a private key file) or password_env/password_file",
                       path: map.path + ".identity")
        }
        var options = TransportOptions(
            location: location, identityFile: identity, passphrase: passphrase, password: password,
            knownHostsPath: resolve(map["known_hosts"]?.string ?? "~/.ssh/known_hosts"), hostKeyPolicy: policy,
            connectTimeout: map["connect_timeout"]?.double ?? 15, ioTimeout: map["io_timeout"]?.double ?? 60)
        if case .ftp(let security, _, _, _, _) = location {
            if password == nil {
                doc.report(value, "an FTP warehouse needs password_env or password_file", path: map.path + ".password_env")
            }
            options.caFile = map["ca_file"]?.string.map(resolve)
            options.clientCertificate = map["client_certificate"]?.string.map(resolve)
            options.clientKey = map["client_key"]?.string.map(resolve)
            if options.clientKey != nil && options.clientCertificate == nil {
                doc.report(map["client_key"], "client_key needs client_certificate")
            }
            options.allowPlaintext = map["allow_plaintext"]?.bool ?? false
            if security == .plaintext && !options.allowPlaintext {
                doc.report(urlValue, TransportOptions.plaintextRefusal)
            }
            if security != .plaintext, map["allow_plaintext"] != nil {
                doc.report(map["allow_plaintext"], "allow_plaintext applies to ftp:// only")
            }
        } else {
            for key in ["ca_file", "client_certificate", "client_key", "allow_plaintext"] where map[key] != nil {
                doc.report(map[key], "\(key) applies to ftps://, ftps-implicit:// and ftp:// warehouses only")
            }
        }

        var folders = (inbox: "in", outbox: "out", archive: "archive", error: "error")
        if let f = map["folders"]?.mapping(allowed: ["to_warehouse", "from_warehouse", "archive", "error"]) {
            folders.inbox = checkedFolder(f, "to_warehouse") ?? folders.inbox
            folders.outbox = checkedFolder(f, "from_warehouse") ?? folders.outbox
            folders.archive = checkedFolder(f, "archive") ?? folders.archive
            folders.error = checkedFolder(f, "error") ?? folders.error
        }
        var staging = AtomicDrop.Staging.suffix(".part")
        if let s = map["staging"]?.mapping(allowed: ["suffix", "folder"]) {
            if let folder = checkedFolder(s, "folder") { staging = .folder(folder) }
            else if let suffix = s["suffix"]?.string { staging = .suffix(suffix) }
        }
        var readiness = Pickup.Readiness.stableListing(interval: 5)
        if let p = map["pickup"]?.mapping(allowed: ["readiness", "interval", "markers"]) {
            switch p["readiness"]?.string ?? "stable" {
            case "stable": readiness = .stableListing(interval: p["interval"]?.double ?? 5)
            case "marker": readiness = .doneMarker(suffixes: p["markers"]?.strings ?? [".done", ".ok"])
            default: doc.report(p["readiness"], "readiness must be stable or marker")
            }
        }
        var warehouse = Configuration.Warehouse(transport: options, inbox: folders.inbox, outbox: folders.outbox,
                                                archive: folders.archive, error: folders.error, staging: staging,
                                                readiness: readiness)
        if let p = map["pgp"] { warehouse.pgp = readPGP(p) }
        return warehouse
    }

    /// `warehouse.pgp`: keys by fingerprint, key files or a keyring, the passphrase by reference.
    func readPGP(_ value: StrictYAML.Value) -> PGPSettings? {
        guard let map = value.mapping(allowed: [
            "keyring", "key_files", "encrypt_to", "sign_with", "passphrase", "passphrase_env", "passphrase_file",
            "verify_with", "inbound", "extension",
        ]) else { return nil }
        var settings = PGPSettings()
        settings.keyring = map["keyring"]?.string.map(resolve)
        settings.keyFiles = (map["key_files"]?.strings ?? []).map(resolve)
        settings.encryptTo = map["encrypt_to"]?.strings ?? []
        settings.signWith = map["sign_with"]?.string
        settings.passphrase = secret(map, "passphrase")
        settings.verifyWith = map["verify_with"]?.strings ?? []
        if settings.keyring == nil && settings.keyFiles.isEmpty {
            doc.report(value, "pgp needs keyring (a GnuPG home folder) or key_files", path: map.path + ".key_files")
        }
        for (index, file) in settings.keyFiles.enumerated() {
            // A file holding a secret key must be private, as a private SSH key must.
            guard let head = FileManager.default.contents(atPath: file)?.prefix(4096) else {
                doc.report(map["key_files"], "cannot read key file \(file)")
                continue
            }
            let armored = String(decoding: head, as: UTF8.self)
            if armored.contains("PRIVATE KEY BLOCK") || !armored.contains("-----BEGIN PGP") {
                do { try SecretSource.checkPrivate(file, what: "secret key file") } catch let error as TransportError {
                    doc.report(map["key_files"], error.message, path: map.path + ".key_files[\(index)]")
                } catch {}
            }
        }
        if settings.signWith != nil && settings.encryptTo.isEmpty {
            doc.report(map["sign_with"], "sign_with needs encrypt_to: files to the warehouse are encrypted and signed")
        }
        switch map["inbound"]?.string ?? "encrypted" {
        case "encrypted": settings.decryptInbound = true
        case "plain": settings.decryptInbound = false
        default: doc.report(map["inbound"], "inbound must be encrypted (files from the warehouse are PGP files) or plain")
        }
        if settings.decryptInbound && settings.verifyWith.isEmpty {
            doc.report(value, "files from the warehouse are decrypted, so their signature is checked: give verify_with "
                       + "(the warehouse's signing key fingerprints), or set inbound: plain", path: map.path + ".verify_with")
        }
        if let ext = map["extension"] {
            if let text = ext.string, [".pgp", ".gpg", ".asc"].contains(text) { settings.fileExtension = text }
            else { doc.report(ext, "extension must be .pgp, .gpg (binary) or .asc (ASCII armor)") }
        }
        return settings
    }

    /// A folder relative to the exchange root; absolute paths and `..` are refused.
    func checkedFolder(_ map: StrictYAML.Mapping, _ key: String) -> String? {
        guard let value = map[key], let text = value.string else { return nil }
        do {
            return try RemotePath.components(of: text).joined(separator: "/")
        } catch let error as TransportError {
            doc.report(value, error.message)
            return nil
        } catch {
            return nil
        }
    }

    func readFiles(_ value: StrictYAML.Value) -> Configuration.FileNames {
        var names = Configuration.FileNames()
        guard let map = value.mapping(allowed: ["sales_orders", "items", "cancellations", "expected_returns", "despatches",
                                                "stock", "returns", "order_status", "guard_formulas"]) else { return names }
        func pattern(_ key: String, _ current: String) -> String {
            guard let v = map[key], let text = v.string else { return current }
            if text.contains("/") || text.contains("..") { doc.report(v, "a file name pattern cannot contain / or ..") }
            return text
        }
        names.salesOrders = pattern("sales_orders", names.salesOrders)
        names.items = pattern("items", names.items)
        names.cancellations = pattern("cancellations", names.cancellations)
        names.expectedReturns = pattern("expected_returns", names.expectedReturns)
        names.despatches = pattern("despatches", names.despatches)
        names.stock = pattern("stock", names.stock)
        names.returns = pattern("returns", names.returns)
        names.orderStatus = pattern("order_status", names.orderStatus)
        if let v = map["guard_formulas"] {
            if let flag = v.bool { names.guardFormulas = flag } else { doc.report(v, "guard_formulas must be true or false") }
        }
        return names
    }

    func readStorefront(_ value: StrictYAML.Value) -> Configuration.Storefront? {
        guard let map = value.mapping(allowed: [
            "type", "folder", "url", "key", "key_env", "key_file", "secret", "secret_env", "secret_file",
            "ready_statuses", "cancelled_statuses", "tracking_meta_key", "notify_customer", "requests_per_second",
            "refund_payment", "timeout", "token", "token_env", "token_file", "stock_warehouse", "sku_field",
            "stock_quantity_type", "capture_on_despatch", "shop_key", "country_code",
        ]) else { return nil }
        guard let typeValue = map.required("type"), let kind = typeValue.string else { return nil }
        if kind == "wair" {
            doc.report(typeValue, "WAIR For Retail is an inventory master, not a storefront: keep the shop here and "
                       + "add an inventory_master: section with type: wair")
        } else if Configuration.plannedStorefrontKinds.contains(kind) {
            doc.report(typeValue, "the \(kind) storefront is not supported yet by this build of voxbatch; use one of "
                       + Configuration.storefrontKinds.joined(separator: ", "))
        } else if !Configuration.storefrontKinds.contains(kind) {
            doc.report(typeValue, "unknown storefront type \"\(kind)\"; use one of "
                       + Configuration.storefrontKinds.joined(separator: ", "))
        }
        let folder = map["folder"]?.string.map(resolve)
        if kind == "file" && folder == nil {
            doc.report(value, "the file storefront needs a folder", path: map.path + ".folder")
        }
        let url = map["url"]?.string
        if kind != "file" && url == nil { doc.report(value, "an API storefront needs a url", path: map.path + ".url") }
        if let url, !url.hasPrefix("https://") && !url.hasPrefix("http://127.0.0.1") && !url.hasPrefix("http://localhost") {
            doc.report(map["url"], "storefront URLs must use https:// (credentials travel with every request)")
        }
        if kind == "woocommerce" && (map["key_env"] == nil && map["key_file"] == nil
                                     || map["secret_env"] == nil && map["secret_file"] == nil) {
            doc.report(value, "WooCommerce needs key_env/key_file and secret_env/secret_file (the REST API consumer "
                       + "key and secret)", path: map.path + ".key_env")
        }
        if kind == "centra" && map["token_env"] == nil && map["token_file"] == nil {
            doc.report(value, "Centra needs token_env or token_file (an Integration API token with the Order, Shipment, "
                       + "Return, Product and Stock permissions)", path: map.path + ".token_env")
        }
        if kind == "centra" && map["stock_warehouse"] == nil {
            doc.report(value, "Centra needs stock_warehouse: the name of the Centra warehouse that stands for the 3PL",
                       path: map.path + ".stock_warehouse")
        }
        if kind == "marketplacer" && map["token_env"] == nil && map["token_file"] == nil {
            doc.report(value, "Marketplacer needs token_env or token_file (the seller's Seller API key)",
                       path: map.path + ".token_env")
        }
        if kind == "scayle" {
            if map["token_env"] == nil && map["token_file"] == nil {
                doc.report(value, "SCAYLE needs token_env or token_file (an Admin API access token)", path: map.path + ".token_env")
            }
            for key in ["shop_key", "country_code", "stock_warehouse"] where map[key] == nil {
                doc.report(value, "SCAYLE needs \(key)" + (key == "stock_warehouse" ? " (the 3PL warehouse's reference key)" : ""),
                           path: map.path + "." + key)
            }
        }
        let defaultReady = switch kind {
        case "woocommerce": ["processing"]
        case "centra": ["good-to-go"]
        case "marketplacer": ["PAID"]
        case "scayle": ["confirmed"]
        default: ["paid", "processing"]
        }
        var storefront = Configuration.Storefront(
            kind: kind, folder: folder, url: url, key: secret(map, "key"), secret: secret(map, "secret"),
            readyStatuses: map["ready_statuses"]?.strings ?? defaultReady,
            cancelledStatuses: map["cancelled_statuses"]?.strings ?? (kind == "marketplacer" ? ["CANCELLED"] : ["cancelled"]))
        storefront.token = secret(map, "token")
        storefront.shopKey = map["shop_key"]?.string
        storefront.countryCode = map["country_code"]?.string
        storefront.stockWarehouse = map["stock_warehouse"]?.string
        if let v = map["sku_field"], let field = v.string {
            if kind == "marketplacer" {
                if ["sku", "barcode"].contains(field) || field.hasPrefix("external_id:") && field.count > "external_id:".count {
                    storefront.skuField = field
                } else {
                    doc.report(v, "sku_field must be sku, barcode or external_id:KEY")
                }
            } else if ["sku", "ean"].contains(field) {
                storefront.skuField = field
            } else {
                doc.report(v, "sku_field must be sku or ean")
            }
        }
        if let v = map["stock_quantity_type"], let type = v.string {
            if ["PHYSICAL", "FREE_TO_ALLOCATE"].contains(type) {
                storefront.stockQuantityType = type
            } else {
                doc.report(v, "stock_quantity_type must be PHYSICAL or FREE_TO_ALLOCATE")
            }
        }
        storefront.captureOnDespatch = map["capture_on_despatch"]?.bool ?? storefront.captureOnDespatch
        if kind == "centra", let statuses = map["ready_statuses"] {
            for status in statuses.strings ?? [] where !CentraStorefront.readyStatuses.contains(status) {
                doc.report(statuses, "Centra's ready statuses are " + CentraStorefront.readyStatuses.joined(separator: ", ")
                           + " (shipments, not orders); \"\(status)\" is not one")
            }
        }
        storefront.trackingMetaKey = map["tracking_meta_key"]?.string ?? storefront.trackingMetaKey
        storefront.notifyCustomer = map["notify_customer"]?.bool ?? storefront.notifyCustomer
        storefront.requestsPerSecond = map["requests_per_second"]?.double ?? storefront.requestsPerSecond
        storefront.refundPayment = map["refund_payment"]?.bool ?? storefront.refundPayment
        storefront.timeout = map["timeout"]?.double ?? storefront.timeout
        return storefront
    }

    func readMappings(_ value: StrictYAML.Value) -> Configuration.Mappings {
        var m = Configuration.Mappings()
        guard let map = value.mapping(allowed: ["skus", "carriers", "statuses", "columns", "extra_columns", "order_fields",
                                                "required_fields"]) else {
            return m
        }
        func table(_ key: String) -> [String: String] {
            var out: [String: String] = [:]
            for (k, v) in map[key]?.table() ?? [] { if let s = v.string { out[k] = s } }
            return out
        }
        m.skus = table("skus")
        m.carriers = table("carriers")
        m.statuses = table("statuses")
        m.extraColumns = table("extra_columns")
        m.orderFields = table("order_fields")
        let columns = Set(PeoplevoxTemplates.salesOrders.columns.map(\.name))
        for (column, _) in map["order_fields"]?.table() ?? [] {
            if ["SalesOrderNumber", "ItemCode", "QuantityOrdered", "Line", "SalePrice"].contains(column) {
                doc.report(map["order_fields"], "\(column) cannot be mapped: voxbatch sets it (the order's identity and its lines)")
            } else if !columns.contains(column) {
                doc.report(map["order_fields"], "unknown sales-order column \"\(column)\"; the columns are "
                           + PeoplevoxTemplates.salesOrders.columns.map(\.name).joined(separator: ", "))
            }
        }
        if let v = map["required_fields"] {
            if let list = v.strings { m.requiredFields = list } else { doc.report(v, "required_fields must be a list of field names") }
        }
        for (template, renames) in map["columns"]?.table() ?? [] {
            guard Configuration.templateKeys.contains(template) else {
                doc.report(renames, "unknown template \"\(template)\"; use one of "
                           + Configuration.templateKeys.joined(separator: ", "))
                continue
            }
            var out: [String: String] = [:]
            for (k, v) in renames.table() ?? [] { if let s = v.string { out[k] = s } }
            m.columns[template] = out
        }
        return m
    }

    func readPolicies(_ value: StrictYAML.Value) -> Configuration.Policies {
        var p = Configuration.Policies()
        guard let map = value.mapping(allowed: ["stock_buffer", "stock_buffer_per_sku", "sla_hours", "dispatch_window_hours",
                                                "order_retry_attempts", "order_retry_backoff_minutes",
                                                "refund_states",
                                                "restock_states", "max_orders_per_file", "cancellable_states",
                                                "stock_max_age_hours", "file_wait_minutes"])
        else { return p }
        if let v = map["stock_buffer"], let n = v.int {
            if n < 0 { doc.report(v, "stock_buffer cannot be negative") } else { p.stockBuffer = n }
        }
        for (sku, v) in map["stock_buffer_per_sku"]?.table() ?? [] { if let n = v.int { p.stockBufferPerSKU[sku] = n } }
        if let v = map["order_retry_attempts"], let n = v.int {
            if n < 1 { doc.report(v, "order_retry_attempts must be at least 1") } else { p.orderRetryAttempts = n }
        }
        if let v = map["order_retry_backoff_minutes"], let n = v.int {
            if n < 0 { doc.report(v, "order_retry_backoff_minutes cannot be negative") } else { p.orderRetryBackoffMinutes = n }
        }
        if let v = map["dispatch_window_hours"], let n = v.int {
            if n < 0 { doc.report(v, "dispatch_window_hours cannot be negative") } else { p.dispatchWindowHours = n }
        }
        if let v = map["sla_hours"], let n = v.int {
            if n <= 0 { doc.report(v, "sla_hours must be positive") } else { p.slaHours = n }
        }
        p.refundStates = map["refund_states"]?.strings ?? p.refundStates
        p.restockStates = map["restock_states"]?.strings ?? p.restockStates
        p.cancellableStates = map["cancellable_states"]?.strings ?? p.cancellableStates
        for (key, apply) in [("stock_max_age_hours", { (n: Int) in p.stockMaxAgeHours = n }),
                             ("file_wait_minutes", { (n: Int) in p.fileWaitMinutes = n })] {
            if let v = map[key], let n = v.int {
                if n <= 0 { doc.report(v, "\(key) must be positive") } else { apply(n) }
            }
        }
        if let v = map["max_orders_per_file"], let n = v.int {
            if n <= 0 { doc.report(v, "max_orders_per_file must be positive") } else { p.maxOrdersPerFile = n }
        }
        return p
    }

    func readRetry(_ value: StrictYAML.Value) -> RetryPolicy {
        guard let map = value.mapping(allowed: ["attempts", "initial_delay", "max_delay"]) else { return RetryPolicy() }
        return RetryPolicy(maxAttempts: map["attempts"]?.int ?? 5, initialDelay: map["initial_delay"]?.double ?? 1,
                           maxDelay: map["max_delay"]?.double ?? 60)
    }

    func readAlerts(_ value: StrictYAML.Value) -> Configuration.Alerts {
        var a = Configuration.Alerts()
        guard let map = value.mapping(allowed: ["webhook_url", "webhook_url_env", "webhook_url_file", "command",
                                                "after_consecutive_failures", "format", "exception_kinds",
                                                "timeout"]) else { return a }
        a.webhookURL = secret(map, "webhook_url")
        a.command = map["command"]?.string
        a.afterConsecutiveFailures = map["after_consecutive_failures"]?.int ?? 3
        if let v = map["format"] {
            if let f = v.string.flatMap(Configuration.Alerts.Format.init(rawValue:)) { a.format = f } else {
                doc.report(v, "format must be json, slack or teams")
            }
        }
        a.exceptionKinds = map["exception_kinds"]?.strings ?? a.exceptionKinds
        a.timeout = map["timeout"]?.double ?? a.timeout
        return a
    }
}
