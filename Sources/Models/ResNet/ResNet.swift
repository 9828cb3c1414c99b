// ResNet and SE-ResNet in torchvision's layout and state_dict names, as one forward/backward pair over blocks.
//
// He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (torchvision's V1.5: the
// Bottleneck's stride on its 3×3). Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018 (SE on the
// residual branch after its last BN, before the addition: `layerI.J.se.fc.0/2`).
//
// Memory plan: each block keeps its convolution outputs before BN (and its downsample's), and its output, which
// is the next block's input; BN-ReLU outputs are recomputed in backward. An evaluation without a training plan
// keeps none of it (`EvaluationBuffers`). Gradients flow through two buffers
// sized for the largest block input or output: an identity block's input gradient is its masked output
// gradient plus the branch's, added in place, so the shortcut costs no copy.
import AblateCore
import Engine

public final class ResNet {
    public let config: ResNetConfig
    public let store: ParameterStore
    let conv1: Conv2D, bn1: BatchNorm2D
    let maxpool = MaxPool2D(kernel: 3, stride: 2, padding: 1)
    /// Every block in order, with its stage (0-based).
    let blocks: [(stage: Int, block: any ResidualBlock)]
    let fc: Linear
    let workspace = Workspace()
    var acts: Activations?
    /// Unused by ResNet (no dropout); kept so checkpoints store the same RNG state for every network.
    public var rng: SeededGenerator

    /// Builds the network and initialises it from `seed` as torchvision does: convolutions Kaiming-normal with
    /// fan_out (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`), BN weight 1 and bias 0, Linear layers
    /// (fc and SE) with PyTorch's defaults, weight and bias U(±1/√fan_in).
    public init(_ config: ResNetConfig, seed: UInt64) throws {
        try config.validate()
        Threads.ensureConfigured()
        self.config = config
        let store = ParameterStore()
        self.store = store
        conv1 = Conv2D(store, name: "conv1", in: 3, out: config.width, kernel: 7, stride: 2, padding: 3, fan: .fanOut)
        bn1 = BatchNorm2D(store, name: "bn1", channels: config.width)
        var blocks: [(Int, any ResidualBlock)] = []
        var channels = config.width
        for (stage, count) in config.layers.enumerated() {
            for j in 0..<count {
                let name = "layer\(stage + 1).\(j)", stride = stage > 0 && j == 0 ? 2 : 1
                let planes = config.planes(stage: stage)
                let block: any ResidualBlock = config.block == .basic
                    ? BasicBlock(store, name: name, in: channels, planes: planes, stride: stride, seReduction: config.seReduction)
                    : BottleneckBlock(store, name: name, in: channels, planes: planes, stride: stride, seReduction: config.seReduction)
                blocks.append((stage, block))
                channels = block.outChannels
            }
        }
        self.blocks = blocks
        fc = Linear(store, name: "fc", in: config.featureChannels, out: config.classes, pytorchBias: true)
        var initRNG = SeededGenerator(seed: seed)
        store.finalize(rng: &initRNG)
        rng = trainingGenerator(seed: seed)
    }

    /// Sizes after the stem convolution, after the max pool, and after each block.
    func spatialSizes(_ h: Int, _ w: Int) throws -> (stem: (h: Int, w: Int), pool: (h: Int, w: Int), blocks: [(h: Int, w: Int)]) {
        let stem = conv1.outputSize(h, w)
        let pool = maxpool.outputSize(stem.h, stem.w)
        var cur = pool, sizes: [(h: Int, w: Int)] = []
        for (_, b) in blocks { cur = b.outputSize(cur.h, cur.w); sizes.append(cur) }
        if ([stem, pool] + sizes).contains(where: { $0.h < 1 || $0.w < 1 }) { throw ModelError.inputTooSmall(min(h, w)) }
        return (stem, pool, sizes)
    }

    // MARK: activations

    /// What a training step keeps between forward and backward (besides each block's own), for one (N, H, W).
    final class Activations: BufferPlan {
        let n: Int, h: Int, w: Int
        let stemOut: Tensor, stemAct: Tensor, dStem: Tensor
        /// Block inputs: `inputs[0]` is the max pool's output, `inputs[i]` block i − 1's output; the last
        /// element is the last block's output.
        let maps: [Tensor]
        /// Two gradient buffers, each as large as the largest block input or output.
        let gradients: [Tensor]
        let features: Tensor, dFeatures: Tensor, logits: Tensor
        /// Batch size of the last training forward (≤ n); 0 after an eval-mode forward, whose statistics
        /// backward cannot use.
        var lastBatch = 0

