// The experiment file's `target:`, and its other experiment-level sections, `report:` and `tracking:`.

/// The goal the report checks, written `target: test_acc >= 0.89`: a run reaches it in the first epoch whose test
/// accuracy is at least `testAccuracy`. Only test accuracy can be a target, because that is what the report's
/// target column, its target paragraph and `ablate report --check-target` count; a loss or training-set goal
/// would be checked against the wrong number, so the parser refuses it.
public struct Target: Codable, Equatable, Sendable, CustomStringConvertible {
    /// A fraction in [0, 1].
    public var testAccuracy: Double

    public init(testAccuracy: Double) { self.testAccuracy = testAccuracy }

    /// The target of a file that names none: the course's 89% test accuracy, which the experiments here exist to check.
    public static let course = Target(testAccuracy: 0.89)

    /// The metric name and comparison the file writes.
    public static let grammar = "test_acc >="

    public func isMet(byTestAccuracy value: Double) -> Bool { value >= testAccuracy }

    public var description: String { "\(Self.grammar) \(testAccuracy)" }
}

/// The experiment file's `report:`: how the report reads the runs. Absent values take the defaults that
/// `PositiveClass` and `ModelSpec.isBackboneWithoutSE` state.
public struct ReportSettings: Codable, Equatable, Sendable {
    /// The class of sensitivity, specificity and ROC-AUC, by name (case-insensitive).
    public var positiveClass: String?
    /// The configuration every other is compared with.
    public var baseline: String?
    public init(positiveClass: String? = nil, baseline: String? = nil) {
        self.positiveClass = positiveClass; self.baseline = baseline
    }
}

/// The experiment file's `tracking:`: where `ablate run` logs its runs live. Like `report:`, it is the experiment's,
/// not any run's: it changes no configuration or hash. `--mlflow` on the command line replaces it, and it replaces
/// MLFLOW_TRACKING_URI.
public struct TrackingSettings: Codable, Equatable, Sendable {
    /// The MLflow tracking server, http(s)://HOST:PORT (checked when the file is read).
    public var mlflow: String?
    public init(mlflow: String? = nil) { self.mlflow = mlflow }
}
