// Adam and gradients at rounding level. Adam divides the averaged gradient by its own root mean square, so the
// step of an element is about ±lr whatever the size of its gradient: a gradient of 1e-9 that is rounding noise
// (a sum that cancels, computed in another order) moves the weight as far as a real one, in a direction that is
// not determined. Where the reference gradient is at that level (exact zeros included) the two implementations
// may legitimately move a weight by up to lr per step in opposite directions, so comparing `after_step*` there
// with a relative tolerance is ill-posed. Those elements are checked against the bound Adam itself guarantees;
// every other element is compared as usual, and logits computed from the parameters afterwards are compared
// with those elements set to the reference's values.
import Engine

/// How the rounding-level elements of one parameter tensor were checked.
public struct RoundingLevelElements: Sendable, Codable {
    /// Elements whose reference gradient is at rounding level.
    public let count: Int
    /// Their largest move from the starting value, in units of lr.
    public let largestStepInLR: Double
    /// The move Adam allows after this many steps, in units of lr.
    public let allowedStepInLR: Double
    public var withinBound: Bool { largestStepInLR <= allowedStepInLR }
}

enum AdamVerification {
    /// Unit roundoff of float32, 2⁻²⁴.
    static let unitRoundoff = 0x1p-24
    /// λ of the probabilistic summation bound (see `roundingLevelMask`).
    static let probabilisticBoundLambda = 3.0
    /// Bias-corrected Adam moves an element by at most lr · max|m̂|/√v̂ per step; by Cauchy–Schwarz over the
    /// moment weights that factor is 1.0014 for the first two steps with β = (0.9, 0.999). 1.01 leaves room for
    /// ε and float rounding without admitting a second step's worth.
    static let stepBoundPerLR = 1.01

    /// Elements whose effective reference gradient (∇ + weight decay · p, as the optimiser sees it) is at
    /// rounding level: no larger than the rounding error its own float32 sum may carry, λ·√n·u·(Σ|terms| + |wd·p|),
    /// with n the terms summed into it and Σ|terms| from our backward pass with every factor made positive
    /// (`GradientTermRecorder`). That is Higham and Mary's probabilistic bound for summation in any order
    /// (exceeded with probability below 2·exp(−λ²/2), λ = `probabilisticBoundLambda`): the worst case n·u would
    /// exempt real gradients from the comparison (9 of the 10 γ gradients of `features.norm0` in
    /// small_densenet_adam_tiny_spatial.json lie within it, and Adam moves them by a full lr in PyTorch's
    /// direction). A per-element bound, not a fraction of the tensor's largest gradient: a tiny gradient that is
    /// the exact sum of tiny terms keeps its sign and is compared; a cancelling sum of large terms is not.
    /// Exact zeros of a sum of zeros (a kernel tap that only sees zero inputs) are included.
    static func roundingLevelMask(gradient: TorchTensor, termMagnitudes: [Double], termCount: Int, before: [Float],
                                  weightDecay: Float) -> [Bool] {
        precondition(gradient.values.count == termMagnitudes.count && gradient.values.count == before.count)
        let scale = probabilisticBoundLambda * Double(max(1, termCount)).squareRoot() * unitRoundoff
        return gradient.values.indices.map { i in
            let decay = Double(weightDecay) * Double(before[i])
            return abs(Double(gradient.values[i]) + decay) <= scale * (termMagnitudes[i] + abs(decay))
        }
    }

    /// Compares parameters after `steps` Adam steps: masked elements against Adam's bound from `before`, the
    /// rest against the reference at `tol` (relative to the largest reference value of the tensor).
    static func compareAfterSteps(_ file: String, _ item: String, _ quantity: String, ours: [Float], ref: TorchTensor,
                                  before: [Float], mask: [Bool], steps: Int, lr: Float, tol: Double) -> Check {
        precondition(ours.count == ref.values.count && ours.count == mask.count, "\(item) \(quantity): sizes differ")
        var maxAbs = 0.0, scale = 0.0, largestStep = 0.0
        for i in ours.indices {
            let a = Double(ours[i]), b = Double(ref.values[i])
            scale = max(scale, abs(b))
            if mask[i] {
                largestStep = max(largestStep, abs(a - Double(before[i])) / Double(lr))
            } else {
                let d = abs(a - b)
                maxAbs = d.isNaN ? .infinity : max(maxAbs, d)
            }
        }
        let rel = maxAbs == 0 ? 0 : maxAbs / max(scale, 1e-12)
        let masked = mask.filter { $0 }.count
        let note = masked == 0 ? nil : RoundingLevelElements(count: masked, largestStepInLR: largestStep,
                                                             allowedStepInLR: Double(steps) * stepBoundPerLR)
        return Check(file: file, item: item, quantity: quantity, maxAbsError: maxAbs, maxRelError: rel,
                     tolerance: tol, elements: ours.count, roundingLevel: note)
    }
}
