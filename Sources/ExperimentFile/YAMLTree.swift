import Foundation
import Yams

/// A YAML document reduced to what experiment files use, with source locations kept for messages.
indirect enum YNode {
    case scalar(String, plain: Bool, SourceLocation?)
    case mapping([YEntry], SourceLocation?)
    case sequence([YNode], SourceLocation?)

    var location: SourceLocation? {
        switch self {
        case let .scalar(_, _, l), let .mapping(_, l), let .sequence(_, l): return l
        }
    }

    /// `~`, `null` or nothing, unquoted.
    var isNull: Bool {
        if case let .scalar(s, plain, _) = self, plain { return s.isEmpty || s == "~" || s.lowercased() == "null" }
        return false
    }

    /// Short text for labels and messages: scalars as written, collections in flow style.
    var display: String {
        switch self {
        case let .scalar(s, plain, _): return plain ? s : "'\(s)'"
        case let .sequence(items, _): return "[" + items.map(\.display).joined(separator: ", ") + "]"
        case let .mapping(entries, _):
            return "{" + entries.map { "\($0.key): \($0.value.display)" }.joined(separator: ", ") + "}"
        }
    }

    /// Kind of node, for "expected X, got Y" messages.
    var kindName: String {
        switch self {
        case let .scalar(s, plain, _):
            if plain { return isNull ? "nothing" : "'\(s)'" }
            return "the quoted text '\(s)' (remove the quotes for a number or true/false)"
        case .sequence: return "a list"
        case .mapping: return "a section of keys"
        }
    }

    func value(forKey key: String) -> YNode? {
        if case let .mapping(entries, _) = self { return entries.last { $0.key == key }?.value }
        return nil
    }
}

struct YEntry {
    var key: String
    var keyLocation: SourceLocation?
    var value: YNode
}

enum YAMLTree {
    /// Parses `text` into a tree. Throws `ExperimentError.syntax` with line and column on malformed YAML, and
    /// `.invalid` for YAML features experiment files do not use (non-string keys, aliases).
    static func parse(_ text: String, file: String) throws -> YNode? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw ExperimentError.syntax(file: file, line: 1, column: 1, problem: "\(error)")
        }
        guard let node else { return nil }
        let diag = Diagnostics()
        let budget = ExpansionBudget()
        let tree = convert(node, path: "", diag: diag, budget: budget)
        if budget.exceeded {
            throw ExperimentError.invalid(file: file, issues: [Issue(
                keyPath: budget.path, location: budget.location,
                problem: "the YAML expands to more than \(ExpansionBudget.maxValues) values or nests deeper than "
                    + "\(ExpansionBudget.maxDepth) levels (anchors and aliases, &name / *name, repeating each other)",
                fix: "An experiment needs a few dozen values: write them out without aliases")])
        }
        if !diag.issues.isEmpty { throw ExperimentError.invalid(file: file, issues: diag.sortedIssues) }
        return tree
    }

    static func syntaxError(_ error: YamlError, file: String) -> ExperimentError {
        func clean(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var text = clean(problem)
            if let context { text += " (\(clean(context.text)) at line \(context.mark.line), column \(context.mark.column))" }
            return .syntax(file: file, line: mark.line, column: mark.column, problem: text)
        case let .duplicatedKeysInMapping(duplicates, context):
            return .syntax(file: file, line: context.mark.line, column: context.mark.column,
                           problem: "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one "
                           + "section; keep only one of them")
        case let .reader(problem, offset, _, yaml):
            var line = 1, column = 1
            if let offset {
                for ch in yaml.unicodeScalars.prefix(offset) {
                    if ch == "\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
            return .syntax(file: file, line: line, column: column, problem: clean(problem))
        default:
            return .syntax(file: file, line: 1, column: 1, problem: "\(error)")
        }
    }

    static func location(_ mark: Mark?) -> SourceLocation? {
        mark.map { SourceLocation(line: $0.line, column: $0.column) }
    }

    /// Yams shares an anchored node among its aliases, so a few lines of aliases of aliases ("billion laughs")
    /// describe a tree of billions of values; converting it would exhaust memory. The budget stops the walk.
    final class ExpansionBudget {
        static let maxValues = 100_000
        static let maxDepth = 64
        var left = maxValues
        var exceeded = false
        /// Where the walk stopped: an anchored value its aliases repeat.
        var path = "", location: SourceLocation?
    }

    static func convert(_ node: Node, path: String, diag: Diagnostics, budget: ExpansionBudget, depth: Int = 0) -> YNode {
        budget.left -= 1
        if !budget.exceeded && (budget.left < 0 || depth > ExpansionBudget.maxDepth) {
            budget.exceeded = true
            budget.path = path
            budget.location = location(node.mark)
        }
        if budget.exceeded { return .scalar("", plain: true, nil) }
        func convert(_ node: Node, path: String, diag: Diagnostics) -> YNode {
            YAMLTree.convert(node, path: path, diag: diag, budget: budget, depth: depth + 1)
        }
        switch node {
        case let .scalar(s):
            return .scalar(s.string, plain: s.style == .plain || s.style == .any, location(s.mark))
        case let .sequence(seq):
            return .sequence(seq.enumerated().map { convert($1, path: "\(path)[\($0)]", diag: diag) },
                             location(seq.mark))
        case let .mapping(map):
            var entries: [YEntry] = []
            for (key, value) in map {
                guard case let .scalar(k) = key else {
                    diag.report(path, location(key.mark), "a key must be a plain name, not \(key)",
                                fix: "Write keys as `name: value`")
                    continue
                }
                let childPath = path.isEmpty ? k.string : "\(path).\(k.string)"
                entries.append(YEntry(key: k.string, keyLocation: location(k.mark),
                                      value: convert(value, path: childPath, diag: diag)))
            }
            return .mapping(entries, location(map.mark))
        case let .alias(alias):
            diag.report(path, location(alias.mark), "YAML aliases (*name) are not supported",
                        fix: "Write the value out in full")
            return .scalar("", plain: true, location(alias.mark))
        }
    }
}
