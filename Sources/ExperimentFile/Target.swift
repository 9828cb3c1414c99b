// The experiment file's `target:`.

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
