// Squeeze-and-Excitation (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018), as the course's PyTorch code
// applies it to the output of each dense block; the models also place it on dense layers, transitions and
// residual branches.

/// `y = x · σ(W₂ · ReLU(W₁ · GAP(x) + b₁) + b₂)` per image and channel.
///
/// Shapes: `x, y [N, H, W, C]`; `fc.0` = Linear(C, C/r), `fc.2` = Linear(C/r, C) with `C/r` the floor
/// (PyTorch's `channels // reduction`). Parameter names follow the course's PyTorch code: `<prefix>.fc.0.weight`,
/// `<prefix>.fc.2.bias`. A class: forward saves what backward and `outputMoments` use (see below).
public final class SqueezeExcitation {
    public let channels: Int, hidden: Int
    public let fc1: Linear, fc2: Linear

    // Saved by forward for backward, sized for the last forward's batch:
    /// Images in the last forward; 0 before the first.
    private var savedBatch = 0
    /// The squeeze s = GAP(x) `[N, C]`.
    private var savedSqueeze = Tensor([0])
    /// The hidden layer ReLU(fc1(s)) `[N, C/r]`.
    private var savedHidden = Tensor([0])
    /// The gate g = σ(fc2(hidden)) `[N, C]`.
    private var savedGate = Tensor([0])
    /// Σx and Σx² per image and channel `[2, N, C]` (doubles), for `outputMoments`.
    private var savedSums: UnsafeMutablePointer<Double>? = nil

    /// `pytorchBias`: the FC biases start as `nn.Linear` leaves them (SE-ResNet) instead of 0 (the course's
    /// SE-DenseNet).
    public init(_ store: ParameterStore, name: String, channels: Int, reduction: Int, pytorchBias: Bool = false) {
        precondition(reduction >= 1 && channels / reduction >= 1, "SE reduction \(reduction) leaves no channels of \(channels)")
        self.channels = channels; hidden = channels / reduction
        fc1 = Linear(store, name: "\(name).fc.0", in: channels, out: hidden, pytorchBias: pytorchBias)
        fc2 = Linear(store, name: "\(name).fc.2", in: hidden, out: channels, pytorchBias: pytorchBias)
    }

    deinit { savedSums?.deallocate() }

    /// The gate of the last forward, `[N, C]`.
    public var gate: UnsafeMutablePointer<Float> { savedGate.data }

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
        if savedBatch != n {
            savedBatch = n
            savedSqueeze = Tensor([n, channels]); savedHidden = Tensor([n, hidden]); savedGate = Tensor([n, channels])
            savedSums?.deallocate()
            savedSums = .allocate(capacity: 2 * n * channels)
        }
        let s = savedSqueeze.data, h = savedHidden.data, g = savedGate.data
        GlobalAvgPool.forward(x, s, ldy: channels, sums: savedSums)
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
        let n = savedBatch, c = channels, g = savedGate.data
        guard let sums = savedSums else { preconditionFailure("SqueezeExcitation.outputMoments before any forward") }
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

    /// Backward of the last forward, on the same `x`: accumulates the FC gradients; writes dx (or adds to it when
    /// `accumulate`).
    public func backward(_ x: FeatureMap, _ dy: FeatureMap, _ dx: FeatureMap, accumulate: Bool) {
        let n = x.n
        precondition(x.c == channels, "SE backward on \(x.c) channels, expected \(channels)")
        precondition(savedBatch == n, savedBatch == 0 ? "SqueezeExcitation backward before any forward"
                     : "SqueezeExcitation backward on \(n) images after a forward on \(savedBatch)")
        let s = savedSqueeze.data, h = savedHidden.data, g = savedGate.data
        let dg = Tensor([n, channels]), dh = Tensor([n, hidden]), ds = Tensor([n, channels])
        ChannelScale.backward(x, g, dy, dx: dx, accumulate: accumulate, ds: dg.data)
        Sigmoid.backward(output: g, dg.data, dg.data, count: n * channels)
        fc2.backward(h, dg.data, dx: dh.data, batch: n)
        ReLU.backward(output: h, dh.data, dh.data, count: n * hidden)
        fc1.backward(s, dh.data, dx: ds.data, batch: n)
        GlobalAvgPool.backward(ds.data, ldy: channels, dx, accumulate: true)
    }
}
