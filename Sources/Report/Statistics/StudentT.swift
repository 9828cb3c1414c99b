import Foundation

/// Student's t distribution with ν degrees of freedom.
public enum StudentT {
    /// CDF: for t ≥ 0, F(t) = 1 − ½ I_{ν/(ν+t²)}(ν/2, ½); F(−t) = 1 − F(t).
    public static func cdf(_ t: Double, degreesOfFreedom nu: Double) throws -> Double {
        guard nu > 0 else { throw ReportError.invalidValue(what: "t degrees of freedom", value: "\(nu)") }
        guard !t.isNaN else { throw ReportError.invalidValue(what: "t statistic", value: "nan") }
        if t.isInfinite { return t > 0 ? 1 : 0 }
        let halfTail = 0.5 * (try SpecialFunctions.regularizedIncompleteBeta(a: nu / 2, b: 0.5, x: nu / (nu + t * t)))
        return t >= 0 ? 1 - halfTail : halfTail
    }

    /// Two-sided tail probability P(|T| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, ½), computed directly so small p keep
    /// their precision (1 − F would round them to 0).
    public static func twoSidedPValue(_ t: Double, degreesOfFreedom nu: Double) throws -> Double {
        guard nu > 0 else { throw ReportError.invalidValue(what: "t degrees of freedom", value: "\(nu)") }
        guard !t.isNaN else { throw ReportError.invalidValue(what: "t statistic", value: "nan") }
        if t.isInfinite { return 0 }
        return try SpecialFunctions.regularizedIncompleteBeta(a: nu / 2, b: 0.5, x: nu / (nu + t * t))
    }

    /// Quantile F⁻¹(p), found by bisection on the monotone CDF (bracket doubled until it holds the root).
    /// Uses the symmetry F⁻¹(p) = −F⁻¹(1 − p) so only the upper half is searched.
    public static func quantile(_ p: Double, degreesOfFreedom nu: Double) throws -> Double {
        guard p > 0, p < 1 else { throw ReportError.invalidValue(what: "t quantile probability", value: "\(p)") }
        if p < 0.5 { return -(try quantile(1 - p, degreesOfFreedom: nu)) }
        if p == 0.5 { return 0 }
        var low = 0.0, high = 1.0
        while try cdf(high, degreesOfFreedom: nu) < p {
            low = high
            high *= 2
            if high > 1e300 { throw ReportError.invalidValue(what: "t quantile (no bracket)", value: "p=\(p) nu=\(nu)") }
        }
        for _ in 0..<200 {
            let mid = 0.5 * (low + high)
            if try cdf(mid, degreesOfFreedom: nu) < p { low = mid } else { high = mid }
            if high - low <= 1e-13 * max(1, high) { break }
        }
        return 0.5 * (low + high)
    }
}
