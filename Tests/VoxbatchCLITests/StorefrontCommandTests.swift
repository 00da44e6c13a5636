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
