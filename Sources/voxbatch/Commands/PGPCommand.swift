import ArgumentParser
import BatchJobs
import FileTransport
import Foundation

struct PGPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgp",
        abstract: "Check the PGP keys files to and from the warehouse are protected with.",
        subcommands: [PGPCheckCommand.self]
    )
}

struct PGPCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Say whether every configured PGP key is present, usable and not about to expire.",
        discussion: """
            Reads warehouse.pgp from the configuration: the keys files are encrypted to (encrypt_to), our \
            signing key with its secret part (sign_with) and the warehouse's signing keys (verify_with). Key \
            files are imported into the client's private keyring (STATE/gnupg) first.

            Exit codes: 0 every key usable, 1 a key expires within --warn-days (a warning: status shows it and \
            an alert goes out), 2 a key is missing, expired, revoked or cannot do its job, or PGP is not \
            configured.
            """
    )

    @OptionGroup var config: ConfigOption

    @Option(help: "Warn about keys that expire within this many days.")
    var warnDays = 30

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let configuration = try config.load()
        guard let settings = configuration.warehouse.pgp else {
            printError("voxbatch: the configuration has no warehouse.pgp section")
            throw Exit.usage
        }
        let keys: [PGPKeyStatus]
        do {
            let pgp = try OpenPGP(settings: settings, workHome: configuration.stateDirectory + "/gnupg")
            keys = pgp.check(now: CommandClock.now(), warnDays: warnDays)
        } catch let error as PGPError {
            printError("voxbatch: \(error)")
            throw Exit.usage
        }
        if json {
            try JobExecution.printJSON(keys)
        } else {
            for key in keys {
                print("\(key.role.padding(toLength: 12, withPad: " ", startingAt: 0)) \(key.state.padding(toLength: 13, withPad: " ", startingAt: 0)) "
                      + "\(key.fingerprint ?? key.reference)  \(key.userID ?? "")")
                print("             \(key.detail)")
            }
        }
        if keys.contains(where: { !["ok", "expires-soon"].contains($0.state) }) { throw Exit.usage }
        if keys.contains(where: { $0.state == "expires-soon" }) { throw Exit.rejected }
    }
}
