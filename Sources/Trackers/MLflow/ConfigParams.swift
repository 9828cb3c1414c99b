// A run's configuration as MLflow params: one param per leaf setting, keyed by its dotted path as the experiment
// file and `--only` spell it (`model.name`, `training.optimizer.lr`), valued as the file would write it.
import AblateCore

public enum ConfigParams {
    /// MLflow refuses longer values (6000 characters since MLflow 2); a longer one is cut and says so.
    static let maxValueLength = 6000

    public static func flatten(configJSON: String) throws -> [(key: String, value: String)] {
        var out: [(String, String)] = []
        func walk(_ value: JSONValue, _ path: String) {
            if case .object(let o) = value, !o.isEmpty {
                for key in o.keys.sorted() { walk(o[key]!, path.isEmpty ? key : "\(path).\(key)") }
                return
            }
            var text = value.settingText
            if text.count > maxValueLength { text = String(text.prefix(maxValueLength - 12)) + " …(cut)" }
            out.append((path, text))
        }
        walk(try JSONValue.parse(configJSON), "")
        return out
    }
}
