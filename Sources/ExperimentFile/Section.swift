import Foundation

/// Typed, checked access to one mapping of an experiment file. Every problem is reported to `diag` with the key
/// path; getters then return nil and reading goes on, so one pass finds all problems.
struct Section {
    let path: String
    let entries: [YEntry]
    let location: SourceLocation?
    let diag: Diagnostics

    /// Reads `node` as a section whose keys must be among `allowed`. A missing node is an empty section.
    init(_ node: YNode?, path: String, allowed: [String], diag: Diagnostics, keyLocation: SourceLocation? = nil) {
        self.path = path
        self.diag = diag
        switch node {
        case let .mapping(entries, location)?:
            self.entries = entries
            self.location = location
        case let node? where !node.isNull:
            self.entries = []
            self.location = node.location
            diag.report(path, node.location, "expected a section of `key: value` settings, got \(node.kindName)",
                        fix: "Indent the settings of \(path) under it: \(Section.sectionHint(allowed))")
            return
        default:
            self.entries = []
            self.location = keyLocation
        }
        for entry in entries where !allowed.contains(entry.key) {
            let keyPath = Section.join(path, entry.key)
            let here = path.isEmpty ? "at the top level" : "in \(path)"
            if let suggestion = nearest(entry.key, in: allowed) {
                diag.report(keyPath, entry.keyLocation, "unknown key '\(entry.key)'",
                            fix: "Did you mean '\(suggestion)'? Valid keys \(here): \(allowed.joined(separator: ", "))")
            } else {
                diag.report(keyPath, entry.keyLocation, "unknown key '\(entry.key)'",
                            fix: "Remove it; valid keys \(here): \(allowed.joined(separator: ", "))")
            }
        }
    }

    static func sectionHint(_ allowed: [String]) -> String {
        allowed.prefix(3).map { "`\($0): …`" }.joined(separator: ", ")
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func keyPath(_ key: String) -> String { Section.join(path, key) }

    func entry(_ key: String) -> YEntry? { entries.last { $0.key == key } }

    /// The value node, nil when absent or null.
    func node(_ key: String) -> YNode? {
        guard let e = entry(key), !e.value.isNull else { return nil }
        return e.value
    }

    func has(_ key: String) -> Bool { node(key) != nil }

    func location(_ key: String) -> SourceLocation? {
        entry(key).flatMap { $0.value.location ?? $0.keyLocation } ?? location
    }

    func report(_ key: String, _ problem: String, fix: String) {
        diag.report(keyPath(key), location(key), problem, fix: fix)
    }

    func missing(_ key: String, example: String) {
        diag.report(keyPath(key), location, "required setting is missing",
                    fix: "Add `\(key): \(example)`\(path.isEmpty ? "" : " under \(path)")")
    }

    func section(_ key: String, allowed: [String]) -> Section {
        Section(node(key), path: keyPath(key), allowed: allowed, diag: diag, keyLocation: entry(key)?.keyLocation)
    }

    // MARK: scalars

    func scalarText(_ key: String, expected: String, example: String) -> String? {
        guard let n = node(key) else { return nil }
        guard case let .scalar(s, _, _) = n else {
            report(key, "expected \(expected), got \(n.kindName)", fix: "Write e.g. `\(key): \(example)`")
            return nil
        }
        return s
    }

    func string(_ key: String, example: String) -> String? {
        scalarText(key, expected: "a single value", example: example)?
            .trimmingCharacters(in: .whitespaces)
    }

    func int(_ key: String, example: String, min: Int? = nil, max: Int? = nil, why: String = "") -> Int? {
        guard let n = node(key) else { return nil }
        guard case let .scalar(s, plain, _) = n, plain, let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            report(key, "expected a whole number, got \(n.kindName)", fix: "Write e.g. `\(key): \(example)`")
            return nil
        }
        if let min, v < min {
            report(key, "must be at least \(min), got \(v)\(why)", fix: "Set \(keyPath(key)) to \(min) or more")
            return nil
        }
        if let max, v > max {
            report(key, "must be at most \(max), got \(v)\(why)", fix: "Set \(keyPath(key)) to \(max) or less")
            return nil
        }
        return v
    }

    static func number(_ s: String) -> Double? {
        let t = s.trimmingCharacters(in: .whitespaces)
        guard let v = Double(t), v.isFinite, !t.lowercased().contains("n"), !t.lowercased().contains("x") else {
            return nil  // rejects inf, nan, hex
        }
        return v
    }

