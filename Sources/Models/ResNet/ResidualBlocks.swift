// torchvision's two residual blocks, each a forward/backward pair over NHWC maps. BN-ReLU outputs are recomputed
// in backward from the stored convolution outputs instead of kept (as in the DenseNet), and where the 3×3
// convolution is Winograd, BN-ReLU writes its input and BN's backward reads its gradient in oneDNN's nChw16c
// layout. The Bottleneck's BN2-ReLU-Conv1×1 runs fused in row chunks (FusedBottleneck), forward and backward.
import Engine

/// A residual block: `y = ReLU(branch(x) + shortcut(x))` (see `ResidualJoin`).
protocol ResidualBlock: AnyObject {
    var inChannels: Int { get }
    var outChannels: Int { get }
    var stride: Int { get }
    var join: ResidualJoin { get }
    /// Every convolution of the block with the sides it reads and writes, for a block input of `h×w`.
    func convolutions(_ h: Int, _ w: Int) -> [(conv: Conv2D, input: (h: Int, w: Int), output: (h: Int, w: Int))]
    /// Sizes the stored activations for inputs of `n` images of `h×w`.
    func allocate(n: Int, h: Int, w: Int)
    var activationBytes: Int { get }
    /// x [N, H, W, C_in] → y [N, OH, OW, C_out] (dense). With `keep` the convolution outputs go to the block's
    /// own buffers (sized by `allocate`) for backward; without it (evaluation without a training plan) to
    /// scratch shared by all blocks, and the block needs no `allocate`. Training always keeps.
    func forward(_ x: FeatureMap, _ y: FeatureMap, training: Bool, keep: Bool, _ ws: Workspace)
    /// Backward of the last training forward on `x`: dy = ∂L/∂y (overwritten) → dx = ∂L/∂x (written; nil when
    /// `reach` does not ask for the block's input gradient). Without a downsample, dx must be dy's memory. Goes
    /// back inside the block only as far as `reach` asks; frozen weights get no gradient.
    func backward(_ x: FeatureMap, _ y: FeatureMap, _ dy: FeatureMap, dx: FeatureMap?, _ reach: BackwardReach,
                  _ ws: Workspace)
    /// The first parameter it declares (its conv1's weight; see `BackwardReach`).
    var firstParameter: Param { get }
}

extension ResidualBlock {
    func outputSize(_ h: Int, _ w: Int) -> (h: Int, w: Int) { ((h - 1) / stride + 1, (w - 1) / stride + 1) }

    /// The front both blocks share: t1 = conv1(x), t2 = conv2(ReLU(bn1(t1))). ReLU(bn1(t1)) is not kept; where
    /// conv2 is Winograd it is written in oneDNN's nChw16c layout.
    func frontForward(_ conv1: Conv2D, _ bn1: BatchNorm2D, _ conv2: Conv2D, _ x: FeatureMap, _ t1: FeatureMap,
                      _ t2: FeatureMap, training: Bool, _ ws: Workspace) {
        prof(convName(conv1), .forward) { conv1.forward(x, t1, ws) }
        let a1 = ws.map(ResNetScratch.frontActivation, like: t1)
        let block = conv2.inputBlock(a1)
        prof("bn+relu", .forward) {
            bn1.prepare(t1, training: training)
            bn1.apply(t1, a1, relu: true, outputBlock: block)
        }
        prof(convName(conv2), .forward) { conv2.forward(a1, t2, ws, inputBlock: block) }
    }

    /// Backward of `frontForward`: dt2 = ∂L/∂t2 → dx += ∂L/∂x (when given), recomputing ReLU(bn1(t1)) for conv2's
    /// weight gradient. Adds onto the shortcut's share already in dx (the masked ∂L/∂y itself for an identity
    /// shortcut). Stops where `reach` says nothing further back trains.
    func frontBackward(_ conv1: Conv2D, _ bn1: BatchNorm2D, _ conv2: Conv2D, _ x: FeatureMap, _ t1: FeatureMap,
                       _ dt2: FeatureMap, dx: FeatureMap?, _ reach: BackwardReach, _ ws: Workspace) {
        let a1 = ws.map(ResNetScratch.frontActivation, like: t1)
        let block = conv2.inputBlock(a1)
        if !conv2.weight.frozen {
            prof("bn+relu recompute", .backward) { bn1.apply(t1, a1, relu: true, outputBlock: block) }
        }
        let da1 = ws.map(ResNetScratch.frontActivationGradient, like: t1)
        let toA1 = reach.input(of: conv2.weight)
        prof(convName(conv2), .backward) { conv2.backward(a1, dt2, dx: toA1 ? da1 : nil, ws, inputBlock: block) }
        guard toA1 else { return }
        let dt1 = block == 0 ? da1 : ws.map(ResNetScratch.frontGradient, like: t1)
        let toT1 = reach.input(of: bn1.weight)
        prof("bn+relu", .backward) { bn1.backward(t1, da1, toT1 ? dt1 : nil, relu: true, accumulate: false, dyBlock: block) }
        guard toT1 else { return }
        prof(convName(conv1), .backward) { conv1.backward(x, dt1, dx: dx, accumulate: true, ws) }
    }
}

