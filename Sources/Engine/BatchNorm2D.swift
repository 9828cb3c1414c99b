// BatchNorm2d over NHWC rows, optionally fused with the ReLU that follows it in every DenseNet use
// (BN-ReLU-Conv). Backward recomputes the ReLU mask from the input and the saved affine map, so the BN output
// never has to be stored (memory-efficient DenseNet, Pleiss et al. 2017).
import CKernels

/// Batch normalisation with PyTorch semantics.
///
/// Training: `y = γ·(x − μ_B)/√(σ²_B + ε) + β` with the biased batch variance σ²_B; running statistics are
/// updated as `r ← (1 − m)·r + m·stat` with momentum m = 0.1 and the *unbiased* variance. Eval: running
/// statistics. Shapes: `x, y [N, H, W, C]` (any row strides). Init: γ = 1, β = 0, running mean 0, var 1.
///
/// Frozen (`frozen`: its running statistics are frozen with the layer, `training.freeze`), it behaves in training as
/// PyTorch's layer after `.eval()`: it normalises with the running statistics, leaves them alone, and its backward
/// is the per-channel affine map's, ∂L/∂x = γ/√(σ²_run + ε) · ∂L/∂y (masked by the ReLU when fused).
///
/// A class: forward saves the statistics that backward (and the recompute `apply`) use, see `saved`.
public final class BatchNorm2D {
    public let channels: Int
    public let eps: Float
    public let momentum: Float
    public let weight: Param, bias: Param
    public let runningMean: Param, runningVar: Param
    /// Saved by forward (`prepare`) for backward and `apply`: the per-channel affine map of the last forward
    /// (`y = x·scale + shift`) and the mean and 1/σ it normalised with, `[4, C]`: scale, shift, mean, invstd.
    private let saved: Tensor
    /// Which statistics `saved` holds: none before the first forward, a training forward's batch statistics
    /// (what backward needs), or an eval forward's running statistics.
    private var savedStatistics = SavedStatistics.none

    enum SavedStatistics { case none, batch, running }

    public init(_ store: ParameterStore, name: String, channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        self.channels = channels; self.eps = eps; self.momentum = momentum
        weight = store.parameter("\(name).weight", [channels], init: .ones)
        bias = store.parameter("\(name).bias", [channels], init: .zeros)
        runningMean = store.buffer("\(name).running_mean", [channels], init: .zeros)
        runningVar = store.buffer("\(name).running_var", [channels], init: .ones)
        saved = Tensor([4, channels])
    }

    /// Normalises with its running statistics in training too and keeps them as they are (see the type's comment).
    public var frozen: Bool { runningMean.frozen }

    /// The affine map of the last `prepare` (`y = x·scale + shift`), for kernels that fuse BN with what follows.
    public var scale: UnsafeMutablePointer<Float> { saved.data }
    public var shift: UnsafeMutablePointer<Float> { saved.data + channels }
    var mean: UnsafeMutablePointer<Float> { saved.data + 2 * channels }
    var invstd: UnsafeMutablePointer<Float> { saved.data + 3 * channels }

    /// Stops with a clear message unless a forward (`prepare`) saved statistics; with `training`, unless the last
    /// forward was in training mode (backward differentiates the batch statistics saved by that forward; a frozen
    /// layer's training forward uses the running ones).
    func requireSaved(training: Bool) {
        precondition(savedStatistics != .none, "BatchNorm2D used before any forward (prepare) saved its statistics")
        precondition(!training || savedStatistics == (frozen ? .running : .batch),
                     "BatchNorm2D backward after an eval-mode forward")
    }

    /// y = BN(x) (then ReLU when `relu`). `y` may alias `x` only when both have the same stride.
    /// `statistics`: the batch mean and biased variance of `x` when the caller already has them (a dense
    /// block computes each channel's once and every later layer reuses them); bit-identical to computing here.
    /// `outputBlock` 16 writes y in oneDNN's nChw16c layout instead of NHWC (see `Conv2D.inputBlock`).
    public func forward(_ x: FeatureMap, _ y: FeatureMap, training: Bool, relu: Bool,
                        statistics: ChannelMoments? = nil, outputBlock: Int = 0) {
        precondition(x.c == channels && y.c == channels && x.rows == y.rows)
        prepare(x, training: training, statistics: statistics)
        apply(x, y, relu: relu, outputBlock: outputBlock)
    }

    /// The statistics part of `forward`: sets this layer's scale and shift for `x` (batch statistics and running
    /// averages updated when training and not frozen, running statistics otherwise) without writing an output.
    public func prepare(_ x: FeatureMap, training: Bool, statistics: ChannelMoments? = nil) {
        precondition(x.c == channels)
        if training && !frozen {
            setBatchStatistics(statistics ?? ChannelMoments(x), rows: x.rows)
        } else {
            useRunningStatistics()
        }
    }

