// The two building blocks of a DenseNet, each a forward/backward pair over NHWC maps (llm.c style): the dense
// layer and the transition between dense blocks. The network (DenseNet.swift) strings them together.
//
// A dense block keeps every layer's output in one buffer X [N, H, W, C_in + L·k]: layer l reads the channel
// prefix [0, c) with c = C_in + l·k and writes its k new channels at c, so concatenation never copies. BN-ReLU
// outputs are never stored: backward recomputes them from X or from the bottleneck (memory-efficient DenseNet,
// Pleiss et al. 2017). BN1-ReLU and the 1×1 convolution run fused in cache-sized row chunks
// (`FusedBottleneck`); BN2-ReLU writes the layout the 3×3 convolution reads (oneDNN's nChw16c for Winograd).
import Engine

/// Scratch buffers of the DenseNet's layers (contents are not kept from one use to the next).
enum DenseNetScratch: ScratchBuffer {
    /// A dense layer's BN2-ReLU output, the 3×3 convolution's input `[N, H, W, bn·k]` (NHWC or nChw16c):
    /// written in forward, recomputed in backward.
    case bottleneckActivation
    /// ∂L/∂(BN2-ReLU output) `[N, H, W, bn·k]`; also ∂L/∂bottleneck when it is NHWC (BN2's backward in place).
    case bottleneckActivationGradient
    /// ∂L/∂bottleneck `[N, H, W, bn·k]` when ∂L/∂(BN2-ReLU output) is nChw16c and cannot be overwritten in place.
    case bottleneckGradient
    /// ∂L/∂(BN1-ReLU output) `[N, H, W, c]`, the input gradient of the 1×1 convolution before BN1's backward.
    case inputActivationGradient
    /// ∂L/∂(a dense layer's new maps before its SE) `[N, H, W, k]` (SE placement `layer`).
    case layerSEInputGradient
    /// ∂L/∂(a dense block's output before its SE) `[N, H, W, C]` (SE placement `block`).
    case blockSEOutputGradient
    /// A transition's BN-ReLU output `[N, H, W, C]`; in backward, after the pooling's backward, its gradient.
    case transitionActivation
    /// A transition's pooled BN-ReLU output `[N, H/2, W/2, C]`, the 1×1 convolution's input.
    case transitionPooled
    /// ∂L/∂(pooled BN-ReLU output) `[N, H/2, W/2, C]`.
    case transitionPooledGradient
    /// ∂L/∂(a transition's output before its SE) `[N, H/2, W/2, ⌊θC⌋]` (SE placement `transition`).
    case transitionSEInputGradient
    /// The head's BN-ReLU output `[N, H, W, C]` in forward; its gradient in backward.
    case headActivation
}

/// One dense layer: BN-ReLU-Conv1×1(bn·k)-BN-ReLU-Conv3×3(k) on the block buffer's first c channels; its k new
/// maps (after dropout, and SE with placement `layer`: `<name>.se.fc.0/2`) are written at channel c.
///
/// Shapes: block buffer X `[N, H, W, C_block]`; reads `X[..., 0..<c]`, writes `X[..., c..<c + k]`;
/// bottleneck (conv1's output) `[N, H, W, bn·k]`.
final class DenseLayer {
    /// c, the channels this layer reads.
    let inChannels: Int
    /// k, the channels this layer adds.
    let growth: Int
    let norm1: BatchNorm2D, conv1: Conv2D, norm2: BatchNorm2D, conv2: Conv2D
    let se: SqueezeExcitation?
    let dropout: Dropout?

    // Saved by forward for backward (sized by `allocate`; a smaller batch uses the first images' share).
    /// conv1's output, the bottleneck `[N, H, W, bn·k]`: BN2's input, from which backward recomputes BN2-ReLU.
    private var bottleneck = Tensor([0])
    /// With SE: the new maps before SE `[N, H, W, k]` (SE's backward needs them; X holds the scaled maps).
    private var seInput: Tensor?
    /// With dropout: the mask of the last training forward, 0 or 1/(1 − p) per new value `[N, H, W, k]`.
    private var dropoutMask: Tensor?
    /// Images in the last training forward; 0 before one and after an eval-mode forward.
    private var savedBatch = 0

