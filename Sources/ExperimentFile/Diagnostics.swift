import Foundation

/// A place in an experiment file (1-based line and column, as editors count them).
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// One problem found while validating an experiment: where, which setting, what is wrong, what to do.
public struct Issue: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Dotted key path of the setting, e.g. `training.optimizer.lr` (or `matrix.seed`, `--only`).
    public var keyPath: String
    public var location: SourceLocation?
    /// What is wrong, e.g. "unknown key 'lrr'".
    public var problem: String
    /// What to do about it, e.g. "did you mean 'lr'?".
    public var fix: String

    public init(keyPath: String, location: SourceLocation?, problem: String, fix: String) {
        self.keyPath = keyPath
        self.location = location
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let place = location.map { "\($0): " } ?? ""
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(place)\(key)\(problem). \(fix)"
    }
}

/// Why an experiment file cannot be used. `description` is the full message for the user (file, line, key path,
/// problem and fix); nothing here is ever printed by the library itself.
public enum ExperimentError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file cannot be read.
    case unreadable(file: String, reason: String)
    /// Not valid YAML. Line and column are 1-based.
    case syntax(file: String, line: Int, column: Int, problem: String)
    /// Valid YAML, invalid experiment: every problem found, in file order.
    case invalid(file: String, issues: [Issue])

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read the experiment file: \(reason)."
        case let .syntax(file, line, column, problem):
            return "\(file):\(line):\(column): YAML syntax error: \(problem). Fix the YAML at line \(line), "
                + "column \(column) (indent with spaces, `key: value`, lists as `[a, b]` or `- item` lines)."
        case let .invalid(file, issues):
            let noun = issues.count == 1 ? "problem" : "problems"
            return "\(file): \(issues.count) \(noun):\n"
                + issues.map { file.hasPrefix("--") ? "  \($0)" : "  \(file):\($0.location == nil ? " " : "")\($0)" }
                    .joined(separator: "\n")
        }
    }

    /// The issues of an `.invalid` error (empty otherwise).
    public var issues: [Issue] {
        if case let .invalid(_, issues) = self { return issues }
        return []
    }
}

/// Collects issues while a document is read; reading goes on after a problem so every problem is reported.
final class Diagnostics {
    private(set) var issues: [Issue] = []
    private var seen = Set<Issue>()

    func report(_ keyPath: String, _ location: SourceLocation?, _ problem: String, fix: String) {
        let issue = Issue(keyPath: keyPath, location: location, problem: problem, fix: fix)
        if seen.insert(issue).inserted { issues.append(issue) }
    }

    var sortedIssues: [Issue] {
        issues.enumerated().sorted { a, b in
            let la = a.element.location.map { ($0.line, $0.column) } ?? (Int.max, 0)
            let lb = b.element.location.map { ($0.line, $0.column) } ?? (Int.max, 0)
            if la != lb { return la < lb }
            return a.offset < b.offset
        }.map(\.element)
    }
}
