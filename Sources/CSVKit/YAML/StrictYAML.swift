import Yams

/// One problem in a YAML file, with the path to the value (`columns[3].type`) and its line.
public struct YAMLProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The dotted path to the value, e.g. `warehouse.known_hosts`.
    public var path: String
    /// The 1-based line in the file, or 0 when unknown.
    public var line: Int
    /// What is wrong.
    public var message: String

    /// Creates a problem.
    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        let place = path.isEmpty ? "" : path + ": "
        return (line > 0 ? "line \(line): " : "") + place + message
    }
}

/// Reads a YAML document strictly: every key must be known, every value of the right type, and every
/// problem is collected with its path so a person sees them all at once.
public final class StrictYAML {
    /// Problems found so far.
    public private(set) var problems: [YAMLProblem] = []
    /// The document's root.
    public private(set) var root: Value!

    /// Parses `text`.
    ///
    /// - Throws: ``YAMLProblem`` when the text is not YAML at all.
    public init(text: String) throws {
        do {
            // Without Yams' default resolver: its tag rules are NSRegularExpressions, which open ICU (about 6 MiB
            // of every run's memory), and tags are never read here — values are read as text and checked by type
            // by the accessors below.
            let node = try Yams.compose(yaml: text, .basic) ?? Node.mapping(Node.Mapping([]))
            root = Value(node: node, path: "", document: self)
        } catch let error as YamlError {
            throw YAMLProblem(path: "", line: 0, message: "not valid YAML: \(error)")
        }
    }

    /// Records a problem at `value`'s path.
    public func report(_ value: Value?, _ message: String, path: String? = nil) {
        problems.append(YAMLProblem(path: path ?? value?.path ?? "", line: value?.node.mark?.line ?? 0,
                                    message: message))
    }

    /// A value in the document and where it is.
    public struct Value {
        /// The node.
        public let node: Node
        /// Its path from the root.
        public let path: String
        let document: StrictYAML

        /// Reads a mapping whose keys must all be in `allowed`; unknown keys are reported.
        public func mapping(allowed: [String]) -> Mapping? {
            guard case .mapping(let map) = node else {
                document.report(self, "expected a mapping (key: value lines)")
                return nil
            }
            var entries: [(String, Node)] = []
            for (key, value) in map {
                guard let name = key.string else {
                    document.report(self, "a key is not text")
                    continue
                }
                if !allowed.contains(name) {
                    let hint = allowed.min(by: { editDistance($0, name) < editDistance($1, name) })
                        .flatMap { editDistance($0, name) <= 3 ? " (did you mean \"\($0)\"?)" : nil } ?? ""
                    document.report(Value(node: key, path: join(name), document: document),
                                    "unknown key \"\(name)\"\(hint); allowed: \(allowed.joined(separator: ", "))")
                    continue
                }
                entries.append((name, value))
            }
            return Mapping(entries: entries, owner: self)
        }

        /// Reads a mapping with free-form keys (a lookup table such as a SKU map).
        public func table() -> [(key: String, value: Value)]? {
            guard case .mapping(let map) = node else {
                document.report(self, "expected a mapping (key: value lines)")
                return nil
            }
            return map.compactMap { key, value in
                guard let name = key.string else {
                    document.report(self, "a key is not text")
                    return nil
                }
                return (name, Value(node: value, path: join(name), document: document))
            }
        }

        /// Reads a list.
        public var list: [Value]? {
            guard case .sequence(let seq) = node else {
                document.report(self, "expected a list")
                return nil
            }
            return seq.enumerated().map { Value(node: $1, path: "\(path)[\($0)]", document: document) }
        }

        /// Reads text (numbers and booleans are taken as written).
        public var string: String? {
            guard case .scalar(let scalar) = node else {
                document.report(self, "expected a single value")
                return nil
            }
            return scalar.string
        }

        /// Reads a whole number.
        public var int: Int? {
            guard let text = string else { return nil }
            guard let value = Int(text) else {
                document.report(self, "expected a whole number, got \"\(text)\"")
                return nil
            }
            return value
        }

        /// Reads a number.
        public var double: Double? {
            guard let text = string else { return nil }
            guard let value = Double(text) else {
                document.report(self, "expected a number, got \"\(text)\"")
                return nil
            }
            return value
        }

        /// Reads `true`/`false` (also `yes`/`no`).
        public var bool: Bool? {
            guard let text = string?.lowercased() else { return nil }
            switch text {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default:
                document.report(self, "expected true or false, got \"\(text)\"")
                return nil
            }
        }

        /// Reads a list of text values (a single value is taken as a list of one).
        public var strings: [String]? {
            if case .scalar = node { return string.map { [$0] } }
            return list?.compactMap(\.string)
        }

        func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    /// A mapping's entries, looked up by key.
    public struct Mapping {
        let entries: [(String, Node)]
        let owner: Value

        /// The value at `key`, if present.
        public subscript(key: String) -> Value? {
            entries.first { $0.0 == key }.map { Value(node: $0.1, path: owner.join(key), document: owner.document) }
        }

        /// The value at `key`; its absence is reported.
        public func required(_ key: String) -> Value? {
            if let value = self[key] { return value }
            owner.document.report(owner, "\"\(key)\" is required", path: owner.join(key))
            return nil
        }

        /// The path of this mapping.
        public var path: String { owner.path }
    }
}

/// Levenshtein distance, for "did you mean" hints on misspelt keys.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(1, b.count) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
