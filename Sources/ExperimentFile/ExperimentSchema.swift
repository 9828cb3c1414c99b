// The experiment file's keys as a whole: the experiment's own settings (name, description, target, matrix) around
// the run settings that AblateCore's `RunConfig` declares, and the reference table of docs/experiment-file.md,
// generated from those declarations.
import AblateCore

public enum ExperimentSchema {
    static let name = SettingInfo(
        key: "name", kind: .text, example: "my-experiment", defaultText: "required", isRequired: true,
        doc: "the experiment's name: letters, digits, `.`, `_` and `-`, starting with a letter or digit; runs are "
            + "stored (and merged) under it")
    static let description = SettingInfo(
        key: "description", kind: .text, example: "what this experiment asks", defaultText: "none",
        doc: "free text, for people")
    static let target = SettingInfo(
        key: "target", kind: .special("`test_acc >= NUMBER`"), example: "test_acc >= 0.89",
        defaultText: "test_acc >= 0.89 (the course's)",
        doc: "the test accuracy the report checks runs against (NUMBER a fraction or a percentage, `89%`); test "
            + "accuracy is the only metric a target can name")
    static let report = SettingInfo(
        key: "report", kind: .special("section: `positive_class`, `baseline`"),
        example: "{positive_class: Monkeypox, baseline: densenet121}",
        defaultText: "positive class Monkeypox when present, else class 1; each SE model against its backbone",
        doc: "how `ablate report` reads the runs: `positive_class` names the class of sensitivity, specificity and "
            + "ROC-AUC (and of `ablate evaluate`), `baseline` the configuration every other is compared with "
            + "(default: each SE model against the same model without SE when the matrix has it, else the first "
            + "configuration without SE); neither changes a run or its configuration hash")
    static let tracking = SettingInfo(
        key: "tracking", kind: .special("section: `mlflow`"), example: "{mlflow: http://127.0.0.1:5000}",
        defaultText: "none (`--mlflow`, else MLFLOW_TRACKING_URI)",
        doc: "where `ablate run` logs each run live: `mlflow` names an MLflow tracking server, http(s)://HOST:PORT "
            + "(`--mlflow` replaces it; it replaces MLFLOW_TRACKING_URI); changes no run or its configuration hash")
    static let matrix = SettingInfo(
        key: "matrix", kind: .special("section of `dotted.key: [values]`"),
        example: "{model: [densenet121, densenet121-se16], seed: [1, 2, 3]}", defaultText: "one run",
        doc: "every combination of the values is one run; any setting under seed, data, training or model by its "
            + "dotted key path (see Matrix below)")

    /// The experiment's own keys: read by `Experiment.parse`, not part of any run's configuration.
    static let experimentKeys = [name, description, target, report, tracking, matrix].map(\.key)
    /// The keys of `report:`.
    static let reportKeys = ["positive_class", "baseline"]
    /// The keys of `tracking:`.
    static let trackingKeys = ["mlflow"]

    /// The settings each run has (a matrix axis may vary any of them).
    public static let runKeys = RunConfig.keys

    /// Every key of the file's top level, in reference order.
    public static var topLevel: [SettingInfo] {
        [name, description] + RunConfig.infos.filter(\.inFile) + [target, report, tracking, matrix]
    }

    static let topKeys = topLevel.map(\.key)

    /// Dotted path of each section that may be written as a single value → the key that value stands for.
    static let shorthands: [String: String] = {
        var out: [String: String] = [:]
        func walk(_ infos: [SettingInfo], _ path: String) {
            for info in infos {
                guard case let .section(type, shorthand, _) = info.kind else { continue }
                let here = Section.join(path, info.key)
                if let shorthand { out[here] = shorthand }
                walk(type.infos, here)
            }
        }
        walk(RunConfig.infos, "")
        return out
    }()

    /// Every key of the file by dotted path (sections included), in reference order.
    public static var keyPaths: [String] { rows.map(\.path) }

    struct Row {
        var path: String
        var info: SettingInfo
    }

    static var rows: [Row] {
        var out: [Row] = []
        func walk(_ infos: [SettingInfo], _ path: String) {
            for info in infos where info.inFile {
                let here = Section.join(path, info.key)
                out.append(Row(path: here, info: info))
                if case let .section(type, _, _) = info.kind { walk(type.infos, here) }
            }
        }
        walk(topLevel, "")
        return out
    }

    /// The reference table of every key (Markdown): dotted key, values, default, when it applies, meaning.
    public static func referenceTable() -> String {
        var lines = ["| key | values | default | applies to | meaning |", "|---|---|---|---|---|"]
        for row in rows {
            let info = row.info
            let cells = ["`\(row.path)`", valuesText(info.kind), info.isRequired ? "**required**" : info.defaultText,
                         info.appliesTo ?? "", info.doc]
            lines.append("| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What values a kind takes, in words.
    static func valuesText(_ kind: SettingKind) -> String {
        switch kind {
        case let .integer(min, max, _):
            return "whole number" + rangeSuffix(min.map(Double.init), max.map(Double.init), openMin: false, openMax: false)
        case .number(let r): return "number" + rangeSuffix(r.min, r.max, openMin: r.openMin, openMax: r.openMax)
        case .flag: return "true, false"
        case .text: return "text"
        case .choice(let words): return words.map { "`\($0)`" }.joined(separator: ", ")
        case let .numbers(count, r):
            return "list of \(count) numbers" + (r == .any ? "" : ", each" + rangeSuffix(r.min, r.max, openMin: r.openMin, openMax: false))
        case .integers(let min): return "list of whole numbers, each ≥ \(min)"
        case .texts: return "list of names"
        case let .section(_, shorthand, switchable):
            var text = "section"
            if let shorthand { text += ", or a single value: its `\(shorthand)`" }
            if switchable { text += ", or true / false" }
            return text
        case .groupKey: return "`photo`, `patient` or `{regex: '…'}`"
        case .modelName: return "model name (see Models)"
        case .special(let words): return words
        }
    }

    static func rangeSuffix(_ min: Double?, _ max: Double?, openMin: Bool, openMax: Bool) -> String {
        func f(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }
        switch (min, max) {
        case let (lo?, hi?) where lo == hi && !openMin && !openMax: return " = \(f(lo))"
        case let (lo?, hi?): return " in \(openMin ? "(" : "[")\(f(lo)), \(f(hi))\(openMax ? ")" : "]")"
        case let (lo?, nil): return openMin ? " > \(f(lo))" : " ≥ \(f(lo))"
        case let (nil, hi?): return openMax ? " < \(f(hi))" : " ≤ \(f(hi))"
        default: return ""
        }
    }
}
