import AblateCore
import Foundation

/// One matrix axis: a dotted key path and the values it takes, as written.
public struct MatrixAxis: Equatable, Sendable {
    public var keyPath: String
    public var values: [String]
}

/// The value one axis takes in one run.
public struct AxisValue: Equatable, Sendable {
    public var keyPath: String
    public var value: String
}

/// One fully resolved run of an experiment.
public struct ResolvedRun: Equatable, Sendable {
    /// 1-based position in the expansion (the order runs are queued in).
    public var index: Int
    /// Axis values, e.g. `model=densenet121-se8 seed=2`; the experiment name when there is no matrix.
    public var label: String
    public var axisValues: [AxisValue]
    public var config: RunConfig
    /// `config.canonicalJSON`, kept to avoid re-encoding.
    public var canonicalJSON: String
    /// SHA-256 of `canonicalJSON`, lower-case hex.
    public var configHash: String
    /// `config.data.path` resolved to an absolute path (see `Experiment.LoadOptions.baseDirectory`).
    public var dataDirectory: String
}

/// An experiment file, validated and expanded into runs.
///
/// The file's keys, their values and defaults, shorthands and the matrix rules are documented once, in
/// docs/experiment-file.md (its reference table is generated from the settings' declarations, and its examples
/// are loaded by the tests). In short: every combination of the matrix's values is one run; axes multiply in file
/// order, the last varying fastest; settings that do not apply (e.g. `momentum` with Adam) are dropped from the
/// resolved configuration, so they do not change its hash; every combination is validated before anything runs.
public struct Experiment: Sendable {
    public var name: String
    public var description: String?
    /// The file it was read from, if any.
    public var filePath: String?
    /// The file's text, stored with the runs.
    public var fileText: String
    /// `target:`, or `Target.course` when the file names none.
    public var target: Target
    /// `report:`: how the report reads the runs (positive class, baseline); not part of any run's configuration.
    public var report = ReportSettings()
    /// `tracking:`: where `ablate run` logs the runs live; not part of any run's configuration.
    public var tracking = TrackingSettings()
    public var axes: [MatrixAxis]
    /// Runs in queue order, without duplicate configurations.
    public var runs: [ResolvedRun]
    /// Things worth telling the user that are not errors (e.g. two combinations giving the same configuration).
    public var warnings: [String]

    public struct LoadOptions: Sendable {
        /// Replaces `data.path` of every run (the `--data PATH` option).
        public var dataOverride: String?
        /// Folder that relative data paths are resolved against; default: the current directory.
        public var baseDirectory: String
        /// Check that the data folder exists (unless `data.synthesize` is set). Off only for tests/tools.
        public var checkDataExists: Bool
        /// Refuse matrices larger than this.
        public var maxRuns: Int
        /// The text is one a run store kept (for `report` and `merge`): `target: test_acc > X`, which files could
        /// once say, is read as `test_acc >= X` (one test image apart at most) instead of failing the whole file.
        public var storedText = false

        public init(dataOverride: String? = nil, baseDirectory: String = FileManager.default.currentDirectoryPath,
                    checkDataExists: Bool = true, maxRuns: Int = 10_000) {
            self.dataOverride = dataOverride
            self.baseDirectory = baseDirectory
            self.checkDataExists = checkDataExists
            self.maxRuns = maxRuns
        }
    }

