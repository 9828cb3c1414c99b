// `ablate verify`: runs PyTorch golden files through the engine and reports, per quantity, the worst absolute
// and relative error. The test suite calls exactly this code.
import Engine
import Foundation

/// One compared quantity.
public struct Check: Sendable, Codable {
    public let file: String, item: String, quantity: String
    public let maxAbsError: Double
    /// Worst |ours − ref| divided by max |ref| of the tensor (norm-wise relative error).
    public let maxRelError: Double
    public let tolerance: Double
    public let elements: Int
    /// Adam files: elements whose reference gradient is at rounding level, checked against Adam's step bound
    /// instead of the tolerance (see `AdamVerification`); nil elsewhere.
    public var roundingLevel: RoundingLevelElements? = nil
    /// What was done to make the comparison well posed, if anything (shown with the check).
    public var note: String? = nil
    public var passed: Bool { maxRelError <= tolerance && maxAbsError.isFinite && (roundingLevel?.withinBound ?? true) }
}

/// Tolerances: values ≈ 1e-4 relative, gradients ≈ 1e-3 (summation order differs from PyTorch).
public enum Tolerance {
    public static let value = 1e-4
    public static let gradient = 1e-3

    /// Parameters after an optimiser step, relative to their largest reference value: the value tolerance plus
    /// the gradient tolerance on the reference's update (`after − before`), since the update is computed from
    /// gradients held only to `gradient`. For a step much smaller than the weights (the DenseNet files) this is
    /// the value tolerance; for the tiny ResNets, whose lr·gradient is as large as the weights, it is not.
    public static func afterStep(before: TorchTensor, after: TorchTensor) -> Double {
        let scale = after.values.map { abs(Double($0)) }.max() ?? 0
        let update = zip(before.values, after.values).map { abs(Double($1) - Double($0)) }.max() ?? 0
        return value + gradient * update / max(scale, 1e-12)
    }
}

/// `atLeastScale`: a floor for the scale the error is divided by, when the reference tensor's own largest value
/// understates the size of the terms it was summed from (see the BN weight gradients in `verifyNetwork`).
func compare(_ file: String, _ item: String, _ quantity: String, ours: [Float], ref: TorchTensor, tol: Double,
             atLeastScale: Double = 0) -> Check {
    precondition(ours.count == ref.values.count, "\(item) \(quantity): \(ours.count) vs \(ref.values.count) values")
    var maxAbs = 0.0, scale = atLeastScale
    for (a, b) in zip(ours, ref.values) {
        let d = abs(Double(a) - Double(b))
        maxAbs = d.isNaN ? .infinity : max(maxAbs, d)
        scale = max(scale, abs(Double(b)))
    }
    let rel = maxAbs == 0 ? 0 : maxAbs / max(scale, 1e-12)
    return Check(file: file, item: item, quantity: quantity, maxAbsError: maxAbs, maxRelError: rel,
                 tolerance: tol, elements: ours.count)
}

public enum Verifier {
    /// Runs every quantity of a reference file (ops or whole network).
    public static func verify(path: String) throws -> [Check] {
        let doc = try ReferenceDocument(path: path)
        switch doc.kind {
        case .ops: return try verifyOps(doc)
        case .network: return try verifyNetwork(doc)
        case nil: throw ReferenceError.format(path, "expected a 'cases' list (per-op file) or a 'config' object (network file)")
        }
    }
}
