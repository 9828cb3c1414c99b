import Foundation

/// Axis ranges and ticks on "nice" values: steps of 1, 2 or 5 × 10^k.
struct NiceScale {
    let lower: Double
    let upper: Double
    let step: Double

    /// The smallest nice step ≥ rough, where rough = span / targetTicks.
    static func niceStep(span: Double, targetTicks: Int) -> Double {
        let rough = max(span, 1e-12) / Double(max(1, targetTicks))
        let magnitude = pow(10, floor(log10(rough)))
        for multiple in [1.0, 2, 5, 10] where multiple * magnitude >= rough * (1 - 1e-9) {
            return multiple * magnitude
        }
        return 10 * magnitude
    }

    /// Expands [minimum, maximum] outwards to multiples of a nice step (a zero span is widened first).
    init(minimum: Double, maximum: Double, targetTicks: Int = 5) {
        var low = minimum, high = maximum
        if high - low < 1e-12 {
            let pad = max(abs(low) * 0.05, 0.01)
            low -= pad
            high += pad
        }
        step = Self.niceStep(span: high - low, targetTicks: targetTicks)
        lower = (low / step).rounded(.down) * step
        upper = (high / step).rounded(.up) * step
    }

    /// Tick values from lower to upper inclusive, computed by index so rounding errors never pile up.
    var ticks: [Double] {
        let count = Int(((upper - lower) / step).rounded())
        return (0...count).map { lower + Double($0) * step }
    }

    /// Enough decimals to tell ticks apart and no more: step 0.05 → 2, step 2 → 0.
    var decimals: Int { max(0, Int(-floor(log10(step) + 1e-9))) }

    func label(_ value: Double) -> String { NumberFormat.fixed(value, digits: decimals) }
}