    /// Reads, validates and expands an experiment file. Throws `ExperimentError`.
    public static func load(file: String, options: LoadOptions = LoadOptions()) throws -> Experiment {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: file, isDirectory: &isDir)
            let reason = !exists ? nil : isDir.boolValue ? "it is a folder; give the experiment's .yaml file"
                : access(file, R_OK) != 0 ? "permission denied (this user may not read it)"
                : "it is not readable UTF-8 text"
            throw ExperimentError.unreadable(file: file, reason: reason ?? "no such file (paths are relative to the "
                                             + "current directory \(FileManager.default.currentDirectoryPath))")
        }
        var experiment = try parse(text: text, file: file, options: options)
        experiment.filePath = file
        return experiment
    }

    /// Validates and expands experiment text; `file` is only used in messages.
    public static func parse(text: String, file: String = "<experiment>",
                             options: LoadOptions = LoadOptions()) throws -> Experiment {
        guard let root = try YAMLTree.parse(text, file: file) else {
            throw ExperimentError.invalid(file: file, issues: [Issue(
                keyPath: "", location: nil, problem: "the file is empty",
                fix: "Write at least `name`, `data`, `training` and `model` (see experiments/demo.yaml)")])
        }
        let diag = Diagnostics()
        guard case let .mapping(entries, _) = root else {
            throw ExperimentError.invalid(file: file, issues: [Issue(
                keyPath: "", location: root.location, problem: "expected `key: value` settings, got \(root.kindName)",
                fix: "Start the file with `name: …`, then `data:`, `training:`, `model:` sections")])
        }
        let top = Section(root, path: "", allowed: ExperimentSchema.topKeys, diag: diag)

        // name, description, target
        let name = top.string("name", example: ExperimentSchema.name.example)
        if name == nil && !top.has("name") { top.missing("name", example: ExperimentSchema.name.example) }
        if let name, name.firstMatch(of: #/^[A-Za-z0-9][A-Za-z0-9._-]*$/#) == nil {
            top.report("name", "'\(name)' is not a valid experiment name",
                       fix: "Use letters, digits, '.', '_' and '-' only, starting with a letter or digit")
        }
        let description = top.string("description", example: ExperimentSchema.description.example)
        var target = Target.course
        if let text = top.string("target", example: ExperimentSchema.target.example) {
            target = parseTarget(text, top: top, stored: options.storedText) ?? target  // a bad target is reported; the file fails to load
        }

        var report = ReportSettings()
        if top.has("report") {
            let section = top.section("report", allowed: ExperimentSchema.reportKeys)
            report.positiveClass = section.string("positive_class", example: "Monkeypox")
            report.baseline = section.string("baseline", example: "densenet121")
        }
        var tracking = TrackingSettings()
        if top.has("tracking") {
            let section = top.section("tracking", allowed: ExperimentSchema.trackingKeys)
            tracking.mlflow = section.string("mlflow", example: "http://127.0.0.1:5000")
            if let uri = tracking.mlflow, let problem = MLflowAddress.problem(uri) {
                section.report("mlflow", problem, fix: "Write the server's address, e.g. `tracking: {mlflow: "
                               + "http://127.0.0.1:5000}` (what `mlflow server --host 127.0.0.1 --port 5000` serves)")
                tracking.mlflow = nil
            }
        }

        // matrix
        let writtenAxes = readMatrix(top, diag: diag)

        // the base document: every run setting, shorthands expanded, --data applied
        var base = YNode.mapping(entries.filter { !ExperimentSchema.experimentKeys.contains($0.key) },
                                 root.location)
        base = normalise(base, path: "")
        if let override = options.dataOverride {
            if override.isEmpty {
                diag.report("data.path", nil, "--data is empty", fix: "Pass a folder, e.g. --data ../shared/data/monkeypox")
            }
            if let replaced = set(base, ["data", "path"], .scalar(override, plain: false, nil), path: "",
                                  keyLocation: nil, axis: "--data", diag: diag) {
                base = replaced
            }
        }

        // `data.split.fold: all`: every fold of the base document's `folds`
        let axes = expandAllFolds(writtenAxes, base: base, diag: diag)

        // expand
        let count = axes.reduce(1) { $0 * max($1.nodes.count, 1) }
        if count > options.maxRuns {
            diag.report("matrix", top.location("matrix"), "the matrix expands to \(count) runs, more than \(options.maxRuns)",
                        fix: "Remove values or axes")
        }
        var runs: [ResolvedRun] = []
        var warnings: [String] = []
        if count <= options.maxRuns {  // invalid axes were already left out: still check every combination
            var seenHashes: [String: Int] = [:]
            var weightFileHashes: [String: String?] = [:]
            for (n, combination) in cartesian(axes.map { $0.nodes.count }).enumerated() {
                var doc = base
                var values: [AxisValue] = []
                for (axis, i) in zip(axes, combination) {
                    if let next = set(doc, axis.components, axis.nodes[i], path: "", keyLocation: axis.keyLocation,
                                      axis: "matrix.\(axis.keyPath)", diag: diag) {
                        doc = next
                    }
                    values.append(AxisValue(keyPath: axis.keyPath, value: axis.nodes[i].display))
                }
                guard var config = ConfigReader.read(doc, diag: diag) else { continue }
                if let path = config.model.initFrom, !path.isEmpty {
                    let resolved = resolve(path, against: options.baseDirectory)
                    if weightFileHashes[resolved] == nil { weightFileHashes[resolved] = .some(fileSHA256(resolved)) }
                    config.model.initFromSHA256 = weightFileHashes[resolved] ?? nil
                    if config.model.initFromSHA256 == nil && options.checkDataExists {
                        diag.report("model.init_from", nil, "cannot read the weight file \(resolved)",
                                    fix: "Give the path of a PyTorch weight file (.pth/.pt as torch.save writes it, or "
                                        + ".safetensors); a relative path is resolved against the current directory")
                        continue
                    }
                }
                let json = config.canonicalJSON
                let hash = SHA256.hex(json)
                let label = values.isEmpty ? (name ?? "run")
                    : values.map { "\($0.keyPath)=\($0.value)" }.joined(separator: " ")
                if let first = seenHashes[hash] {
                    warnings.append("combination \(n + 1) (\(label)) gives the same configuration as run \(first) "
                        + "(hash \(hash.prefix(12))); it is listed once. Check for an axis value that has no effect.")
                    continue
                }
                seenHashes[hash] = runs.count + 1
                let dataDir = resolve(config.data.path, against: options.baseDirectory)
                runs.append(ResolvedRun(index: runs.count + 1, label: label, axisValues: values, config: config,
                                        canonicalJSON: json, configHash: hash, dataDirectory: dataDir))
            }
        }

        // data folders
        if options.checkDataExists {
            var checked = Set<String>()
            for run in runs where checked.insert(run.dataDirectory).inserted {
                checkData(run, options: options, doc: base, diag: diag)
            }
        }
        if !diag.issues.isEmpty {
            throw ExperimentError.invalid(file: file, issues: diag.sortedIssues)
        }
        var experiment = Experiment(name: name ?? "", description: description, filePath: nil, fileText: text, target: target,
                                    axes: axes.map { MatrixAxis(keyPath: $0.keyPath, values: $0.nodes.map(\.display)) },
                                    runs: runs, warnings: warnings)
        experiment.report = report
        experiment.tracking = tracking
        return experiment
    }

    // MARK: - pieces

    static func parseTarget(_ text: String, top: Section, stored: Bool = false) -> Target? {
        let fix = "Write `target: \(Target.grammar) NUMBER` with NUMBER a fraction or a percentage, e.g. "
            + "`target: test_acc >= 0.89` or `target: test_acc >= 89%`"
        guard let m = text.firstMatch(of: #/^\s*([A-Za-z_]+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*(%?)\s*$/#) else {
            top.report("target", "'\(text)' is not a target", fix: fix)
            return nil
        }
        guard "\(m.1) \(m.2)" == Target.grammar || (stored && "\(m.1) \(m.2)" == "test_acc >") else {
            top.report("target", "'\(m.1) \(m.2)' cannot be a target: the report checks whether test accuracy reaches "
                       + "at least a value, and nothing else", fix: fix)
            return nil
        }
        guard var threshold = Section.number(String(m.3)) else {
            top.report("target", "'\(m.3)' is not a number", fix: fix)
            return nil
        }
        if !m.4.isEmpty { threshold /= 100 }
        guard (0...1).contains(threshold) else {
            top.report("target", "accuracy \(threshold) is outside [0, 1]",
                       fix: "Write accuracy as a fraction (0.89) or a percentage (89%)")
            return nil
        }
        return Target(testAccuracy: threshold)
    }

    struct Axis {
        var keyPath: String
        var components: [String]
        var keyLocation: SourceLocation?
        var nodes: [YNode]
    }

    static func readMatrix(_ top: Section, diag: Diagnostics) -> [Axis] {
        guard let node = top.node("matrix") else { return [] }
        guard case let .mapping(entries, _) = node else {
            top.report("matrix", "expected axes as `key.path: [values]`, got \(node.kindName)",
                       fix: "Write e.g.\n    matrix:\n      model: [densenet121, densenet121-se16]\n      seed: [1, 2, 3]")
            return []
        }
        var axes: [Axis] = []
        for entry in entries {
            let keyPath = "matrix.\(entry.key)"
            let components = entry.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if components.contains(where: { $0.isEmpty || $0.contains(" ") }) {
                diag.report(keyPath, entry.keyLocation, "'\(entry.key)' is not a dotted key path",
                            fix: "Write the setting's path with dots, e.g. `training.optimizer.lr`")
                continue
            }
            if !ExperimentSchema.runKeys.contains(components[0]) {
                if ExperimentSchema.experimentKeys.contains(components[0]) {
                    diag.report(keyPath, entry.keyLocation, "'\(components[0])' cannot vary between runs",
                                fix: "Axes can be any setting under seed, data, training or model")
                } else {
                    let suggestion = nearest(components[0], in: ExperimentSchema.runKeys).map { "Did you mean '\($0)'? " } ?? ""
                    diag.report(keyPath, entry.keyLocation, "unknown setting '\(components[0])'",
                                fix: "\(suggestion)Axes are dotted paths of settings under seed, data, training or "
                                    + "model, e.g. training.optimizer.lr")
                }
                continue
            }
            if entry.key == foldAxis, case let .scalar(text, true, location) = entry.value, text == allFolds {
                axes.append(Axis(keyPath: entry.key, components: components, keyLocation: entry.keyLocation,
                                 nodes: [.scalar(allFolds, plain: true, location)]))
                continue
            }
            guard case let .sequence(values, _) = entry.value else {
                diag.report(keyPath, entry.value.location ?? entry.keyLocation,
                            "expected a list of values, got \(entry.value.kindName)",
                            fix: "Write the values in brackets, e.g. `\(entry.key): [\(entry.value.display)]`")
                continue
            }
            if values.isEmpty {
                diag.report(keyPath, entry.keyLocation, "the axis has no values (an empty axis gives zero runs)",
                            fix: "Give at least one value, e.g. `\(entry.key): [\(exampleValue(entry.key))]`, "
                                + "or remove the axis")
                continue
            }
            var seen = Set<String>()
            for v in values where !seen.insert(v.display).inserted {
                diag.report(keyPath, v.location, "the value \(v.display) appears twice", fix: "Remove the duplicate")
            }
            if let other = axes.first(where: { $0.components.starts(with: components) || components.starts(with: $0.components) }) {
                diag.report(keyPath, entry.keyLocation, "overlaps the axis matrix.\(other.keyPath)",
                            fix: "Vary a setting through one axis only")
                continue
            }
            axes.append(Axis(keyPath: entry.key, components: components, keyLocation: entry.keyLocation,
                             nodes: values))
        }
        return axes
    }

    /// The matrix axis of cross-validation folds, and the word that means all of them.
    static let foldAxis = "data.split.fold", allFolds = "all"

    /// Replaces a `data.split.fold: all` axis by the folds 0..<folds of the base document's `data.split.folds`
    /// (its declared default when the file leaves it out).
    static func expandAllFolds(_ axes: [Axis], base: YNode, diag: Diagnostics) -> [Axis] {
        axes.map { axis in
            guard axis.keyPath == foldAxis, axis.nodes.count == 1, case let .scalar(text, true, location) = axis.nodes[0],
                  text == allFolds else { return axis }
            var folds = SplitSection.defaultFolds
            if let given = base.value(forKey: "data")?.value(forKey: "split")?.value(forKey: "folds") {
                guard case let .scalar(n, _, _) = given, let k = Int(n), k >= 2, k <= 100 else {
                    return axis  // the reader reports the bad `folds` itself
                }
                folds = k
            }
            var expanded = axis
            expanded.nodes = (0..<folds).map { .scalar(String($0), plain: true, location) }
            return expanded
        }
    }

    static func exampleValue(_ key: String) -> String {
        switch key {
        case "seed": return "1, 2, 3"
        case "model": return "densenet121, densenet121-se16"
        case foldAxis: return "0, 1, 2, 3, 4"
        default: return "…"
        }
    }

    /// Every combination of indices, first axis slowest.
    static func cartesian(_ counts: [Int]) -> [[Int]] {
        var out: [[Int]] = [[]]
        for c in counts {
            out = out.flatMap { prefix in (0..<c).map { prefix + [$0] } }
        }
        return out
    }

    /// Expands the single-value shorthands (`model: densenet121` → `model: {name: densenet121}`) everywhere.
    static func normalise(_ node: YNode, path: String) -> YNode {
        if let key = ConfigReader.shorthands[path], case .scalar = node, !node.isNull {
            return .mapping([YEntry(key: key, keyLocation: node.location, value: node)], node.location)
        }
        guard case let .mapping(entries, location) = node else { return node }
        return .mapping(entries.map { e in
            YEntry(key: e.key, keyLocation: e.keyLocation, value: normalise(e.value, path: Section.join(path, e.key)))
        }, location)
    }

    static func merge(_ a: YNode, _ b: YNode) -> YNode {
        guard case let .mapping(old, location) = a, case let .mapping(new, _) = b else { return b }
        var entries = old
        for e in new {
            if let i = entries.lastIndex(where: { $0.key == e.key }) {
                entries[i].value = merge(entries[i].value, e.value)
            } else {
                entries.append(e)
            }
        }
        return .mapping(entries, location)
    }

    /// Sets `value` at the key path `components` below `node` (merging sections), creating sections on the way.
    static func set(_ node: YNode, _ components: [String], _ value: YNode, path: String,
                    keyLocation: SourceLocation?, axis: String, diag: Diagnostics) -> YNode? {
        guard let head = components.first else { return value }
        var entries: [YEntry]
        let location: SourceLocation?
        switch node {
        case let .mapping(e, l): entries = e; location = l
        case _ where node.isNull: entries = []; location = node.location
        default:
            diag.report(axis, keyLocation, "cannot set \(components.joined(separator: ".")) inside \(path): "
                        + "\(path) is the single value \(node.display), not a section",
                        fix: "Write \(path) as a section in the file, or vary \(path) itself")
            return nil
        }
        let childPath = Section.join(path, head)
        let index = entries.lastIndex { $0.key == head }
        if components.count == 1 {
            let newValue = normalise(value, path: childPath)
            if let index {
                entries[index].value = merge(entries[index].value, newValue)
            } else {
                entries.append(YEntry(key: head, keyLocation: keyLocation, value: newValue))
            }
        } else {
            let child = normalise(index.map { entries[$0].value } ?? .mapping([], nil), path: childPath)
            guard let updated = set(child, Array(components.dropFirst()), value, path: childPath,
                                    keyLocation: keyLocation, axis: axis, diag: diag) else { return nil }
            if let index { entries[index].value = updated } else {
                entries.append(YEntry(key: head, keyLocation: keyLocation, value: updated))
            }
        }
        return .mapping(entries, location)
    }

    /// Absolute form of `path`: `~` expanded, relative paths joined to `base`.
    /// Lower-case hex SHA-256 of the file at `path`; nil when it cannot be read.
    static func fileSHA256(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return SHA256.hex(bytes: [UInt8](data))
    }

    public static func resolve(_ path: String, against base: String) -> String {
        // `~` is the user's $HOME, as in a shell (Foundation would use the password database's entry instead).
        var expanded = path
        if path == "~" || path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty {
            expanded = home + path.dropFirst()
        } else {
            expanded = (path as NSString).expandingTildeInPath
        }
        let url = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded)
            : URL(fileURLWithPath: base, isDirectory: true).appendingPathComponent(expanded)
        return url.standardizedFileURL.path
    }

    static func checkData(_ run: ResolvedRun, options: LoadOptions, doc: YNode, diag: Diagnostics) {
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: run.dataDirectory, isDirectory: &isDir)
        let location = doc.value(forKey: "data")?.value(forKey: "path")?.location
        let source = options.dataOverride != nil ? "--data" : "data.path"
        if exists && !isDir.boolValue {
            diag.report(source, location, "'\(run.config.data.path)' (\(run.dataDirectory)) is a file, not a folder",
                        fix: "Point \(source) at the folder holding one sub-folder of images per class")
        } else if !exists && run.config.data.synthesize == nil {
            diag.report(source, location, "the data folder '\(run.config.data.path)' does not exist "
                        + "(resolved to \(run.dataDirectory))",
                        fix: "Relative paths are resolved against the current directory "
                            + "(\(options.baseDirectory)): run ablate from the project root, fix data.path, pass "
                            + "--data PATH, or add `synthesize: {classes: 2, per_class: 60, size: 48}` under data "
                            + "to generate a synthetic set there")
        }
    }
}