        init(_ net: ResNet, n: Int, h: Int, w: Int) throws {
            self.n = n; self.h = h; self.w = w
            let sizes = try net.spatialSizes(h, w)
            let c0 = net.config.width
            stemOut = Tensor([n, sizes.stem.h, sizes.stem.w, c0])
            stemAct = Tensor([n, sizes.stem.h, sizes.stem.w, c0])
            dStem = Tensor([n, sizes.stem.h, sizes.stem.w, c0])
            var maps = [Tensor([n, sizes.pool.h, sizes.pool.w, c0])]
            var input = sizes.pool
            for (i, (_, block)) in net.blocks.enumerated() {
                block.allocate(n: n, h: input.h, w: input.w)
                maps.append(Tensor([n, sizes.blocks[i].h, sizes.blocks[i].w, block.outChannels]))
                input = sizes.blocks[i]
            }
            self.maps = maps
            let largest = maps.map(\.count).max()!
            gradients = [Tensor([largest]), Tensor([largest])]
            features = Tensor([n, net.config.featureChannels]); dFeatures = Tensor([n, net.config.featureChannels])
            logits = Tensor([n, net.config.classes])
        }

        var bytes: Int {
            ([stemOut, stemAct, dStem, features, dFeatures, logits] + maps + gradients).reduce(0) { $0 + $1.count * 4 }
        }
    }

    /// What an evaluation forward needs when there is no training plan for its shape (`ablate evaluate`,
    /// `predict`, a fresh network): the stem (BN-ReLU in place), the pooled map, and two maps the blocks write
    /// in turn, each as large as the largest block output; the blocks' convolution outputs go to scratch
    /// (`keep: false`). Peak memory of evaluation: benchmarks/RESULTS.md.
    final class EvaluationBuffers: BufferPlan {
        let n: Int, h: Int, w: Int
        let stem: Tensor, pooled: Tensor
        let maps: [Tensor]
        let features: Tensor, logits: Tensor

        init(_ net: ResNet, n: Int, h: Int, w: Int) throws {
            self.n = n; self.h = h; self.w = w
            let sizes = try net.spatialSizes(h, w)
            let c0 = net.config.width
            stem = Tensor([n, sizes.stem.h, sizes.stem.w, c0])
            pooled = Tensor([n, sizes.pool.h, sizes.pool.w, c0])
            let largest = zip(net.blocks, sizes.blocks).map { n * $1.h * $1.w * $0.block.outChannels }.max()!
            maps = [Tensor([largest]), Tensor([largest])]
            features = Tensor([n, net.config.featureChannels])
            logits = Tensor([n, net.config.classes])
        }

        var bytes: Int { ([stem, pooled, features, logits] + maps).reduce(0) { $0 + $1.count * 4 } }
    }
    var evaluation: EvaluationBuffers?

    func activations(n: Int, h: Int, w: Int) throws -> Activations {
        if let a = acts, a.covers(n: n, h: h, w: w) { return a }
        acts = nil  // release the old buffers before sizing new ones
        let a = try Activations(self, n: n, h: h, w: w)
        acts = a
        return a
    }

    public var activationBytes: Int {
        (acts?.bytes ?? 0) + (evaluation?.bytes ?? 0) + workspace.bytes
            + (acts == nil ? 0 : blocks.reduce(0) { $0 + $1.block.activationBytes })
    }

    // MARK: forward

    @discardableResult
    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        requireImageBatch(input)
        // Evaluation reuses a training plan that fits (the test pass after each epoch); otherwise it needs none.
        if !training, !(acts?.covers(n: input.n, h: input.h, w: input.w) ?? false) {
            return try evaluationForward(input)
        }
        let a = try activations(n: input.n, h: input.h, w: input.w)
        let ws = workspace, n = input.n
        a.lastBatch = training ? n : 0
        if training { store.batchesTracked += 1 }

        // Stem: conv7×7/2 → BN → ReLU → max pool 3/2.
        prof("conv7x7 stem", .forward) { conv1.forward(input.map, a.stemOut.map(batch: n), ws) }
        prof("bn+relu", .forward) { bn1.forward(a.stemOut.map(batch: n), a.stemAct.map(batch: n), training: training, relu: true) }
        prof("maxpool", .forward) { maxpool.forward(a.stemAct.map(batch: n), a.maps[0].map(batch: n)) }

