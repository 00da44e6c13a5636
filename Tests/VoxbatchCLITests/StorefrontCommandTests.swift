import Foundation
import TestSupport
import Testing

@Suite struct StorefrontCommandTests {
    @Test func checkReadsThePlainFileStorefront() throws {
        let (_, config) = try CLI.starter()
        let r = try CLI.run(["storefront", "check", "--config", config, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let found = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(found["storefront"] as? String == "file")
        #expect(found["products"] as? Int == 0)  // the starter's shop is empty, and the check says why
        #expect((found["notes"] as? [String])?.first?.contains("products.csv: every SKU will be unknown") == true)
    }

    @Test func checkReachesWooCommerceAndSaysWhatItFound() throws {
        let woo = try WooCommerceFixture()
        woo.orders = (1...12).map { WooCommerceFixture.order(1000 + $0, lines: [(1, "TSH-M", 1, "12.00")]) }
        woo.products = [["id": 10, "name": "Tee", "type": "simple", "sku": "TSH-M", "manage_stock": true, "stock_quantity": 3]]
        let (config, _) = try CLI.wooStarter(woo, secret: "cs_test")
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("woocommerce storefront at \(woo.server.baseURL)/wp-json/wc/v3: reached"))
        #expect(r.stdout.contains("ready orders (processing): 12 — e.g. 1001, 1002, 1003"))
        #expect(r.stdout.contains("products: 1 — e.g. TSH-M"))
        #expect(woo.writes.isEmpty)
    }

    @Test func refusedCredentialsExitTwoNamingTheFileNotTheSecret() throws {
        let woo = try WooCommerceFixture()
        let (config, secretFile) = try CLI.wooStarter(woo, secret: "cs_wrong_91c2")
        let r = try CLI.run(["storefront", "check", "--config", config, "--json"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("refused the API credentials (HTTP 401") && r.stderr.contains("file \(secretFile)"))
        #expect(!r.stderr.contains("cs_wrong_91c2") && !r.stdout.contains("cs_wrong_91c2"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: String])
        #expect(json["ok"] == "false" && json["error"]?.contains("HTTP 401") == true)
    }

    @Test func aStorefrontThatIsDownExitsThree() throws {
        let woo = try WooCommerceFixture()
        let (config, _) = try CLI.wooStarter(woo, secret: "cs_test")
        woo.server.stop()
        let r = try CLI.run(["storefront", "check", "--config", config], environment: ["VOXBATCH_LOG_LEVEL": "error"])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("storefront check failed"))
    }
}

@Suite struct CentraCommandTests {
    func seeded() throws -> CentraFixture {
        let centra = try CentraFixture()
        centra.sizes = ["JKT-BLK-M", "JKT-BLK-L", "CAP-NVY-OS"].enumerated().map { i, sku in
            CentraFixture.Size(id: 10 + i, sku: sku, ean: "735000000011\(i)", product: "Product \(i)", stock: ["Peoplevox 3PL": 4])
        }
        for n in 1...14 { centra.addOrder(39_000 + n, lines: [("JKT-BLK-M", 1, 120)]) }
        centra.addOrder(39_100, goodToGo: false, lines: [("CAP-NVY-OS", 1, 25)])
        return centra
    }

    @Test func checkReachesCentraAndSaysWhatItFound() throws {
        let centra = try seeded()
        let (_, config) = try CLI.centraStarter(centra)
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("centra storefront at \(centra.baseURL)/graphql: reached"))
        #expect(r.stdout.contains("ready orders (good-to-go): 14 — e.g. 39001-1, 39002-1, 39003-1"))
        #expect(r.stdout.contains("products: 3"))
        #expect(centra.calls.allSatisfy { $0.kind == "query" } && centra.calls.count == 2)
        #expect(centra.calls.allSatisfy { $0.headers["authorization"] == "Bearer centra-test-token" })
    }