    /// Writes `x·scale + shift` (and ReLU) with the statistics of the last forward: the recompute path.
    public func apply(_ x: FeatureMap, _ y: FeatureMap, relu: Bool, outputBlock: Int = 0) {
        requireSaved(training: false)
        precondition(x.c == channels && y.c == channels && x.rows == y.rows,
                     "batch norm \(x.rows)×\(x.c) → \(y.rows)×\(y.c), expected \(channels) channels and equal rows")
        let (sc, sh, c) = (scale, shift, channels)
        if outputBlock == 16 {
            precondition(c % 16 == 0 && y.isDense, "nChw16c output needs a dense map with channels in multiples of 16")
            let hw = x.h * x.w
            parallelRows(x.rows, chunk: 512) { r0, r1 in
                abl_scale_shift_blocked16(x.base, r0, r1, c, x.stride, sc, sh, relu ? 1 : 0, y.base, hw)
            }
            return
        }
        precondition(outputBlock == 0, "unsupported output block \(outputBlock)")
        parallelRows(x.rows, chunk: 512) { r0, r1 in
            abl_scale_shift(x.base, r0, r1, c, x.stride, sc, sh, relu ? 1 : 0, y.base, y.stride)
        }
    }

    func setBatchStatistics(_ m: ChannelMoments, rows: Int) {
        precondition(m.mean.count >= channels)
        let g = weight.value, b = bias.value, rm = runningMean.value, rv = runningVar.value
        let unbias = rows > 1 ? Double(rows) / Double(rows - 1) : 1
        for i in 0..<channels {
            let mu = m.mean[i], variance = m.variance[i]
            let inv = 1 / (variance + Double(eps)).squareRoot()
            mean[i] = Float(mu); invstd[i] = Float(inv)
            scale[i] = g[i] * Float(inv)
            shift[i] = b[i] - Float(mu) * scale[i]
            rm[i] = (1 - momentum) * rm[i] + momentum * Float(mu)
            rv[i] = (1 - momentum) * rv[i] + momentum * Float(variance * unbias)
        }
        savedStatistics = .batch
    }

    func useRunningStatistics() {
        let g = weight.value, b = bias.value, rm = runningMean.value, rv = runningVar.value
        for i in 0..<channels {
            let inv = 1 / (rv[i] + eps).squareRoot()
            mean[i] = rm[i]; invstd[i] = inv
            scale[i] = g[i] * inv
            shift[i] = b[i] - rm[i] * scale[i]
        }
        savedStatistics = .running
    }

    /// Backward of a training-mode forward on `x`. `dy` is the gradient of the layer's output (after the ReLU
    /// when `relu`). Accumulates dγ, dβ (those that train); writes `dx` (or adds to it when `accumulate`) unless
    /// it is nil (nothing upstream needs it). `dyBlock` 16: dy's memory is in nChw16c layout (as a Winograd
    /// backward-data kernel writes it); dx must not alias it then. Frozen: only dx, through the affine map.
    public func backward(_ x: FeatureMap, _ dy: FeatureMap, _ dx: FeatureMap?, relu: Bool, accumulate: Bool,
                         dyBlock: Int = 0) {
        requireSaved(training: true)
        let c = channels, m = x.rows, hw = x.h * x.w
        let (sc, sh, mu) = (scale, shift, mean)
        precondition(x.c == c && dy.c == c && dy.rows == m && (dx.map { $0.c == c && $0.rows == m } ?? true),
                     "batch norm backward x \(x.rows)×\(x.c), dy \(dy.rows)×\(dy.c), dx \(dx.map { "\($0.rows)×\($0.c)" } ?? "none"), expected \(c) channels")
        precondition(dyBlock == 0 || (dyBlock == 16 && c % 16 == 0 && dy.isDense && dy.base != dx?.base),
                     "nChw16c gradient needs channels in multiples of 16 and a separate dx")
        if frozen {
            if let dx { affineBackward(x, dy, dx, relu: relu, accumulate: accumulate, dyBlock: dyBlock) }
            return
        }
        guard trains || dx != nil else { return }
        let sums = reduceRows(m, width: c, outputs: 2) { r0, r1, out in
            if dyBlock == 16 {
                abl_bn_backward_sums_blocked16(x.base, x.stride, dy.base, hw, r0, r1, c, sc, sh, relu ? 1 : 0, mu,
                                               out[0], out[1])
            } else {
                abl_bn_backward_sums(x.base, x.stride, dy.base, dy.stride, r0, r1, c, sc, sh, relu ? 1 : 0, mu,
                                     out[0], out[1])
            }
        }
        backward(x, dy, dx, sums: sums, relu: relu, accumulate: accumulate, dyBlock: dyBlock)
    }

