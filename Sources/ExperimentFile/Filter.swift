import AblateCore
import Foundation

extension RunConfig {
    /// Every leaf setting by dotted key path (`training.optimizer.lr` → 0.001); lists are leaves.
    public var flattened: [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        func walk(_ v: JSONValue, _ path: String) {
            if case let .object(o) = v {
                for (k, child) in o { walk(child, path.isEmpty ? k : "\(path).\(k)") }
            } else {
                out[path] = v
            }
        }
        walk(jsonValue, "")
        return out
    }
}

extension Experiment {
    /// The runs selected by `--only KEY=VALUE` filters. KEY is a dotted key path (`model`, `seed`,
    /// `training.optimizer.lr`; a section with a name, like `model`, means its name). Several filters on one key
    /// are alternatives (OR); filters on different keys must all hold (AND). Numbers compare by value
    /// (`lr=1e-3` matches 0.001). Throws `ExperimentError.invalid` naming `--only` for unknown keys or when no
    /// run matches.
    public func runs(matching filters: [String]) throws -> [ResolvedRun] {
        guard !filters.isEmpty else { return runs }
        var wanted: [(key: String, values: [String])] = []
        var issues: [Issue] = []
        let known = Set(runs.flatMap { $0.config.flattened.keys })
        for filter in filters {
            guard let eq = filter.firstIndex(of: "="), eq != filter.startIndex else {
                issues.append(Issue(keyPath: "--only", location: nil, problem: "'\(filter)' is not KEY=VALUE",
                                    fix: "Write e.g. --only model=densenet121-se16 --only seed=1"))
                continue
            }
            var key = String(filter[..<eq]).trimmingCharacters(in: .whitespaces)
            let value = String(filter[filter.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if let sub = ConfigReader.shorthands[key] { key += ".\(sub)" }
            guard known.contains(key) else {
                let suggestion = nearest(key, in: Array(known)).map { "Did you mean '\($0)'? " } ?? ""
                issues.append(Issue(keyPath: "--only \(key)", location: nil, problem: "unknown setting '\(key)'",
                                    fix: "\(suggestion)Use a dotted key path such as model, seed or "
                                        + "training.optimizer.lr"))
                continue
            }
            if let i = wanted.firstIndex(where: { $0.key == key }) {
                wanted[i].values.append(value)
            } else {
                wanted.append((key, [value]))
            }
        }
        if !issues.isEmpty { throw ExperimentError.invalid(file: "--only", issues: issues) }
        let selected = runs.filter { run in
            let flat = run.config.flattened
            return wanted.allSatisfy { want in
                guard let actual = flat[want.key] else { return false }
                return want.values.contains { Experiment.matches(actual, $0) }
            }
        }
        if selected.isEmpty {
            let listing = wanted.map { want -> String in
                let values = Set(runs.compactMap { $0.config.flattened[want.key].map(Experiment.text) }).sorted()
                return "\(want.key) takes \(values.joined(separator: ", "))"
            }.joined(separator: "; ")
            throw ExperimentError.invalid(file: "--only", issues: [Issue(
                keyPath: "--only", location: nil, problem: "no run of '\(name)' matches \(filters.joined(separator: " "))",
                fix: "In this experiment \(listing)")])
        }
        return selected
    }

    static func text(_ v: JSONValue) -> String {
        if case let .string(s) = v { return s }
        return v.canonical
    }

    static func matches(_ actual: JSONValue, _ wanted: String) -> Bool {
        switch actual {
        case let .int(i):
            if let w = Int(wanted) { return w == i }
            return Double(wanted) == Double(i)
        case let .double(d):
            return Double(wanted) == d
        case let .bool(b):
            return Section.boolean(wanted) == b
        case let .string(s):
            return s.lowercased() == wanted.lowercased()
        default:
            return actual.canonical == wanted.replacingOccurrences(of: " ", with: "")
        }
    }
}