/// ResNet-18/34's block: Conv3×3(stride s)-BN-ReLU-Conv3×3-BN, expansion 1 (`conv1`, `bn1`, `conv2`, `bn2`).
final class BasicBlock: ResidualBlock {
    let inChannels: Int, outChannels: Int, stride: Int
    let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D
    let join: ResidualJoin
    /// Saved by forward for backward: the convolution outputs before their BN, [N, OH, OW, planes] each (BN's
    /// backward and the recompute of bn1-ReLU read them).
    private var t1 = Tensor([0]), t2 = Tensor([0])
    /// Images in the last training forward; 0 before one and after an eval-mode forward.
    private var savedBatch = 0

    init(_ store: ParameterStore, name: String, in cin: Int, planes: Int, stride: Int, seReduction: Int?) {
        inChannels = cin; outChannels = planes; self.stride = stride
        conv1 = Conv2D(store, name: "\(name).conv1", in: cin, out: planes, kernel: 3, stride: stride, padding: 1, fan: .fanOut)
        bn1 = BatchNorm2D(store, name: "\(name).bn1", channels: planes)
        conv2 = Conv2D(store, name: "\(name).conv2", in: planes, out: planes, kernel: 3, stride: 1, padding: 1, fan: .fanOut)
        let bn2 = BatchNorm2D(store, name: "\(name).bn2", channels: planes)
        join = ResidualJoin(store, name: name, norm: bn2, in: cin, stride: stride, seReduction: seReduction)
    }

    func convolutions(_ h: Int, _ w: Int) -> [(conv: Conv2D, input: (h: Int, w: Int), output: (h: Int, w: Int))] {
        let out = outputSize(h, w)
        return [(conv1, (h, w), out), (conv2, out, out)] + (join.downsample.map { [($0.conv, (h, w), out)] } ?? [])
    }

    func allocate(n: Int, h: Int, w: Int) {
        let (oh, ow) = outputSize(h, w)
        t1 = Tensor([n, oh, ow, outChannels]); t2 = Tensor([n, oh, ow, outChannels])
        join.allocate(n: n, outH: oh, outW: ow)
        savedBatch = 0
    }

    var activationBytes: Int { (t1.count + t2.count) * 4 + join.activationBytes }

    func forward(_ x: FeatureMap, _ y: FeatureMap, training: Bool, keep: Bool, _ ws: Workspace) {
        precondition(keep || !training, "a training forward keeps its activations")
        let t1 = keep ? t1.map(batch: x.n) : ws.map(ResNetScratch.unkeptConv1Output, like: y, c: outChannels)
        let t2 = keep ? t2.map(batch: x.n) : ws.map(ResNetScratch.unkeptConv2Output, like: y, c: outChannels)
        frontForward(conv1, bn1, conv2, x, t1, t2, training: training, ws)
        join.forward(t2, x, y, training: training, keep: keep, ws)
        savedBatch = training ? x.n : 0
    }

    var firstParameter: Param { conv1.weight }

    func backward(_ x: FeatureMap, _ y: FeatureMap, _ dy: FeatureMap, dx: FeatureMap?, _ reach: BackwardReach,
                  _ ws: Workspace) {
        requireTrainingForward(savedBatch, x, "residual block")
        let t1 = t1.map(batch: x.n), t2 = t2.map(batch: x.n)
        guard let dt2 = join.backward(t2, x, y, dy, dx: dx, reach, ws) else { return }
        frontBackward(conv1, bn1, conv2, x, t1, dt2, dx: dx, reach, ws)
    }
}

/// ResNet-50's block, torchvision's V1.5 (the stride on the 3×3): Conv1×1-BN-ReLU-Conv3×3(stride s)-BN-ReLU-
/// Conv1×1(4·planes)-BN (`conv1` … `bn3`), expansion 4.
final class BottleneckBlock: ResidualBlock {
    let inChannels: Int, outChannels: Int, stride: Int
    let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D, conv3: Conv2D
    let join: ResidualJoin
    /// Saved by forward for backward: the convolution outputs before their BN, t1 [N, H, W, planes],
    /// t2 [N, OH, OW, planes], t3 [N, OH, OW, 4·planes] (BN's backward and the recomputes of BN-ReLU read them).
    private var t1 = Tensor([0]), t2 = Tensor([0]), t3 = Tensor([0])
    /// Images in the last training forward; 0 before one and after an eval-mode forward.
    private var savedBatch = 0

