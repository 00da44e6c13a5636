import BatchJobs
import CSVKit
import FileTransport
import Foundation
import Testing

@Suite struct ConfigurationTests {
    private func problems(_ yaml: String) -> [YAMLProblem] {
        do {
            _ = try Configuration.parse(yaml: yaml, baseDirectory: "/srv/acme")
            return []
        } catch let error as ConfigError {
            return error.problems
        } catch {
            return [YAMLProblem(path: "", line: 0, message: "\(error)")]
        }
    }

    @Test func starterConfigurationIsValidAndUsesTheEmbeddedDefault() throws {
        let config = try Configuration.parse(yaml: StarterConfiguration.text(client: "acme"), baseDirectory: "/srv/acme")
        #expect(config.client == "acme")
        #expect(config.warehouse.transport.location == .folder(path: "/srv/acme/.voxbatch/exchange"))
        #expect(config.storefront.kind == "file")
        #expect(config.storefront.folder == "/srv/acme/.voxbatch/shop")
        #expect(config.stateDirectory == "/srv/acme/.voxbatch")
        #expect(config.warehouse.inbox == "in" && config.warehouse.outbox == "out")
        #expect(config.warehouse.staging == .suffix(".part"))
        #expect(config.warehouse.readiness == .stableListing(interval: 5))
        #expect(config.mappings.carriers["Royal Mail"] == "royal-mail")
        #expect(config.policies.refundStates == ["Accepted", "Quarantined"])
    }

    @Test func sftpWarehouseWithSecretsByReference() throws {
        let config = try Configuration.parse(yaml: """
            client: acme
            warehouse:
              url: sftp://acme@sftp.wh.example:2222/exchange
              identity: keys/acme_ed25519
              passphrase_env: ACME_PASSPHRASE
              known_hosts: known_hosts
              host_key_policy: accept-new
              pickup: {readiness: marker, markers: [.done]}
              staging: {folder: tmp}
            storefront:
              type: woocommerce
              url: https://shop.example.com
              key_env: WOO_KEY
              secret_file: secrets/woo_secret
            policies: {stock_buffer: 2, stock_buffer_per_sku: {SKU-1: 5}, max_orders_per_file: 100}
            retry: {attempts: 3}
            """, baseDirectory: "/srv/acme")
        let t = config.warehouse.transport
        #expect(t.location == .sftp(host: "sftp.wh.example", port: 2222, user: "acme", path: "/exchange"))
        #expect(t.identityFile == "/srv/acme/keys/acme_ed25519")
        #expect(t.passphrase == .environment("ACME_PASSPHRASE"))
        #expect(t.knownHostsPath == "/srv/acme/known_hosts")
        #expect(t.hostKeyPolicy == .acceptNew)
        #expect(config.warehouse.readiness == .doneMarker(suffixes: [".done"]))
        #expect(config.warehouse.staging == .folder("tmp"))
        #expect(config.storefront.key == .environment("WOO_KEY"))
        #expect(config.storefront.secret == .file("/srv/acme/secrets/woo_secret"))
        #expect(config.policies.stockBuffer == 2 && config.policies.stockBufferPerSKU == ["SKU-1": 5])
        #expect(config.retry.maxAttempts == 3)
    }

    @Test func columnRenamesAdaptTheTemplatesAndUnknownOnesAreReported() throws {
        let config = try Configuration.parse(yaml: StarterConfiguration.text(client: "acme") + """

            """, baseDirectory: "/srv")
        var edited = config
        edited.mappings.columns["despatches"] = ["Salesorder number": "Order", "Nope": "X"]
        let (template, unknown) = try #require(edited.template("despatches"))
        #expect(template.columns[0].name == "Order")
        #expect(unknown == ["Nope"])
        let v = TemplateValidator(template: template, header: CSVHeader(["Salesorder number", "Despatch number"]))
        #expect(!v.fileErrors.contains { $0.column == "Order" })  // the Peoplevox name is still accepted
        #expect(config.template("unknown") == nil)
    }

    @Test func inlineSecretsAreRefused() {
        let found = problems("""
            client: acme
            warehouse: {url: "sftp://acme@wh:22/x", password: hunter2}
            storefront: {type: woocommerce, url: "https://shop.example.com", secret: abc123}
            """)
        let inline = found.filter { $0.path == "warehouse.password" || $0.path == "storefront.secret" }
        #expect(inline.count == 2)
        #expect(inline.allSatisfy { $0.message.contains("_env") })
        #expect(!found.contains { $0.message.contains("hunter2") || $0.message.contains("abc123") })
    }

    @Test func everyProblemIsReportedWithItsPath() {
        let found = problems("""
            client: acme
            warehouse:
              url: file:///srv/x
              folders: {to_warehouse: ../../etc}
              host_key_policy: trust-everything
            storefront: {type: shopify, folder: shop}
            policies: {stock_bufer: 3, sla_hours: 0}
            mappings: {columns: {despatch: {a: b}}}
            """)
        let paths = found.map(\.path)
        #expect(paths.contains("warehouse.folders.to_warehouse"))
        #expect(paths.contains("warehouse.host_key_policy"))
        #expect(paths.contains("storefront.type"))
        #expect(paths.contains("policies.stock_bufer"))
        #expect(paths.contains("policies.sla_hours"))
        #expect(paths.contains("mappings.columns.despatch"))
        #expect(found.first { $0.path == "policies.stock_bufer" }!.message.contains("did you mean \"stock_buffer\""))
        #expect(found.allSatisfy { $0.line > 0 })
    }

    /// WAIR is an inventory master, not a storefront: `type: wair` as the storefront says where it goes.
    @Test func wairAsAStorefrontPointsToTheInventoryMasterSection() {
        let found = problems("client: acme\nwarehouse: {url: \"file:///srv/x\"}\n"
                             + "storefront: {type: wair, url: \"https://shop.example.com\"}\n")
        let problem = found.first { $0.path == "storefront.type" }
        #expect(problem?.message.contains("an inventory master, not a storefront") == true)
        #expect(problem?.message.contains("inventory_master:") == true)
    }

    @Test func anInventoryMasterNeedsItsCredentialsAndKeepsToWairsLimits() {
        let found = problems("client: acme\nwarehouse: {url: \"file:///srv/x\"}\nstorefront: {type: file, folder: shop}\n"
                             + "inventory_master: {type: wair, url: \"http://wair.example\", tenant: T, warehouse_location: W, "
                             + "max_records_per_call: 60000, password: hunter2}\n")
        let messages = found.map(\.message)
        #expect(messages.contains { $0.contains("WAIR needs username_env/username_file and password_env/password_file") })
        #expect(messages.contains { $0.contains("must use https://") })
        #expect(messages.contains { $0.contains("max_records_per_call must be 1...50000") })
        #expect(messages.contains { $0.contains("secrets must not be written in the configuration; use password_env") })
        #expect(!messages.joined().contains("hunter2"))
    }

    @Test func missingEssentialsAreReported() {
        let found = problems("client: acme\nwarehouse: {url: \"sftp://acme@wh/x\"}\nstorefront: {type: file}\n")
        #expect(found.map(\.path).contains("warehouse.identity"))
        #expect(found.map(\.path).contains("storefront.folder"))
        #expect(problems("client: acme\n").map(\.path) == ["warehouse", "storefront"])
        #expect(problems("storefront: {type: woocommerce, url: \"http://shop.example.com\"}")
            .contains { $0.message.contains("https://") })
    }
}