    init(_ store: ParameterStore, name: String, in c: Int, growth k: Int, bnSize: Int, seReduction: Int?,
         dropout: Dropout?) {
        inChannels = c; growth = k
        norm1 = BatchNorm2D(store, name: "\(name).norm1", channels: c)
        conv1 = Conv2D(store, name: "\(name).conv1", in: c, out: bnSize * k, kernel: 1)
        norm2 = BatchNorm2D(store, name: "\(name).norm2", channels: bnSize * k)
        conv2 = Conv2D(store, name: "\(name).conv2", in: bnSize * k, out: k, kernel: 3, stride: 1, padding: 1)
        se = seReduction.map { SqueezeExcitation(store, name: "\(name).se", channels: k, reduction: $0) }
        self.dropout = dropout
    }

    /// Sizes the saved activations for blocks of `n` images of `h×w`.
    func allocate(n: Int, h: Int, w: Int) {
        bottleneck = Tensor([n, h, w, conv1.outChannels])
        seInput = se == nil ? nil : Tensor([n, h, w, growth])
        dropoutMask = dropout == nil ? nil : Tensor([n, h, w, growth])
        savedBatch = 0
    }

    var activationBytes: Int { (bottleneck.count + (seInput?.count ?? 0) + (dropoutMask?.count ?? 0)) * 4 }

    /// The first and the last parameter it declares (see `BackwardReach`).
    var firstParameter: Param { norm1.weight }
    var lastParameter: Param { se?.fc2.bias ?? conv2.weight }

    /// Reads the channel prefix `[0, c)` of the block buffer `x` `[N, H, W, C_block]` and writes the k new maps
    /// at channel c. With `tracking` (training, and a BatchNorm that normalises with batch statistics reads the
    /// block): `moments` holds the batch mean and variance of every channel written so far (BN1 normalises with
    /// `moments[0..<c]`, no second pass over them), and receives those of the new maps. Dropout draws its mask
    /// from `rng`.
    func forward(_ x: FeatureMap, training: Bool, moments: inout ChannelMoments, tracking: Bool,
                 rng: inout SeededGenerator, _ ws: Workspace) {
        let c = inChannels, input = x.channels(0, c)
        prof("bn+relu", .forward) {
            norm1.prepare(input, training: training, statistics: tracking ? moments.slice(0, c) : nil)
        }
        let bott = bottleneck.map(batch: x.n)
        // BN1-ReLU and the 1×1 convolution in cache-sized row chunks: the activations never hit memory.
        prof("bn+relu+conv1x1", .forward) { FusedBottleneck.forward(norm1, conv1, input, bott, ws) }
        let a2 = ws.map(DenseNetScratch.bottleneckActivation, like: bott)
        // Winograd kernels read their input in 16-channel blocks: BN-ReLU writes that layout directly.
        let block = conv2.inputBlock(a2)
        prof("bn+relu", .forward) { norm2.forward(bott, a2, training: training, relu: true, outputBlock: block) }
        let new = x.channels(c, growth)
        // With SE, the convolution (and dropout) write SE's saved input; SE writes the scaled maps.
        let convOut = seInput?.map(batch: x.n) ?? new
        prof("conv3x3", .forward) { conv2.forward(a2, convOut, ws, inputBlock: block) }
        if training, let dropout, let dropoutMask {
            prof("dropout", .forward) { dropout.forward(convOut, mask: dropoutMask.data, rng: &rng) }
        }
        if let se { prof("se", .forward) { se.forward(convOut, new) } }
        if tracking { prof("bn stats", .forward) { moments.store(ChannelMoments(new), at: c) } }
        savedBatch = training ? x.n : 0
    }

