import Foundation

/// A two-sided confidence interval for an estimate.
public struct ConfidenceInterval: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var level: Double
}

/// Descriptive statistics and t-based intervals. Every function throws on too little data instead of
/// returning NaN, so a table never shows a silently meaningless number.
public enum Statistics {
    /// Arithmetic mean x̄ = (1/n) Σ xᵢ.
    public static func mean(_ values: [Double]) throws -> Double {
        try requireFinite(values, what: "mean")
        guard !values.isEmpty else { throw ReportError.insufficientData(what: "mean", needed: 1, got: 0) }
        return values.reduce(0, +) / Double(values.count)
    }

    /// Median: the middle value of the sorted values, or the mean of the two middle ones.
    public static func median(_ values: [Double]) throws -> Double {
        try requireFinite(values, what: "median")
        guard !values.isEmpty else { throw ReportError.insufficientData(what: "median", needed: 1, got: 0) }
        let sorted = values.sorted(), mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Sample standard deviation s = √( Σ (xᵢ − x̄)² / (n − 1) ), Bessel-corrected.
    public static func sampleStandardDeviation(_ values: [Double]) throws -> Double {
        guard values.count >= 2 else {
            throw ReportError.insufficientData(what: "sample standard deviation", needed: 2, got: values.count)
        }
        let m = try mean(values)
        let squares = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    /// t-based interval for the mean: x̄ ± t_{1−α/2, n−1} · s / √n, with α = 1 − level.
    public static func meanConfidenceInterval(_ values: [Double], level: Double = 0.95) throws -> ConfidenceInterval {
        guard level > 0, level < 1 else { throw ReportError.invalidValue(what: "confidence level", value: "\(level)") }
        let m = try mean(values)
        let s = try sampleStandardDeviation(values)
        let n = Double(values.count)
        let t = try StudentT.quantile(1 - (1 - level) / 2, degreesOfFreedom: n - 1)
        let half = t * s / n.squareRoot()
        return ConfidenceInterval(lower: m - half, upper: m + half, level: level)
    }

    static func requireFinite(_ values: [Double], what: String) throws {
        if let bad = values.first(where: { !$0.isFinite }) {
            throw ReportError.invalidValue(what: what, value: "\(bad)")
        }
    }
}
