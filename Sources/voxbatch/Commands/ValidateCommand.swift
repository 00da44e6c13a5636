import ArgumentParser
import BatchJobs
import CSVKit
import Foundation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check every row of a CSV file against a template and report the invalid ones.",
        discussion: """
            Streams the file (any size), prints a summary and, with --errors, writes one line per problem \
            (row, line, column, value, rule, message, then the original fields) so the file can be fixed \
            and re-dropped.

            Built-in templates: \(PeoplevoxTemplates.all.map(\.name).joined(separator: ", ")); \
            the short form (despatches) works too. A path ending in .yml or .yaml loads a template file.

            Exit codes: 0 all rows valid, 1 some rows invalid, 2 usage error, unknown template or unreadable file.
            """
    )

    @Argument(help: "The CSV file to check.")
    var file: String

    @Option(help: "A built-in template name, or the path of a YAML template.")
    var template: String

    @OptionGroup var csv: CSVReadOptions

    @Option(help: "Write the invalid rows to this CSV file.")
    var errors: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func run() throws {
        let template = try loadTemplate(template)
        let config = try csv.configuration()
        let summary: ValidationSummary
        do {
            let reader = try CSVReader(path: file, configuration: config)
            if let errors {
                let report = ErrorReport(sink: try FileDescriptorSink(path: errors))
                summary = try FileValidation.run(reader: reader, template: template, report: report)
            } else {
                summary = try FileValidation.run(reader: reader, template: template)
            }
        } catch let error as CSVError {
            printError("voxbatch: \(file): \(error)")
            throw Exit.usage
        }
        if json {
            print(try jsonString(summary, file: file))
        } else {
            printHuman(summary)
        }
        if summary.invalid > 0 || !summary.fileErrors.isEmpty { throw Exit.rejected }
    }

    private func printHuman(_ s: ValidationSummary) {
        print("\(file): \(s.rows) rows, \(s.valid) valid, \(s.invalid) invalid (encoding \(s.encoding))")
        for message in s.fileErrors { print("  file: \(message)") }
        for (kind, count) in s.topProblems.prefix(10) {
            let example = s.examples[kind].map {
                " — e.g. row \($0.row) (line \($0.line)) \($0.column): \($0.message)"
                    + ($0.value.isEmpty ? "" : " [\($0.value)]")
            } ?? ""
            print("  \(count) × \(kind)\(example)")
        }
        if let errors, s.invalid > 0 || !s.fileErrors.isEmpty { print("Invalid rows written to \(errors)") }
    }
}

func loadTemplate(_ nameOrPath: String) throws -> CSVTemplate {
    if nameOrPath.hasSuffix(".yml") || nameOrPath.hasSuffix(".yaml") {
        guard let text = try? String(contentsOfFile: nameOrPath, encoding: .utf8) else {
            printError("voxbatch: cannot read template file \(nameOrPath)")
            throw Exit.usage
        }
        do {
            return try TemplateLoader.load(yaml: text)
        } catch {
            printError("voxbatch: \(nameOrPath): \(error)")
            throw Exit.usage
        }
    }
    guard let template = PeoplevoxTemplates.named(nameOrPath) else {
        printError("voxbatch: unknown template \"\(nameOrPath)\"; built-in: "
                   + PeoplevoxTemplates.all.map(\.name).joined(separator: ", "))
        throw Exit.usage
    }
    return template
}

func jsonString(_ summary: ValidationSummary, file: String) throws -> String {
    struct Output: Encodable {
        let file: String
        let summary: ValidationSummary
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(Output(file: file, summary: summary)), as: UTF8.self)
}