    /// Backward of the last training forward on the block buffer `x`: reads ∂L/∂(new maps) from `dx`'s channels
    /// `[c, c + k)` and adds ∂L/∂(input) onto its prefix `[0, c)`; accumulates the parameter gradients. Goes back
    /// only as far as `reach` asks: the input gradient only when something before the layer trains, and no further
    /// than the first of its own parameters that trains; frozen weights get no gradient.
    func backward(_ x: FeatureMap, _ dx: FeatureMap, _ reach: BackwardReach, _ ws: Workspace) {
        requireTrainingForward(savedBatch, x, "dense layer")
        let c = inChannels, input = x.channels(0, c)
        var dNew = dx.channels(c, growth)
        if let se, let seInput {
            let dSEInput = ws.map(DenseNetScratch.layerSEInputGradient, like: x, c: growth)
            prof("se", .backward) { se.backward(seInput.map(batch: x.n), dNew, dSEInput, accumulate: false) }
            dNew = dSEInput
        }
        guard reach.output(of: conv2.weight) else { return }
        if let dropout, let dropoutMask {
            prof("dropout", .backward) { dropout.backward(dNew, mask: dropoutMask.data) }
        }
        let bott = bottleneck.map(batch: x.n)
        let a2 = ws.map(DenseNetScratch.bottleneckActivation, like: bott)
        let block = conv2.inputBlock(a2)
        if !conv2.weight.frozen {
            prof("bn+relu recompute", .backward) { norm2.apply(bott, a2, relu: true, outputBlock: block) }
        }
        let dA2 = ws.map(DenseNetScratch.bottleneckActivationGradient, like: bott)
        let toA2 = reach.input(of: conv2.weight)
        prof("conv3x3", .backward) { conv2.backward(a2, dNew, dx: toA2 ? dA2 : nil, ws, inputBlock: block) }
        guard toA2 else { return }
        // ∂L/∂bottleneck: in place over dA2 (NHWC), or from blocked dA2 into a buffer of its own.
        let dBott = block == 0 ? dA2 : ws.map(DenseNetScratch.bottleneckGradient, like: bott)
        let toBottleneck = reach.input(of: norm2.weight)
        prof("bn+relu", .backward) {
            norm2.backward(bott, dA2, toBottleneck ? dBott : nil, relu: true, accumulate: false, dyBlock: block)
        }
        guard toBottleneck else { return }
        let dA1 = ws.map(DenseNetScratch.inputActivationGradient, like: input)
        // dW1 from BN1-ReLU recomputed chunk by chunk (fused as in the forward); then dA1 = dBott · W1ᵀ in
        // chunks, with BN1's backward sums taken from each chunk while it is in cache.
        prof("bn+relu+conv1x1", .backward) { FusedBottleneck.weightGradient(norm1, conv1, input, dBott, ws) }
        guard reach.input(of: conv1.weight) else { return }
        prof("conv1x1+bn+relu", .backward) {
            FusedBottleneck.backwardData(norm1, conv1, input, dBott, da: dA1,
                                         dx: reach.input(of: norm1.weight) ? dx.channels(0, c) : nil, accumulate: true)
        }
    }
}

/// A transition between dense blocks: BN-ReLU-Conv1×1(⌊θC⌋)-AvgPool2, computed as BN-ReLU-AvgPool2-Conv1×1
/// (both are linear, so they commute: a quarter of the GEMM), then SE with placement `transition`
/// (`<name>.se.fc.0/2`).
///
/// Shapes: x `[N, H, W, C]` (the block's output) → y `[N, H/2, W/2, ⌊θC⌋]` (the next block buffer's prefix).
final class Transition {
    let norm: BatchNorm2D, conv: Conv2D
    let pool = AvgPool2D(kernel: 2, stride: 2)
    let se: SqueezeExcitation?

    // Saved by forward for backward (besides BN's statistics and SE's own).
    /// With SE: the convolution's output before SE `[N, H/2, W/2, ⌊θC⌋]` (SE's backward needs it).
    private var seInput: Tensor?
    /// Images in the last training forward; 0 before one and after an eval-mode forward.
    private var savedBatch = 0

