// The end every residual block shares: the branch's last BatchNorm, SE on the branch (SE-ResNet), the shortcut
// (identity, or torchvision's `downsample` = Conv1×1(stride s)-BN when the shape changes), the addition and the
// ReLU — run as one pass over the output (`abl_residual_relu`), so neither the normalised branch nor the sum is
// ever written out on its own.
import CKernels
import Engine

/// Shortcut of a block whose shape changes: Conv1×1(stride s)-BN, `downsample.0` and `downsample.1`.
struct Downsample {
    let conv: Conv2D, norm: BatchNorm2D

    init(_ store: ParameterStore, name: String, in cin: Int, out cout: Int, stride: Int) {
        conv = Conv2D(store, name: "\(name).0", in: cin, out: cout, kernel: 1, stride: stride, fan: .fanOut)
        norm = BatchNorm2D(store, name: "\(name).1", channels: cout)
    }
}

/// `y = ReLU(SE(BN(t)) + shortcut(x))`, SE and the downsample optional.
///
/// Forward keeps the downsample's convolution output `s` (its BN's backward needs it); the SE input BN(t) is
/// recomputed in backward from `t`. Backward: with g = ∂L/∂y masked by y > 0, ∂L/∂t comes back through SE and
/// BN, and the shortcut's share of ∂L/∂x is g itself (identity: the caller lets ∂L/∂x alias g, so the branch's
/// input gradient is added onto it without a copy) or the downsample's backward of g.
final class ResidualJoin {
    let norm: BatchNorm2D
    let se: SqueezeExcitation?
    let downsample: Downsample?
    /// Saved by forward for backward: the downsample convolution's output [N, OH, OW, C_out] (its BN's backward
    /// reads it; batch ≤ its first dimension).
    private var shortcut = Tensor([0])
    /// Images in the last training forward; 0 before one and after an eval-mode forward.
    private var savedBatch = 0

    /// Declares SE and the downsample after `norm`, in the course's PyTorch code's module order.
    init(_ store: ParameterStore, name: String, norm: BatchNorm2D, in cin: Int, stride: Int, seReduction: Int?) {
        self.norm = norm
        let cout = norm.channels
        se = seReduction.map { SqueezeExcitation(store, name: "\(name).se", channels: cout, reduction: $0, pytorchBias: true) }
        downsample = stride != 1 || cin != cout
            ? Downsample(store, name: "\(name).downsample", in: cin, out: cout, stride: stride) : nil
    }

    func allocate(n: Int, outH: Int, outW: Int) {
        if downsample != nil { shortcut = Tensor([n, outH, outW, norm.channels]) }
        savedBatch = 0
    }

    var activationBytes: Int { shortcut.count * 4 }

    /// t [N, OH, OW, C] (the branch before its last BN), x [N, H, W, C_in] → y [N, OH, OW, C] (dense). Without
    /// `keep`, the downsample's output goes to scratch (see `ResidualBlock.forward`).
    func forward(_ t: FeatureMap, _ x: FeatureMap, _ y: FeatureMap, training: Bool, keep: Bool, _ ws: Workspace) {
        let pass = prepareForward(t, x, y, training: training, keep: keep, ws)
        prof("bn+se+add+relu", .forward) { parallelRows(t.rows, chunk: 512) { r0, r1 in pass.run(r0, r1) } }
        savedBatch = training ? t.n : 0
    }

    /// Off only in the test that holds the streamed evaluation to the unstreamed one.
    nonisolated(unsafe) static var streams = true

    /// In evaluation without SE, BN uses running statistics and nothing needs the whole branch, so the join can
    /// run on each chunk of t's rows as soon as it is computed, while it is still in cache: returns that pass
    /// (the caller runs it on every row exactly once), or nil when the join must wait for the whole branch
    /// (training: batch statistics; SE: the squeeze) and `forward` is the way.
    func streamingForward(_ t: FeatureMap, _ x: FeatureMap, _ y: FeatureMap, training: Bool, keep: Bool,
                          _ ws: Workspace) -> ForwardPass? {
        guard !training, se == nil, Self.streams else { return nil }
        savedBatch = 0
        return prepareForward(t, x, y, training: false, keep: keep, ws)
    }

    /// `y = ReLU(source·scale + shift)·gate + residual·rscale + rshift)` for rows [r0, r1): the one pass over the
    /// output (`abl_residual_relu`) with everything `prepareForward` set up.
    struct ForwardPass {
        let source: FeatureMap, scale: UnsafeMutablePointer<Float>?, shift: UnsafeMutablePointer<Float>?
        let gate: UnsafeMutablePointer<Float>?
        let residual: FeatureMap, rscale: UnsafeMutablePointer<Float>?, rshift: UnsafeMutablePointer<Float>?
        let y: FeatureMap

        func run(_ r0: Int, _ r1: Int) {
            abl_residual_relu(source.base, source.stride, scale, shift, gate, source.h * source.w, residual.base,
                              residual.stride, rscale, rshift, r0, r1, source.c, y.base, y.stride)
        }
    }

