/// Reads a ``CSVTemplate`` from YAML, so users can adapt a layout without recompiling.
///
/// ```yaml
/// name: despatches
/// unique: [Salesorder number, Despatch number, Item code]
/// columns:
///   - name: Salesorder number
///     required: true
///     max_length: 50
///   - name: No of items
///     type: integer
///     min: 1
///   - name: Despatch date
///     type: date
///     formats: ["dd/MM/yyyy HH:mm", iso8601]
///   - name: Status
///     type: enum
///     values: [Accepted, Quarantined, Rejected]
///   - name: Postcode
///     type: postcode
///     country_column: Country
/// ```
public enum TemplateLoader {
    static let typeNames = ["text", "integer", "decimal", "date", "email", "boolean", "enum", "postcode"]

    /// Parses a template from YAML text.
    ///
    /// - Throws: ``TemplateLoadError`` listing every problem with its YAML path.
    public static func load(yaml text: String) throws -> CSVTemplate {
        let doc = try StrictYAML(text: text)
        let template = parse(doc.root, in: doc)
        if !doc.problems.isEmpty || template == nil {
            throw TemplateLoadError(problems: doc.problems)
        }
        return template!
    }

    /// Parses a template from a mapping inside a larger document (a config file's template override).
    public static func parse(_ value: StrictYAML.Value, in doc: StrictYAML) -> CSVTemplate? {
        guard let map = value.mapping(allowed: ["name", "unique", "reject_unknown_columns", "columns"]) else {
            return nil
        }
        let name = map.required("name")?.string ?? "template"
        let unique = map["unique"]?.strings ?? []
        let rejectUnknown = map["reject_unknown_columns"]?.bool ?? false
        var columns: [ColumnRule] = []
        for item in map.required("columns")?.list ?? [] {
            if let column = parseColumn(item, in: doc) { columns.append(column) }
        }
        if columns.isEmpty { doc.report(value, "a template needs at least one column", path: "columns") }
        return CSVTemplate(name: name, columns: columns, uniqueKey: unique, rejectsUnknownColumns: rejectUnknown)
    }

    private static func parseColumn(_ item: StrictYAML.Value, in doc: StrictYAML) -> ColumnRule? {
        guard let col = item.mapping(allowed: [
            "name", "aliases", "type", "required", "max_length", "min", "max", "scale", "formats", "values",
            "case_sensitive", "country_column",
        ]) else { return nil }
        guard let name = col.required("name")?.string else { return nil }
        let typeName = col["type"]?.string ?? "text"
        let type: FieldType
        switch typeName {
        case "text": type = .text
        case "integer": type = .integer(min: col["min"]?.int, max: col["max"]?.int)
        case "decimal": type = .decimal(scale: col["scale"]?.int ?? 2, min: col["min"]?.double)
        case "date":
            let formats = col.required("formats")?.strings ?? []
            if formats.isEmpty { doc.report(item, "a date column needs at least one format", path: col.path + ".formats") }
            type = .date(formats: formats)
        case "email": type = .email
        case "boolean": type = .boolean
        case "enum":
            let values = col.required("values")?.strings ?? []
            type = .enumeration(values: values, caseSensitive: col["case_sensitive"]?.bool ?? false)
        case "postcode": type = .postcode(countryColumn: col["country_column"]?.string)
        default:
            doc.report(col["type"], "unknown type \"\(typeName)\"; use one of \(typeNames.joined(separator: ", "))")
            return nil
        }
        return ColumnRule(name, type, required: col["required"]?.bool ?? false, maxLength: col["max_length"]?.int,
                          aliases: col["aliases"]?.strings ?? [])
    }
}

/// A template file that could not be used, with every problem found.
public struct TemplateLoadError: Error, CustomStringConvertible {
    /// The problems, each with its YAML path.
    public let problems: [YAMLProblem]

    public var description: String {
        "template is not valid:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