    /// The second half of `backward`, given the per-channel sums Σg (`sums[0]`) and Σg·(x − mean) (`sums[1]`)
    /// over all rows, with g = dy masked by the ReLU (the first half, or a caller that took them on the fly).
    /// Not for a frozen layer (whose backward needs no sums).
    func backward(_ x: FeatureMap, _ dy: FeatureMap, _ dx: FeatureMap?, sums: [[Double]], relu: Bool,
                  accumulate: Bool, dyBlock: Int = 0) {
        requireSaved(training: true)
        precondition(!frozen, "a frozen BatchNorm2D's backward takes no batch sums")
        let c = channels, m = x.rows, hw = x.h * x.w
        let (sc, sh, mu) = (scale, shift, mean)
        if trains { GradientTermRecorder.active?.batchNorm(self, x, dy, relu: relu, dyBlock: dyBlock) }
        let coeff = Tensor([3, c])
        let a = coeff.data, b = coeff.data + c, k = coeff.data + 2 * c
        let gw = weight.grad, gb = bias.grad, gamma = weight.value
        let (trainsWeight, trainsBias) = (!weight.frozen, !bias.frozen)
        for i in 0..<c {
            let inv = Double(invstd[i])
            let meanG = sums[0][i] / Double(m), meanGX = sums[1][i] / Double(m)
            if trainsBias { gb[i] += Float(sums[0][i]) }
            if trainsWeight { gw[i] += Float(sums[1][i] * inv) }
            let ai = Double(gamma[i]) * inv
            let ki = -ai * inv * inv * meanGX
            a[i] = Float(ai); k[i] = Float(ki)
            b[i] = Float(-ai * meanG)
        }
        guard let dx else { return }
        parallelRows(m, chunk: 512) { r0, r1 in
            if dyBlock == 16 {
                abl_bn_backward_dx_blocked16(x.base, x.stride, dy.base, hw, r0, r1, c, sc, sh, relu ? 1 : 0, mu,
                                             a, b, k, accumulate ? 1 : 0, dx.base, dx.stride)
            } else {
                abl_bn_backward_dx(x.base, x.stride, dy.base, dy.stride, r0, r1, c, sc, sh, relu ? 1 : 0, mu,
                                   a, b, k, accumulate ? 1 : 0, dx.base, dx.stride)
            }
        }
    }

    /// Whether its γ or β trains.
    var trains: Bool { !weight.frozen || !bias.frozen }

    /// A frozen layer's backward: dx (= or +=) dy · scale, masked where the ReLU cut (scale and shift from the
    /// running statistics, as the forward normalised): the dx kernel with a = scale and no mean terms.
    func affineBackward(_ x: FeatureMap, _ dy: FeatureMap, _ dx: FeatureMap, relu: Bool, accumulate: Bool,
                        dyBlock: Int = 0) {
        let c = channels, m = x.rows, hw = x.h * x.w
        let (sc, sh, mu) = (scale, shift, mean)
        let zeros = Tensor([c])
        parallelRows(m, chunk: 512) { r0, r1 in
            if dyBlock == 16 {
                abl_bn_backward_dx_blocked16(x.base, x.stride, dy.base, hw, r0, r1, c, sc, sh, relu ? 1 : 0, mu,
                                             sc, zeros.data, zeros.data, accumulate ? 1 : 0, dx.base, dx.stride)
            } else {
                abl_bn_backward_dx(x.base, x.stride, dy.base, dy.stride, r0, r1, c, sc, sh, relu ? 1 : 0, mu,
                                   sc, zeros.data, zeros.data, accumulate ? 1 : 0, dx.base, dx.stride)
            }
        }
    }
}

/// Per-channel batch mean and biased variance of a feature map (the statistics BatchNorm normalises with).
///
/// Each channel's result depends only on that channel's values and the fixed row chunking, so the moments of a
/// slice equal the same channels' moments computed as part of a wider map, bit for bit.
public struct ChannelMoments {
    public var mean: [Double]
    public var variance: [Double]

    public init(mean: [Double], variance: [Double]) { self.mean = mean; self.variance = variance }

    public init(_ x: FeatureMap) {
        let c = x.c, m = x.rows
        // Shift by the first pixel's values so that E[x²] − E[x]² does not cancel.
        let pivot = Tensor([c]); pivot.data.update(from: x.base, count: c)
        let sums = reduceRows(m, width: c, outputs: 2) { r0, r1, out in
            abl_channel_moments(x.base, r0, r1, c, x.stride, pivot.data, out[0], out[1])
        }
        mean = [Double](repeating: 0, count: c); variance = mean
        for i in 0..<c {
            let dm = sums[0][i] / Double(m)
            variance[i] = max(0, sums[1][i] / Double(m) - dm * dm)
            mean[i] = Double(pivot[i]) + dm
        }
    }

    /// Channels `[from, from + count)`.
    public func slice(_ from: Int, _ count: Int) -> ChannelMoments {
        ChannelMoments(mean: Array(mean[from..<(from + count)]), variance: Array(variance[from..<(from + count)]))
    }

    /// Writes another map's moments at channel offset `at`.
    public mutating func store(_ other: ChannelMoments, at: Int) {
        for i in 0..<other.mean.count { mean[at + i] = other.mean[i]; variance[at + i] = other.variance[i] }
    }
}