        for (i, (_, block)) in blocks.enumerated() {
            block.forward(a.maps[i].map(batch: n), a.maps[i + 1].map(batch: n), training: training, keep: true, ws)
        }
        // Head: global average pool → fc.
        prof("head", .forward) {
            GlobalAvgPool.forward(a.maps.last!.map(batch: n), a.features.data, ldy: config.featureChannels)
            fc.forward(a.features.data, a.logits.data, batch: n)
        }
        return firstRows(a.logits, n)
    }

    /// The eval-mode forward without a training plan (see `EvaluationBuffers`); the same operations in the same
    /// order as `forward`, so the logits are the same.
    func evaluationForward(_ input: Tensor) throws -> Tensor {
        let n = input.n, ws = workspace
        if !(evaluation?.covers(n: n, h: input.h, w: input.w) ?? false) {
            evaluation = nil  // release the old buffers before sizing new ones
            evaluation = try EvaluationBuffers(self, n: n, h: input.h, w: input.w)
        }
        let e = evaluation!
        if let a = acts { a.lastBatch = 0 }  // backward needs a training forward after this one
        let stem = e.stem.map(batch: n), pooled = e.pooled.map(batch: n)
        prof("conv7x7 stem", .forward) { conv1.forward(input.map, stem, ws) }
        prof("bn+relu", .forward) { bn1.forward(stem, stem, training: false, relu: true) }
        prof("maxpool", .forward) { maxpool.forward(stem, pooled) }
        var x = pooled
        for (i, (_, block)) in blocks.enumerated() {
            let (oh, ow) = block.outputSize(x.h, x.w)
            let y = FeatureMap(e.maps[i % 2].data, n: n, h: oh, w: ow, c: block.outChannels, stride: block.outChannels)
            block.forward(x, y, training: false, keep: false, ws)
            x = y
        }
        prof("head", .forward) {
            GlobalAvgPool.forward(x, e.features.data, ldy: config.featureChannels)
            fc.forward(e.features.data, e.logits.data, batch: n)
        }
        return firstRows(e.logits, n)
    }

    // MARK: backward

    public func backward(_ input: Tensor, dLogits: Tensor, inputGrad: Tensor? = nil) throws {
        guard let a = acts, a.lastBatch == input.n, a.h == input.h, a.w == input.w else {
            preconditionFailure("\(displayName) backward without a training forward on this input's shape \(input.shape)")
        }
        let ws = workspace, n = input.n, reach = store.backwardReach(inputGradient: inputGrad != nil)
        /// Buffer `g` of the two gradient buffers seen as a map shaped like `m`.
        func gradient(_ g: Int, like m: FeatureMap) -> FeatureMap {
            FeatureMap(a.gradients[g].data, n: m.n, h: m.h, w: m.w, c: m.c, stride: m.c)
        }
        // From the head back; the pass ends where nothing before a point trains (see `BackwardReach`).
        guard reach.output(of: fc.bias) else { return }
        var current = 0
        let last = a.maps.last!.map(batch: n)
        let toFeatures = reach.input(of: fc.weight)
        prof("head", .backward) {
            fc.backward(a.features.data, dLogits.data, dx: toFeatures ? a.dFeatures.data : nil, batch: n)
            if toFeatures {
                GlobalAvgPool.backward(a.dFeatures.data, ldy: config.featureChannels, gradient(current, like: last), accumulate: false)
            }
        }
        guard toFeatures else { return }
        for i in stride(from: blocks.count - 1, through: 0, by: -1) {
            let block = blocks[i].block
            let x = a.maps[i].map(batch: n), y = a.maps[i + 1].map(batch: n)
            // An identity block's input gradient starts as its masked output gradient, in the same buffer.
            let target = block.join.downsample == nil ? current : 1 - current
            let toInput = reach.input(of: block.firstParameter)
            block.backward(x, y, gradient(current, like: y), dx: toInput ? gradient(target, like: x) : nil, reach, ws)
            guard toInput else { return }
            current = target
        }
        let pooled = a.maps[0].map(batch: n)
        prof("maxpool", .backward) { maxpool.backward(a.stemAct.map(batch: n), gradient(current, like: pooled), a.dStem.map(batch: n)) }
        let toStem = reach.input(of: bn1.weight)
        prof("bn+relu", .backward) {
            bn1.backward(a.stemOut.map(batch: n), a.dStem.map(batch: n), toStem ? a.dStem.map(batch: n) : nil,
                         relu: true, accumulate: false)
        }
        guard toStem else { return }
        prof("conv7x7 stem", .backward) { conv1.backward(input.map, a.dStem.map(batch: n), dx: inputGrad?.map, ws) }
    }
}

/// Buffers sized for batches of up to `n` images of `h×w`.
protocol BufferPlan {
    var n: Int { get }
    var h: Int { get }
    var w: Int { get }
}

extension BufferPlan {
    func covers(n: Int, h: Int, w: Int) -> Bool { self.n >= n && self.h == h && self.w == w }
}

extension ResNet: Network {
    public var classes: Int { config.classes }
    public var headName: String { "fc" }
    public var displayName: String { config.displayName }
    public var spec: ModelSpec { .resNet(config) }
}