    /// BN statistics, the downsample (its convolution and BN statistics) and SE's gate (which reads all of t);
    /// what is left is the per-row pass.
    private func prepareForward(_ t: FeatureMap, _ x: FeatureMap, _ y: FeatureMap, training: Bool, keep: Bool,
                                _ ws: Workspace) -> ForwardPass {
        prof("bn stats", .forward) { norm.prepare(t, training: training) }
        var residual = x, rscale: UnsafeMutablePointer<Float>? = nil, rshift: UnsafeMutablePointer<Float>? = nil
        if let d = downsample {
            residual = keep ? shortcut.map(batch: t.n) : ws.map(ResNetScratch.unkeptShortcut, like: y)
            prof("downsample " + convName(d.conv), .forward) { d.conv.forward(x, residual, ws) }
            prof("bn stats", .forward) { d.norm.prepare(residual, training: training) }
            rscale = d.norm.scale; rshift = d.norm.shift
        }
        guard let se else {
            return ForwardPass(source: t, scale: norm.scale, shift: norm.shift, gate: nil, residual: residual,
                               rscale: rscale, rshift: rshift, y: y)
        }
        // SE squeezes the normalised branch: write it once, then scale, add and ReLU in one pass.
        let u = ws.map(ResNetScratch.normalizedBranch, like: t)
        var gate: UnsafeMutablePointer<Float>? = nil
        prof("se", .forward) {
            norm.apply(t, u, relu: false)
            gate = se.excite(u)
        }
        return ForwardPass(source: u, scale: nil, shift: nil, gate: gate, residual: residual, rscale: rscale,
                           rshift: rshift, y: y)
    }

    /// Given y and dy = ∂L/∂y (overwritten with the masked gradient g), returns ∂L/∂t (in scratch) and, with a
    /// downsample, writes its share of ∂L/∂x into `dx` (=, not +=; nil: the block's input gradient is not wanted).
    /// Without one, the identity's share is g, which the caller keeps by letting dx alias dy. Accumulates the BN,
    /// SE and downsample parameter gradients that train. Returns nil when `reach` needs no ∂L/∂t (nothing in the
    /// branch before its last BN, nor before the block, trains).
    func backward(_ t: FeatureMap, _ x: FeatureMap, _ y: FeatureMap, _ dy: FeatureMap, dx: FeatureMap?,
                  _ reach: BackwardReach, _ ws: Workspace) -> FeatureMap? {
        precondition(y.isDense && dy.isDense && y.rows == dy.rows && y.c == dy.c)
        requireTrainingForward(savedBatch, t, "residual join")
        prof("relu", .backward) {
            parallelRows(y.rows, chunk: 512) { r0, r1 in
                abl_relu_mask(y.base + r0 * y.c, dy.base + r0 * y.c, (r1 - r0) * y.c)
            }
        }
        if let d = downsample {
            let s = shortcut.map(batch: t.n)
            let ds = ws.map(ResNetScratch.shortcutGradient, like: s)
            let toShortcut = dx != nil || !d.conv.weight.frozen
            prof("bn", .backward) { d.norm.backward(s, dy, toShortcut ? ds : nil, relu: false, accumulate: false) }
            if toShortcut {
                prof("downsample " + convName(d.conv), .backward) { d.conv.backward(x, ds, dx: dx, accumulate: false, ws) }
            }
        }
        // The branch's end: its BN and SE (declared before the downsample) have work when they or anything before
        // them trains; ∂L/∂t is needed when something before the BN does.
        guard reach.output(of: se?.fc2.bias ?? norm.bias) else { return nil }
        let toBranch = reach.input(of: norm.weight)
        let dt = ws.map(ResNetScratch.branchGradient, like: t)
        if let se {
            let u = ws.map(ResNetScratch.normalizedBranch, like: t)
            prof("se", .backward) {
                norm.apply(t, u, relu: false)
                se.backward(u, dy, dt, accumulate: false)
            }
            // element-wise: in place is safe
            prof("bn", .backward) { norm.backward(t, dt, toBranch ? dt : nil, relu: false, accumulate: false) }
        } else {
            prof("bn", .backward) { norm.backward(t, dy, toBranch ? dt : nil, relu: false, accumulate: false) }
        }
        return toBranch ? dt : nil
    }
}

/// Scratch buffers of the residual blocks (contents are not kept from one use to the next).
enum ResNetScratch: ScratchBuffer {
    /// ReLU(bn1(conv1 output)), shaped like conv1's output `[N, ·, ·, planes]` (NHWC or nChw16c), conv2's input:
    /// written in forward, recomputed in backward.
    case frontActivation
    /// ∂L/∂(bn1-ReLU output), shaped like conv1's output; also ∂L/∂(conv1 output) when it is NHWC (bn1's
    /// backward in place).
    case frontActivationGradient
    /// ∂L/∂(conv1 output) when ∂L/∂(bn1-ReLU output) is nChw16c and cannot be overwritten in place.
    case frontGradient
    /// The Bottleneck's ∂L/∂(bn2-ReLU output) `[N, OH, OW, planes]`.
    case bottleneckActivationGradient
    /// The Bottleneck's ∂L/∂(conv2 output) `[N, OH, OW, planes]`.
    case bottleneckGradient
    /// With SE: the branch after its last BN, SE's input `[N, OH, OW, C]` (written in forward, recomputed in
    /// backward).
    case normalizedBranch
    /// ∂L/∂(the downsample convolution's output) `[N, OH, OW, C]`.
    case shortcutGradient
    /// ∂L/∂(the branch before its last BN) `[N, OH, OW, C]`, what `ResidualJoin.backward` returns.
    case branchGradient
    /// An evaluation forward without a training plan: the convolution outputs a training forward keeps in the
    /// block (conv1, conv2, the Bottleneck's conv3, the downsample's), one buffer each for all blocks.
    case unkeptConv1Output, unkeptConv2Output, unkeptConv3Output, unkeptShortcut
}
