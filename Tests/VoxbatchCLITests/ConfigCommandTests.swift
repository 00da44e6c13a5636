import Foundation
import Testing

@Suite struct ConfigCommandTests {
    @Test func initWritesAWorkingStarterAndRefusesToOverwrite() throws {
        let dir = try CLI.temporaryDirectory()
        let path = dir.appendingPathComponent("voxbatch.yml").path
        let first = try CLI.run(["init", "--config", path, "--client", "acme"])
        #expect(first.status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".voxbatch/exchange/in").path))
        let check = try CLI.run(["config", "check", "--config", path])
        #expect(check.status == 0)
        #expect(check.stdout.contains("valid") && check.stdout.contains("client: acme"))
        let again = try CLI.run(["init", "--config", path])
        #expect(again.status == 2)
        #expect(again.stderr.contains("already exists"))
    }

    @Test func checkListsProblemsAsJSONAndExitsTwo() throws {
        let dir = try CLI.temporaryDirectory()
        let path = dir.appendingPathComponent("bad.yml").path
        try "client: acme\nwarehouse: {url: \"file:///tmp\", pasword_env: X}\nstorefront: {type: file, folder: s}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let r = try CLI.run(["config", "check", "--json"], environment: ["VOXBATCH_CONFIG": path])
        #expect(r.status == 2)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["valid"] as? Bool == false)
        let problems = object?["problems"] as? [[String: String]]
        #expect(problems?.first?["path"] == "warehouse.pasword_env")
    }
}
