// The experiment file's `target:`.

/// A goal such as `test_acc >= 0.89`.
public struct Target: Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Op: String, Codable, Sendable, CaseIterable {
        case ge = ">=", gt = ">", le = "<=", lt = "<"
    }

    /// One of `Target.metrics`.
    public var metric: String
    public var op: Op
    public var threshold: Double

    public static let metrics = ["test_acc", "test_loss", "train_acc", "train_loss"]

    public func isMet(by value: Double) -> Bool {
        switch op {
        case .ge: return value >= threshold
        case .gt: return value > threshold
        case .le: return value <= threshold
        case .lt: return value < threshold
        }
    }

    public var description: String { "\(metric) \(op.rawValue) \(threshold)" }
}