    @Test func aRefusedTokenExitsTwoNamingTheFileNotTheToken() throws {
        let centra = try seeded()
        let (dir, config) = try CLI.centraStarter(centra, token: "centra_expired_4b7e")
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("HTTP 401") && r.stderr.contains(dir.appendingPathComponent("centra-token").path))
        #expect(!r.stderr.contains("centra_expired_4b7e") && !r.stdout.contains("centra_expired_4b7e"))
    }

    @Test func configCheckWantsATokenAndTheWarehouseAndKnowsCentrasStatuses() throws {
        let centra = try seeded()
        let (_, config) = try CLI.centraStarter(centra)
        #expect(try CLI.run(["config", "check", "--config", config]).status == 0)
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        yml = yml.replacingOccurrences(of: "  stock_warehouse: Peoplevox 3PL\n", with: "  ready_statuses: [processing]\n")
        yml = yml.replacingOccurrences(of: "token_file:", with: "token:")
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try CLI.run(["config", "check", "--config", config])
        #expect(r.status == 2)
        let out = r.stdout + r.stderr
        #expect(out.contains("secrets must not be written in the configuration; use token_env"))
        #expect(out.contains("Centra needs token_env or token_file"))
        #expect(out.contains("Centra needs stock_warehouse"))
        #expect(out.contains("Centra's ready statuses are good-to-go, good-to-go-paid"))
    }

    @Test func auditSKUsComparesCentrasSizesWithTheWarehouse() throws {
        let centra = try seeded()
        let (dir, config) = try CLI.centraStarter(centra)
        try "Item code,Available\r\nJKT-BLK-M,3\r\nJKT-BLK-L,1\r\nOLD-SKU-9,5\r\n"
            .write(to: dir.appendingPathComponent(".voxbatch/exchange/out/STOCK_20261130T0800.csv"), atomically: true, encoding: .utf8)
        #expect(try CLI.run(["run", "import-stock", "--config", config]).status == 1)  // OLD-SKU-9: unknown in Centra
        let r = try CLI.run(["audit", "skus", "--config", config, "--json"])
        #expect(r.status == 1, "\(r.stderr)")
        let audit = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(audit["storefrontOnly"] as? [String] == ["CAP-NVY-OS"])
        #expect(audit["warehouseOnly"] as? [String] == ["OLD-SKU-9"])
        #expect(centra.withLock { $0.sizes.map { $0.stock["Peoplevox 3PL"] } } == [3, 1, 4])
    }
}

@Suite struct MarketplacerCommandTests {
    func seeded() throws -> MarketplacerFixture {
        let mkp = try MarketplacerFixture()
        mkp.variants = [MarketplacerFixture.Variant(1, advert: "Trail Runner", sku: "TR-42", countOnHand: 3),
                        MarketplacerFixture.Variant(2, advert: "Trail Runner", sku: "TR-43", countOnHand: 0)]
        for n in 1...4 { mkp.addInvoice(13_700 + n, lines: [("TR-42", 1, 129)]) }
        mkp.addInvoice(13_800, flags: ["AWAITING_PAYMENT"], lines: [("TR-43", 1, 129)])
        return mkp
    }

    @Test func checkReachesTheSellerAPIAndSaysWhatItFound() throws {
        let mkp = try seeded()
        let (_, config) = try CLI.marketplacerStarter(mkp)
        let r = try CLI.run(["storefront", "check", "--config", config, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let found = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(found["storefront"] as? String == "marketplacer" && found["readyOrders"] as? Int == 4)
        #expect(found["exampleOrders"] as? [String] == ["13701", "13702", "13703"])
        #expect(found["products"] as? Int == 2 && found["exampleSKUs"] as? [String] == ["TR-42", "TR-43"])
        #expect((found["notes"] as? [String])?.first?.contains("undispatched invoices was 5") == true)
        #expect(mkp.calls.allSatisfy { $0.kind == "query" && $0.headers["authorization"] == "Bearer mkp-test-key" })
    }

    @Test func aRevokedKeyExitsTwoNamingTheFileNotTheKey() throws {
        let mkp = try seeded()
        let (dir, config) = try CLI.marketplacerStarter(mkp, token: "mkp_revoked_0c1d")
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("HTTP 401") && r.stderr.contains(dir.appendingPathComponent("mkp-token").path))
        #expect(!r.stderr.contains("mkp_revoked_0c1d") && !r.stdout.contains("mkp_revoked_0c1d"))
    }

    @Test func configCheckWantsAKeyAndAKnownIdentifierRule() throws {
        let mkp = try seeded()
        let (_, config) = try CLI.marketplacerStarter(mkp)
        #expect(try CLI.run(["config", "check", "--config", config]).status == 0)
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        yml = yml.replacingOccurrences(of: "  token_file:", with: "  sku_field: ean\n  token_fil:")
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try CLI.run(["config", "check", "--config", config])
        #expect(r.status == 2)
        let out = r.stdout + r.stderr
        #expect(out.contains("Marketplacer needs token_env or token_file"))
        #expect(out.contains("sku_field must be sku, barcode or external_id:KEY"))
    }
}

@Suite struct ScayleCommandTests {
    func seeded() throws -> ScayleFixture {
        let scayle = try ScayleFixture()
        scayle.variants = [ScayleFixture.Variant(id: 1, referenceKey: "SHOE-42", ean: "4000000000011")]
        for n in 1...3 { scayle.addOrder(880_000 + n, lines: [("SHOE-42", 1, 12_900)]) }
        return scayle
    }