    init(_ store: ParameterStore, name: String, in c: Int, out: Int, seReduction: Int?) {
        norm = BatchNorm2D(store, name: "\(name).norm", channels: c)
        conv = Conv2D(store, name: "\(name).conv", in: c, out: out, kernel: 1)
        se = seReduction.map { SqueezeExcitation(store, name: "\(name).se", channels: out, reduction: $0) }
    }

    var outChannels: Int { conv.outChannels }

    /// The first and the last parameter it declares (see `BackwardReach`).
    var firstParameter: Param { norm.weight }
    var lastParameter: Param { se?.fc2.bias ?? conv.weight }

    /// Sizes the saved activations for outputs of `n` images of `h×w` (the next block's sides).
    func allocate(n: Int, outH h: Int, outW w: Int) {
        seInput = se == nil ? nil : Tensor([n, h, w, outChannels])
        savedBatch = 0
    }

    var activationBytes: Int { (seInput?.count ?? 0) * 4 }

    /// x `[N, H, W, C]` → y `[N, H/2, W/2, ⌊θC⌋]` (may be a channel slice). `statistics`: x's batch mean and
    /// variance when the caller has them (training).
    func forward(_ x: FeatureMap, _ y: FeatureMap, training: Bool, statistics: ChannelMoments?, _ ws: Workspace) {
        let act = ws.map(DenseNetScratch.transitionActivation, like: x)
        prof("bn+relu", .forward) { norm.forward(x, act, training: training, relu: true, statistics: statistics) }
        let pooled = ws.map(DenseNetScratch.transitionPooled, like: y, c: x.c)
        prof("avgpool", .forward) { pool.forward(act, pooled) }
        let convOut = seInput?.map(batch: x.n) ?? y
        prof("conv1x1", .forward) { conv.forward(pooled, convOut, ws) }
        if let se { prof("se", .forward) { se.forward(convOut, y) } }
        savedBatch = training ? x.n : 0
    }

    /// Backward of the last training forward on `x`, given dy = ∂L/∂y `[N, H/2, W/2, ⌊θC⌋]`: writes
    /// dx = ∂L/∂x `[N, H, W, C]` when `reach` asks for the input gradient, and accumulates the gradients of the
    /// parameters that train.
    func backward(_ x: FeatureMap, _ dy: FeatureMap, dx: FeatureMap, _ reach: BackwardReach, _ ws: Workspace) {
        requireTrainingForward(savedBatch, x, "transition")
        var dOut = dy
        if let se, let seInput {
            let dSEInput = ws.map(DenseNetScratch.transitionSEInputGradient, like: dy)
            prof("se", .backward) { se.backward(seInput.map(batch: x.n), dy, dSEInput, accumulate: false) }
            dOut = dSEInput
        }
        guard reach.output(of: conv.weight) else { return }
        let act = ws.map(DenseNetScratch.transitionActivation, like: x)
        let pooled = ws.map(DenseNetScratch.transitionPooled, like: dy, c: x.c)
        if !conv.weight.frozen {
            prof("bn+relu recompute", .backward) { norm.apply(x, act, relu: true) }
            prof("avgpool", .backward) { pool.forward(act, pooled) }
        }
        let dPooled = ws.map(DenseNetScratch.transitionPooledGradient, like: dy, c: x.c)
        let toPooled = reach.input(of: conv.weight)
        prof("conv1x1", .backward) { conv.backward(pooled, dOut, dx: toPooled ? dPooled : nil, ws) }
        guard toPooled else { return }
        prof("avgpool", .backward) { pool.backward(dPooled, act) } // act now holds ∂L/∂(BN-ReLU output)
        prof("bn+relu", .backward) { norm.backward(x, act, reach.input(of: norm.weight) ? dx : nil, relu: true, accumulate: false) }
    }
}
