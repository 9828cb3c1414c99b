import Foundation

/// Special functions behind the Student-t distribution.
enum SpecialFunctions {
    /// Regularized incomplete beta function
    ///   I_x(a, b) = B(x; a, b) / B(a, b),   B(x; a, b) = ∫₀ˣ t^(a−1) (1−t)^(b−1) dt.
    /// Evaluated as in Numerical Recipes (`betai`): the prefactor x^a (1−x)^b / (a B(a, b)) times a continued
    /// fraction, which converges fast for x < (a+1)/(a+b+2); otherwise use I_x(a, b) = 1 − I_{1−x}(b, a).
    static func regularizedIncompleteBeta(a: Double, b: Double, x: Double) throws -> Double {
        guard a > 0, b > 0 else { throw ReportError.invalidValue(what: "incomplete beta shape", value: "a=\(a) b=\(b)") }
        guard x >= 0, x <= 1 else { throw ReportError.invalidValue(what: "incomplete beta x", value: "\(x)") }
        if x == 0 { return 0 }
        if x == 1 { return 1 }
        let logPrefactor = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        let prefactor = exp(logPrefactor)
        if x < (a + 1) / (a + b + 2) {
            return prefactor * betaContinuedFraction(a: a, b: b, x: x) / a
        }
        return 1 - prefactor * betaContinuedFraction(a: b, b: a, x: 1 - x) / b
    }

    /// Continued fraction for I_x(a, b) by the modified Lentz method (Numerical Recipes `betacf`):
    ///   1 / (1 + d₁ / (1 + d₂ / (1 + …))),
    ///   d_{2m+1} = −(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),   d_{2m} = m (b−m) x / ((a+2m−1)(a+2m)).
    private static func betaContinuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300  // stands in for a zero denominator so Lentz's recurrences never divide by 0
        let epsilon = 1e-15
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return h
    }
}