    init(_ store: ParameterStore, name: String, in cin: Int, planes: Int, stride: Int, seReduction: Int?) {
        inChannels = cin; outChannels = planes * 4; self.stride = stride
        conv1 = Conv2D(store, name: "\(name).conv1", in: cin, out: planes, kernel: 1, fan: .fanOut)
        bn1 = BatchNorm2D(store, name: "\(name).bn1", channels: planes)
        conv2 = Conv2D(store, name: "\(name).conv2", in: planes, out: planes, kernel: 3, stride: stride, padding: 1, fan: .fanOut)
        bn2 = BatchNorm2D(store, name: "\(name).bn2", channels: planes)
        conv3 = Conv2D(store, name: "\(name).conv3", in: planes, out: planes * 4, kernel: 1, fan: .fanOut)
        let bn3 = BatchNorm2D(store, name: "\(name).bn3", channels: planes * 4)
        join = ResidualJoin(store, name: name, norm: bn3, in: cin, stride: stride, seReduction: seReduction)
    }

    func convolutions(_ h: Int, _ w: Int) -> [(conv: Conv2D, input: (h: Int, w: Int), output: (h: Int, w: Int))] {
        let out = outputSize(h, w)
        return [(conv1, (h, w), (h, w)), (conv2, (h, w), out), (conv3, out, out)]
            + (join.downsample.map { [($0.conv, (h, w), out)] } ?? [])
    }

    func allocate(n: Int, h: Int, w: Int) {
        let (oh, ow) = outputSize(h, w)
        let planes = conv1.outChannels
        t1 = Tensor([n, h, w, planes]); t2 = Tensor([n, oh, ow, planes]); t3 = Tensor([n, oh, ow, outChannels])
        join.allocate(n: n, outH: oh, outW: ow)
        savedBatch = 0
    }

    var activationBytes: Int { (t1.count + t2.count + t3.count) * 4 + join.activationBytes }

    func forward(_ x: FeatureMap, _ y: FeatureMap, training: Bool, keep: Bool, _ ws: Workspace) {
        precondition(keep || !training, "a training forward keeps its activations")
        let planes = conv1.outChannels
        let t1 = keep ? t1.map(batch: x.n) : ws.map(ResNetScratch.unkeptConv1Output, like: x, c: planes)
        let t2 = keep ? t2.map(batch: x.n) : ws.map(ResNetScratch.unkeptConv2Output, like: y, c: planes)
        let t3 = keep ? t3.map(batch: x.n) : ws.map(ResNetScratch.unkeptConv3Output, like: y)
        frontForward(conv1, bn1, conv2, x, t1, t2, training: training, ws)
        // BN2-ReLU and conv3 in cache-sized row chunks: the activations never hit memory. In evaluation without
        // SE the join runs on each chunk of t3 too, while it is in cache.
        if let join = join.streamingForward(t3, x, y, training: training, keep: keep, ws) {
            prof("bn+relu+conv1x1+add", .forward) {
                bn2.prepare(t2, training: false)
                FusedBottleneck.forward(bn2, conv3, t2, t3, ws, epilogue: join.run)
            }
        } else {
            prof("bn+relu+conv1x1", .forward) {
                bn2.prepare(t2, training: training)
                FusedBottleneck.forward(bn2, conv3, t2, t3, ws)
            }
            join.forward(t3, x, y, training: training, keep: keep, ws)
        }
        savedBatch = training ? x.n : 0
    }

    var firstParameter: Param { conv1.weight }

    func backward(_ x: FeatureMap, _ y: FeatureMap, _ dy: FeatureMap, dx: FeatureMap?, _ reach: BackwardReach,
                  _ ws: Workspace) {
        requireTrainingForward(savedBatch, x, "residual block")
        let t1 = t1.map(batch: x.n), t2 = t2.map(batch: x.n), t3 = t3.map(batch: x.n)
        guard let dt3 = join.backward(t3, x, y, dy, dx: dx, reach, ws) else { return }
        prof("bn+relu+conv1x1", .backward) { FusedBottleneck.weightGradient(bn2, conv3, t2, dt3, ws) }
        guard reach.input(of: conv3.weight) else { return }
        let da2 = ws.map(ResNetScratch.bottleneckActivationGradient, like: t2)
        let dt2 = ws.map(ResNetScratch.bottleneckGradient, like: t2)
        let toT2 = reach.input(of: bn2.weight)
        prof("conv1x1+bn+relu", .backward) {
            FusedBottleneck.backwardData(bn2, conv3, t2, dt3, da: da2, dx: toT2 ? dt2 : nil, accumulate: false)
        }
        guard toT2 else { return }
        frontBackward(conv1, bn1, conv2, x, t1, dt2, dx: dx, reach, ws)
    }
}

/// Profiler row names: `conv3x3`, `conv3x3/2` (strided), `conv1x1`, `conv1x1/2` (the downsample).
func convName(_ c: Conv2D) -> String { "conv\(c.kernel)x\(c.kernel)" + (c.stride > 1 ? "/\(c.stride)" : "") }