    /// A finite number within [min, max] (bounds inclusive unless `openMin`/`openMax`).
    func double(_ key: String, example: String, min: Double? = nil, max: Double? = nil,
                openMin: Bool = false, openMax: Bool = false) -> Double? {
        guard let n = node(key) else { return nil }
        guard case let .scalar(s, plain, _) = n, plain, let v = Section.number(s) else {
            report(key, "expected a number, got \(n.kindName)", fix: "Write e.g. `\(key): \(example)`")
            return nil
        }
        if !Section.inRange(v, min: min, max: max, openMin: openMin, openMax: openMax) {
            let range = Section.rangeText(min: min, max: max, openMin: openMin, openMax: openMax)
            report(key, "must be \(range), got \(s)", fix: "Set \(keyPath(key)) to a value \(range), e.g. \(example)")
            return nil
        }
        return v
    }

    static func inRange(_ v: Double, min: Double?, max: Double?, openMin: Bool, openMax: Bool) -> Bool {
        if let min, openMin ? v <= min : v < min { return false }
        if let max, openMax ? v >= max : v > max { return false }
        return true
    }

    static func rangeText(min: Double?, max: Double?, openMin: Bool, openMax: Bool) -> String {
        func f(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }
        switch (min, max) {
        case let (lo?, hi?): return "\(openMin ? "greater than" : "at least") \(f(lo)) and \(openMax ? "less than" : "at most") \(f(hi))"
        case let (lo?, nil): return openMin ? "greater than \(f(lo))" : "at least \(f(lo))"
        case let (nil, hi?): return openMax ? "less than \(f(hi))" : "at most \(f(hi))"
        default: return "a finite number"
        }
    }

    static func boolean(_ s: String) -> Bool? {
        switch s.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    func bool(_ key: String) -> Bool? {
        guard let n = node(key) else { return nil }
        guard case let .scalar(s, plain, _) = n, plain, let v = Section.boolean(s) else {
            report(key, "expected true or false, got \(n.kindName)", fix: "Write `\(key): true` or `\(key): false`")
            return nil
        }
        return v
    }

    /// One of `choices` (case-insensitive), with the nearest suggested on a typo.
    func choice(_ key: String, _ choices: [String]) -> String? {
        guard let s = string(key, example: choices[0]) else { return nil }
        if let c = choices.first(where: { $0 == s.lowercased() }) { return c }
        let suggestion = nearest(s, in: choices).map { "Did you mean '\($0)'? " } ?? ""
        report(key, "'\(s)' is not one of \(choices.joined(separator: ", "))",
               fix: "\(suggestion)Use one of: \(choices.joined(separator: ", "))")
        return nil
    }

    // MARK: lists

    func list(_ key: String, example: String) -> [YNode]? {
        guard let n = node(key) else { return nil }
        guard case let .sequence(items, _) = n else {
            report(key, "expected a list, got \(n.kindName)", fix: "Write e.g. `\(key): \(example)`")
            return nil
        }
        return items
    }

    func doubles(_ key: String, count: Int, example: String, min: Double? = nil, max: Double? = nil,
                 openMin: Bool = false) -> [Double]? {
        guard let items = list(key, example: example) else { return nil }
        var out: [Double] = []
        for item in items {
            guard case let .scalar(s, true, _) = item, let v = Section.number(s) else {
                report(key, "expected a list of numbers, got \(item.kindName) in it", fix: "Write e.g. `\(key): \(example)`")
                return nil
            }
            guard Section.inRange(v, min: min, max: max, openMin: openMin, openMax: false) else {
                let range = Section.rangeText(min: min, max: max, openMin: openMin, openMax: false)
                report(key, "every value must be \(range), got \(s)", fix: "Write e.g. `\(key): \(example)`")
                return nil
            }
            out.append(v)
        }
        guard out.count == count else {
            report(key, "expected \(count) numbers, got \(out.count)", fix: "Write e.g. `\(key): \(example)`")
            return nil
        }
        return out
    }

    /// A list of words (empty allowed), each trimmed and non-empty.
    func strings(_ key: String, example: String) -> [String]? {
        guard let items = list(key, example: example) else { return nil }
        var out: [String] = []
        for item in items {
            guard case let .scalar(s, _, _) = item else {
                report(key, "expected a list of names, got \(item.kindName) in it", fix: "Write e.g. `\(key): \(example)`")
                return nil
            }
            let name = s.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else {
                report(key, "the list has an empty name", fix: "Write e.g. `\(key): \(example)`")
                return nil
            }
            out.append(name)
        }
        return out
    }

    func ints(_ key: String, example: String, min: Int) -> [Int]? {
        guard let items = list(key, example: example) else { return nil }
        guard !items.isEmpty else {
            report(key, "the list is empty", fix: "Write e.g. `\(key): \(example)`")
            return nil
        }
        var out: [Int] = []
        for item in items {
            guard case let .scalar(s, true, _) = item, let v = Int(s) else {
                report(key, "expected a list of whole numbers, got \(item.kindName) in it",
                       fix: "Write e.g. `\(key): \(example)`")
                return nil
            }
            guard v >= min else {
                report(key, "every value must be at least \(min), got \(v)", fix: "Write e.g. `\(key): \(example)`")
                return nil
            }
            out.append(v)
        }
        return out
    }
}
