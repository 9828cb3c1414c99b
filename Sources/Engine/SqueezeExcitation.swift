// Squeeze-and-Excitation (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018), as the seed applies it to
// the output of each dense block.

/// `y = x · σ(W₂ · ReLU(W₁ · GAP(x) + b₁) + b₂)` per image and channel.
///
/// Shapes: `x, y [N, H, W, C]`; `fc.0` = Linear(C, C/r), `fc.2` = Linear(C/r, C) with `C/r` the floor
/// (PyTorch's `channels // reduction`). Parameter names follow the seed: `<prefix>.fc.0.weight`, `<prefix>.fc.2.bias`.
public struct SqueezeExcitation {
    public let channels: Int, hidden: Int
    public let fc1: Linear, fc2: Linear
    /// Saved per forward for backward: squeeze s [N, C], hidden h [N, C/r] (after ReLU), gate g [N, C].
    let saved = SavedActivations()

    final class SavedActivations {
        var batch = 0; var s = Tensor([0]); var h = Tensor([0]); var g = Tensor([0])
        var sums: UnsafeMutablePointer<Double>? = nil   // [2, N, C]: Σ x and Σ x² per image and channel
        deinit { sums?.deallocate() }
    }

    /// `pytorchBias`: the FC biases start as `nn.Linear` leaves them (SE-ResNet) instead of 0 (the course's
    /// SE-DenseNet).
    public init(_ store: ParameterStore, name: String, channels: Int, reduction: Int, pytorchBias: Bool = false) {
        precondition(reduction >= 1 && channels / reduction >= 1, "SE reduction \(reduction) leaves no channels of \(channels)")
        self.channels = channels; hidden = channels / reduction
        fc1 = Linear(store, name: "\(name).fc.0", in: channels, out: hidden, pytorchBias: pytorchBias)
        fc2 = Linear(store, name: "\(name).fc.2", in: hidden, out: channels, pytorchBias: pytorchBias)
    }

    /// The gate of the last forward, `[N, C]`.
    public var gate: UnsafeMutablePointer<Float> { saved.g.data }

    public func forward(_ x: FeatureMap, _ y: FeatureMap) {
        checkShape(x, y, (x.h, x.w), "SE output")
        ChannelScale.forward(x, excite(x), y)
    }

    /// Squeeze and excitation without the scaling: the gate `[N, C]` for `x` (kept for backward), for a caller
    /// that fuses `x · gate` with what follows (a residual block's addition and ReLU).
    @discardableResult
    public func excite(_ x: FeatureMap) -> UnsafeMutablePointer<Float> {
        precondition(x.c == channels, "SE on \(x.c) channels, expected \(channels)")
        let n = x.n
        if saved.batch != n {
            saved.batch = n
            saved.s = Tensor([n, channels]); saved.h = Tensor([n, hidden]); saved.g = Tensor([n, channels])
            saved.sums?.deallocate()
            saved.sums = .allocate(capacity: 2 * n * channels)
        }
        let s = saved.s.data, h = saved.h.data, g = saved.g.data
        GlobalAvgPool.forward(x, s, ldy: channels, sums: saved.sums)
        fc1.forward(s, h, batch: n)
        ReLU.forward(h, h, count: n * hidden)
        fc2.forward(h, g, batch: n)
        Sigmoid.forward(g, g, count: n * channels)
        return g
    }

    /// Batch mean and biased variance per channel of the last forward's output y = x·g, from the squeeze pass's
    /// per-image sums (Σx, Σx² in double) instead of another pass over y: E[y] = Σₙ gₙ·Σx / M,
    /// E[y²] = Σₙ gₙ²·Σx² / M with M = N·H·W. The next BatchNorm (a transition's, or the final one) uses them.
    public func outputMoments(rows: Int) -> ChannelMoments {
        let n = saved.batch, c = channels, g = saved.g.data
        guard let sums = saved.sums else { preconditionFailure("outputMoments before forward") }
        var mean = [Double](repeating: 0, count: c), variance = mean
        for i in 0..<n {
            for ch in 0..<c {
                let gate = Double(g[i * c + ch])
                mean[ch] += gate * sums[i * c + ch]
                variance[ch] += gate * gate * sums[(n + i) * c + ch]
            }
        }
        for ch in 0..<c {
            mean[ch] /= Double(rows)
            variance[ch] = max(0, variance[ch] / Double(rows) - mean[ch] * mean[ch])
        }
        return ChannelMoments(mean: mean, variance: variance)
    }

    /// Accumulates the FC gradients; writes dx (or adds to it when `accumulate`).
    public func backward(_ x: FeatureMap, _ dy: FeatureMap, _ dx: FeatureMap, accumulate: Bool) {
        let n = x.n
        precondition(x.c == channels && saved.batch == n, "SE backward on \(n)×\(x.c), forward saw \(saved.batch)×\(channels)")
        let s = saved.s.data, h = saved.h.data, g = saved.g.data
        let dg = Tensor([n, channels]), dh = Tensor([n, hidden]), ds = Tensor([n, channels])
        ChannelScale.backward(x, g, dy, dx: dx, accumulate: accumulate, ds: dg.data)
        Sigmoid.backward(output: g, dg.data, dg.data, count: n * channels)
        fc2.backward(h, dg.data, dx: dh.data, batch: n)
        ReLU.backward(output: h, dh.data, dh.data, count: n * hidden)
        fc1.backward(s, dh.data, dx: ds.data, batch: n)
        GlobalAvgPool.backward(ds.data, ldy: channels, dx, accumulate: true)
    }
}
