extension Statistics {
    /// Holm's step-down adjustment (Holm 1979) of m p-values from one family of tests: with p₍₁₎ ≤ … ≤ p₍ₘ₎,
    ///   p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1) · p₍ⱼ₎),
    /// returned in the input's order. Rejecting where p̃ < α keeps the chance of any false rejection in the family
    /// at most α, whatever the dependence between the tests (several configurations against one baseline share it).
    public static func holmAdjusted(_ pValues: [Double]) -> [Double] {
        let m = pValues.count
        var adjusted = [Double](repeating: 0, count: m)
        var running = 0.0
        for (rank, index) in pValues.indices.sorted(by: { (pValues[$0], $0) < (pValues[$1], $1) }).enumerated() {
            running = max(running, min(1, Double(m - rank) * pValues[index]))
            adjusted[index] = running
        }
        return adjusted
    }
}