    @Test func checkReachesTheAdminAPIAndSaysWhatItFound() throws {
        let scayle = try seeded()
        let (_, config) = try CLI.scayleStarter(scayle)
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ready orders (confirmed): 3 on the first page — e.g. 880001, 880002, 880003"))
        #expect(r.stdout.contains("SHOE-42"))
        #expect(scayle.requests.allSatisfy { $0.method == "GET" && $0.headers["x-access-token"] == "scayle-test-token" })
    }

    @Test func aRefusedTokenExitsTwoNamingTheFileNotTheToken() throws {
        let scayle = try seeded()
        let (dir, config) = try CLI.scayleStarter(scayle, token: "scayle_old_3f9a")
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("HTTP 401") && r.stderr.contains(dir.appendingPathComponent("scayle-token").path))
        #expect(!r.stderr.contains("scayle_old_3f9a") && !r.stdout.contains("scayle_old_3f9a"))
    }

    @Test func configCheckWantsTheShopCountryAndTheWarehouse() throws {
        let scayle = try seeded()
        let (_, config) = try CLI.scayleStarter(scayle)
        #expect(try CLI.run(["config", "check", "--config", config]).status == 0)
        var yml = try String(contentsOfFile: config, encoding: .utf8)
        yml = yml.replacingOccurrences(of: "  shop_key: ms\n", with: "").replacingOccurrences(of: "  stock_warehouse: pvx-leeds\n", with: "")
        try yml.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try CLI.run(["config", "check", "--config", config])
        #expect(r.status == 2)
        #expect((r.stdout + r.stderr).contains("SCAYLE needs shop_key") && (r.stdout + r.stderr).contains("SCAYLE needs stock_warehouse"))
    }
}

@Suite struct WairCommandTests {
    @Test func checkReachesTheShopAndTheInventoryMaster() throws {
        let wair = try WairFixture()
        wair.transfers = [WairFixture.transfer("RD_1", from: "PVX-LEEDS", to: "STORE-AMS", sku: "TSH-M", quantity: 2)]
        let (_, config) = try CLI.wairStarter(wair)
        let c = try CLI.run(["config", "check", "--config", config])
        #expect(c.status == 0 && c.stdout.contains("inventory master: wair (ACME, warehouse location PVX-LEEDS)"), "\(c.stderr)")
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("wair inventory master at \(wair.baseURL): reached"))
        #expect(r.stdout.contains("open transfers from the warehouse: 1 on the first page — e.g. WAIR-RD_1"))
        #expect(wair.requests.allSatisfy { $0.headers["x-tenant"] == "ACME" })
        #expect(wair.withLock { $0.uploadCalls.isEmpty && $0.batches.isEmpty })  // nothing written
    }

    @Test func refusedCredentialsExitTwoNamingTheFileNotThePassword() throws {
        let wair = try WairFixture()
        let (dir, config) = try CLI.wairStarter(wair, password: "wair_wrong_7d3e")
        let r = try CLI.run(["storefront", "check", "--config", config])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("WAIR refused the credentials") && r.stderr.contains(dir.appendingPathComponent("wair-password").path))
        #expect(!r.stderr.contains("wair_wrong_7d3e") && !r.stdout.contains("wair_wrong_7d3e"))
    }
}
