// Optimisers with PyTorch semantics over the flat parameter array, and learning-rate schedules.
import Foundation

/// An optimiser and its hyper-parameters, every one given (a run's `RunPlan` makes it from the experiment file's
/// `training.optimizer`); checkpoints keep it.
public enum OptimizerConfig: Codable, Equatable, Sendable {
    /// `torch.optim.SGD`: g ← ∇ + λ·p; b ← g (first step) or μ·b + (1 − dampening)·g; g ← g + μ·b (Nesterov)
    /// or b; p ← p − lr·g.
    case sgd(lr: Float, momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool)
    /// `torch.optim.Adam` (coupled L2 weight decay, no amsgrad): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    /// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
    case adam(lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float)

    public var learningRate: Float {
        switch self { case .sgd(let lr, _, _, _, _), .adam(let lr, _, _, _, _): return lr }
    }
}

/// Optimiser state (momentum / Adam moments) over a `ParameterStore`'s flat arrays, updated group by group.
///
/// The state tensors span every parameter, frozen or not, so a checkpoint's layout does not depend on what is
/// frozen; a frozen parameter is in no group, so it never moves, decays or gathers moments (PyTorch skips
/// parameters without a gradient the same way).
public final class Optimizer {
    public let config: OptimizerConfig
    /// Steps taken (Adam's t; SGD uses it to know the first step).
    public private(set) var step = 0
    /// SGD momentum buffer, or Adam's first moment.
    public let state1: Tensor
    /// Adam's second moment (empty for SGD).
    public let state2: Tensor
    /// What each update touches, at which multiple of its learning rate.
    public let groups: [ParameterGroup]
    let store: ParameterStore

    /// `groups`: nil for every parameter that trains at the given rate (`store.parameterGroups()`: freeze the
    /// store first).
    public init(_ config: OptimizerConfig, store: ParameterStore, groups: [ParameterGroup]? = nil) {
        self.config = config; self.store = store
        let n = store.parameterScalars
        self.groups = groups ?? store.parameterGroups()
        precondition(self.groups.allSatisfy { $0.range.lowerBound >= 0 && $0.range.upperBound <= n && $0.lrScale > 0 },
                     "parameter groups must lie within the \(n) parameters and have positive learning-rate scales")
        switch config {
        case .sgd(_, let momentum, _, _, _): state1 = Tensor([momentum != 0 ? n : 0]); state2 = Tensor([0])
        case .adam: state1 = Tensor([n]); state2 = Tensor([n])
        }
    }

    /// One update with learning rate `lr` (from the schedule; each group at its multiple of it) using the
    /// gradients in the store.
    public func update(lr: Float) {
        step += 1
        for group in groups { update(group.range, lr: lr * group.lrScale) }
    }

    private func update(_ range: Range<Int>, lr: Float) {
        let p = store.values.data, g = store.grads.data, base = range.lowerBound
        switch config {
        case let .sgd(_, momentum, dampening, wd, nesterov):
            let buf = state1.data, first = step == 1
            parallelRows(range.count, chunk: 1 << 16) { r0, r1 in
                for i in (base + r0)..<(base + r1) {
                    var d = g[i]
                    if wd != 0 { d += wd * p[i] }
                    if momentum != 0 {
                        buf[i] = first ? d : momentum * buf[i] + (1 - dampening) * d
                        d = nesterov ? d + momentum * buf[i] : buf[i]
                    }
                    p[i] -= lr * d
                }
            }
        case let .adam(_, beta1, beta2, eps, wd):
            let m = state1.data, v = state2.data
            let bc1 = 1 - pow(beta1, Float(step)), bc2Sqrt = (1 - pow(beta2, Float(step))).squareRoot()
            let stepSize = lr / bc1
            parallelRows(range.count, chunk: 1 << 16) { r0, r1 in
                for i in (base + r0)..<(base + r1) {
                    var d = g[i]
                    if wd != 0 { d += wd * p[i] }
                    m[i] = beta1 * m[i] + (1 - beta1) * d
                    v[i] = beta2 * v[i] + (1 - beta2) * d * d
                    let denom = v[i].squareRoot() / bc2Sqrt + eps
                    p[i] -= stepSize * (m[i] / denom)
                }
            }
        }
    }

    /// Restores the step count (checkpoint resume); the state tensors are restored by copying into them.
    public func restore(step: Int) { self.step = step }
}

/// Learning rate as a function of the epoch (0-based), stepped once per epoch like PyTorch's schedulers.
public enum LRSchedule: Codable, Equatable, Sendable {
    case constant
    /// `StepLR`: lr · γ^⌊epoch / stepSize⌋.
    case step(stepSize: Int, gamma: Float)
    /// Cosine annealing that trains the last epoch at η_min: η_min + (lr − η_min)(1 + cos(π·epoch/(T − 1)))/2
    /// for T total epochs. PyTorch's `CosineAnnealingLR(T_max = T)` divides by T instead and never trains at
    /// η_min; the experiment files promise "anneal to min_lr", so the last epoch gets min_lr.
    case cosine(minLR: Float)

    public func learningRate(base: Float, epoch: Int, totalEpochs: Int) -> Float {
        switch self {
        case .constant: return base
        case let .step(stepSize, gamma): return base * pow(gamma, Float(epoch / max(1, stepSize)))
        case let .cosine(minLR):
            guard totalEpochs > 1 else { return base }
            let t = Double(min(epoch, totalEpochs - 1)) / Double(totalEpochs - 1)
            return minLR + (base - minLR) * Float((1 + cos(Double.pi * t)) / 2)
        }
    }
}
