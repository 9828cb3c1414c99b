// DenseNet-BC and the SE-DenseNet of the course's PyTorch code: the network strings its stem, dense blocks,
// transitions and head into one forward/backward pair; each dense layer and each transition has its own pair
// (DenseBlocks.swift).
//
// Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks", CVPR 2017.
// Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018. SE sits where `DenseNetConfig.sePlacement` says:
// on each dense block's output (the course's PyTorch code), on each dense layer's k new maps before they join the
// block buffer, or on each transition's output.
//
// Memory plan (per dense block, rows R = N·H·W):
//   block buffer X [R, C_in + L·k]   every layer reads the prefix [0, c) and writes its k channels at c
//   per dense layer                  its bottleneck [R, bn·k] (conv1's output, for BN2's backward); with SE on
//                                    the layer its new maps before SE [R, k] (X holds the scaled maps); with
//                                    dropout its mask [R, k]
//   per transition with SE           its convolution's output before SE [N, H/2, W/2, ⌊θC⌋]
//   BN-ReLU outputs are never stored: backward recomputes them from X / the bottleneck (Pleiss et al. 2017).
import AblateCore
import Engine

/// One dense block with what follows it: SE on the block's output (placement `block`), then a transition (every
/// block but the last; the last is followed by the head).
struct Stage {
    let layers: [DenseLayer]
    let inChannels: Int, outChannels: Int
    let se: SqueezeExcitation?
    let transition: Transition?
}

/// A DenseNet / SE-DenseNet with its parameters, training forward/backward and evaluation.
public final class DenseNet {
    public let config: DenseNetConfig
    public let store: ParameterStore
    let conv0: Conv2D, norm0: BatchNorm2D
    let pool0 = MaxPool2D(kernel: 3, stride: 2, padding: 1)
    let stages: [Stage]
    let norm5: BatchNorm2D
    let classifier: Linear
    let workspace = Workspace()
    var acts: Activations?
    /// Dropout masks are drawn from this generator (seeded by the trainer; part of a checkpoint's RNG state).
    public var rng: SeededGenerator

    /// Builds the network and initialises it from `seed` (Kaiming-normal convolutions, BN 1/0, Linear bias 0).
    public init(_ config: DenseNetConfig, seed: UInt64) throws {
        try config.validate()
        Threads.ensureConfigured()
        self.config = config
        let store = ParameterStore()
        self.store = store
        // SE reduction per site: a placement other than the configured one gets none.
        func se(at placement: SEPlacement) -> Int? { config.sePlacement == placement ? config.seReduction : nil }
        conv0 = Conv2D(store, name: "features.conv0", in: 3, out: config.initChannels, kernel: 7, stride: 2, padding: 3)
        norm0 = BatchNorm2D(store, name: "features.norm0", channels: config.initChannels)
        let dropout = config.dropRate > 0 ? Dropout(p: Float(config.dropRate)) : nil
        var stages: [Stage] = []
        let channels = config.blockChannels
        for (b, layers) in config.blockConfig.enumerated() {
            let block = "features.denseblock\(b + 1)"
            // The course's PyTorch code wraps a block with SE on its output as `DenseBlockWithSE(dense_block, se)`.
            let layerPrefix = se(at: .block) != nil ? "\(block).dense_block" : block
            let cin = channels[b].input, cout = channels[b].output
            let dense = (0..<layers).map {
                DenseLayer(store, name: "\(layerPrefix).denselayer\($0 + 1)", in: cin + $0 * config.growthRate,
                           growth: config.growthRate, bnSize: config.bnSize, seReduction: se(at: .layer),
                           dropout: dropout)
            }
            let seLayer = se(at: .block).map { SqueezeExcitation(store, name: "\(block).se", channels: cout, reduction: $0) }
            let trans = b < config.blockConfig.count - 1
                ? Transition(store, name: "features.transition\(b + 1)", in: cout, out: config.transitionChannels(cout),
                             seReduction: se(at: .transition)) : nil
            stages.append(Stage(layers: dense, inChannels: cin, outChannels: cout, se: seLayer, transition: trans))
        }
        self.stages = stages
        norm5 = BatchNorm2D(store, name: "features.norm5", channels: config.featureChannels)
        classifier = Linear(store, name: "classifier", in: config.featureChannels, out: config.classes)
        var initRNG = SeededGenerator(seed: seed)
        store.finalize(rng: &initRNG)
        rng = trainingGenerator(seed: seed)
    }

    /// Spatial size of each stage for an `s×s` input: stem conv, after max pool, then each block.
    /// (`DenseNetConfig.featureSides`: the one statement of this arithmetic, which the experiment file's size check
    /// uses too.)
    public func spatialSizes(_ h: Int, _ w: Int) throws -> [(h: Int, w: Int)] {
        let hs = config.featureSides(input: h), ws = config.featureSides(input: w)
        let sizes = [(hs.stem, ws.stem)] + zip(hs.blocks, ws.blocks).map { ($0, $1) }
        if sizes.contains(where: { $0.0 < 1 || $0.1 < 1 }) { throw ModelError.inputTooSmall(min(h, w)) }
        return sizes.map { (h: $0.0, w: $0.1) }
    }

    // MARK: activations

    /// What a training step keeps between forward and backward (besides each layer's own, which `init` sizes),
    /// for one (N, H, W).
    final class Activations {
        let n: Int, h: Int, w: Int
        let stemOut: Tensor, stemAct: Tensor, dStem: Tensor
        /// Each dense block's buffer `[N, H, W, C_in + L·k]` and its gradient.
        let blocks: [Tensor], dBlocks: [Tensor]
        /// Placement `block`: each block's output after SE, `[N, H, W, C]`.
        let seOut: [Tensor?]
        let features: Tensor, dFeatures: Tensor, logits: Tensor, dLogits: Tensor
        /// Batch size of the last training forward (≤ n); 0 after an eval-mode forward, whose statistics
        /// backward cannot use.
        var lastBatch = 0

        init(_ net: DenseNet, n: Int, h: Int, w: Int) throws {
            self.n = n; self.h = h; self.w = w
            let sizes = try net.spatialSizes(h, w)
            let c0 = net.config.initChannels
            stemOut = Tensor([n, sizes[0].h, sizes[0].w, c0])
            stemAct = Tensor([n, sizes[0].h, sizes[0].w, c0])
            dStem = Tensor([n, sizes[0].h, sizes[0].w, c0])
            var blocks: [Tensor] = [], dBlocks: [Tensor] = [], seOut: [Tensor?] = []
            for (i, stage) in net.stages.enumerated() {
                let s = sizes[i + 1]
                blocks.append(Tensor([n, s.h, s.w, stage.outChannels]))
                dBlocks.append(Tensor([n, s.h, s.w, stage.outChannels]))
                for layer in stage.layers { layer.allocate(n: n, h: s.h, w: s.w) }
                seOut.append(stage.se == nil ? nil : Tensor([n, s.h, s.w, stage.outChannels]))
                stage.transition?.allocate(n: n, outH: s.h / 2, outW: s.w / 2)
            }
            self.blocks = blocks; self.dBlocks = dBlocks; self.seOut = seOut
            features = Tensor([n, net.config.featureChannels]); dFeatures = Tensor([n, net.config.featureChannels])
            logits = Tensor([n, net.config.classes]); dLogits = Tensor([n, net.config.classes])
        }

        var bytes: Int {
            let t = [stemOut, stemAct, dStem, features, dFeatures, logits, dLogits] + blocks + dBlocks
                + seOut.compactMap { $0 }
            return t.reduce(0) { $0 + $1.count * 4 }
        }
    }

    /// Activations for batch `n` at `h×w`. A smaller batch (the last one of an epoch) reuses the larger
    /// allocation: every buffer is image-major, so the first `n` images' worth is a valid smaller buffer.
    func activations(n: Int, h: Int, w: Int) throws -> Activations {
        if let a = acts, a.n >= n, a.h == h, a.w == w { return a }
        let a = try Activations(self, n: n, h: h, w: w)
        acts = a
        return a
    }

    /// Bytes of activations and scratch currently held.
    public var activationBytes: Int {
        guard let acts else { return workspace.bytes }
        let saved = stages.reduce(0) { total, stage in
            stage.layers.reduce(total) { $0 + $1.activationBytes } + (stage.transition?.activationBytes ?? 0)
        }
        return acts.bytes + saved + workspace.bytes
    }

    // MARK: forward

    /// Logits `[N, classes]` for an NHWC input `[N, H, W, 3]`. Training mode uses batch statistics (and
    /// updates the running ones) and keeps what backward needs; eval mode uses running statistics.
    @discardableResult
    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        requireImageBatch(input)
        let a = try activations(n: input.n, h: input.h, w: input.w)
        let ws = workspace, n = input.n
        a.lastBatch = training ? n : 0
        if training { store.batchesTracked += 1 }

        // Stem: conv7×7/2 → BN → ReLU → maxpool 3/2, written straight into block 1's buffer.
        prof("conv7x7 stem", .forward) { conv0.forward(input.map, a.stemOut.map(batch: n), ws) }
        prof("bn+relu", .forward) { norm0.forward(a.stemOut.map(batch: n), a.stemAct.map(batch: n), training: training, relu: true) }
        prof("maxpool", .forward) { pool0.forward(a.stemAct.map(batch: n), a.blocks[0].map(batch: n).channels(0, config.initChannels)) }

        for (b, stage) in stages.enumerated() {
            let x = a.blocks[b].map(batch: n)
            let rows = x.rows
            // The BatchNorm that normalises the block's output (the transition's, or the head's).
            let nextNorm = stage.transition?.norm ?? norm5
            let nextNeedsMoments = training && !nextNorm.frozen
            // Batch statistics of every channel of the block buffer, computed once when the channel is written:
            // each layer's norm1 reads the same channels again (O(L) instead of O(L²) statistics passes). None
            // when every BatchNorm that would read them is frozen (normalising with its running statistics).
            let tracking = training && (stage.layers.contains { !$0.norm1.frozen } || (stage.se == nil && nextNeedsMoments))
            var moments = ChannelMoments(mean: .init(repeating: 0, count: x.c), variance: .init(repeating: 0, count: x.c))
            if tracking { prof("bn stats", .forward) { moments.store(ChannelMoments(x.channels(0, stage.inChannels)), at: 0) } }
            for layer in stage.layers {
                layer.forward(x, training: training, moments: &moments, tracking: tracking, rng: &rng, ws)
            }
            // The transition (or the head) normalises the block buffer: reuse the statistics computed per layer.
            var blockMoments: ChannelMoments? = nextNeedsMoments ? moments : nil
            var y = x
            if let se = stage.se, let out = a.seOut[b] {
                prof("se", .forward) { se.forward(x, out.map(batch: n)) }
                y = out.map(batch: n)
                // With SE the next BatchNorm normalises x·gate: its statistics come from the squeeze's sums.
                blockMoments = nextNeedsMoments ? se.outputMoments(rows: rows) : nil
            }
            if let t = stage.transition {
                let next = a.blocks[b + 1].map(batch: n).channels(0, t.outChannels)
                t.forward(y, next, training: training, statistics: blockMoments, ws)
            } else {
                // Head: BN → ReLU → global average pool → Linear.
                let act = ws.map(DenseNetScratch.headActivation, like: y)
                prof("bn+relu", .forward) { norm5.forward(y, act, training: training, relu: true, statistics: blockMoments) }
                prof("head", .forward) {
                    GlobalAvgPool.forward(act, a.features.data, ldy: config.featureChannels)
                    classifier.forward(a.features.data, a.logits.data, batch: n)
                }
            }
        }
        return firstRows(a.logits, n)
    }

    // MARK: backward

    /// Backward of the last training forward for `dLogits` `[N, classes]`: accumulates the gradient of every
    /// parameter that trains into `store.grads` (call `store.zeroGrad()` before the step) and writes ∂L/∂input when
    /// `inputGrad` is given. Without `inputGrad`, the pass stops where everything before it is frozen (see
    /// `BackwardReach`): no layer sends a gradient to an input that nothing upstream needs.
    public func backward(_ input: Tensor, dLogits: Tensor, inputGrad: Tensor? = nil) throws {
        guard let a = acts, a.lastBatch == input.n, a.h == input.h, a.w == input.w else {
            preconditionFailure("\(displayName) backward without a training forward on this input's shape \(input.shape)")
        }
        let ws = workspace, reach = store.backwardReach(inputGradient: inputGrad != nil)
        let n = input.n
        // Each part of the network in turn, from the head back: every `guard reach.input(of:)` is a point before
        // which, when nothing trains, the pass ends.
        guard reach.output(of: classifier.bias) else { return }
        for b in stride(from: stages.count - 1, through: 0, by: -1) {
            let stage = stages[b]
            let x = a.blocks[b].map(batch: n), dx = a.dBlocks[b].map(batch: n)
            let y = a.seOut[b]?.map(batch: n) ?? x
            // Gradient of the block's (SE) output: into dx directly, or into scratch when SE sits in between.
            let dy = stage.se == nil ? dx : ws.map(DenseNetScratch.blockSEOutputGradient, like: x)
            if let t = stage.transition {
                t.backward(y, a.dBlocks[b + 1].map(batch: n).channels(0, t.outChannels), dx: dy, reach, ws)
                guard reach.input(of: t.firstParameter) else { return }
            } else {
                let dAct = ws.map(DenseNetScratch.headActivation, like: y)
                let toFeatures = reach.input(of: classifier.weight)
                prof("head", .backward) {
                    classifier.backward(a.features.data, dLogits.data, dx: toFeatures ? a.dFeatures.data : nil, batch: n)
                    if toFeatures {
                        GlobalAvgPool.backward(a.dFeatures.data, ldy: config.featureChannels, dAct, accumulate: false)
                    }
                }
                guard toFeatures else { return }
                prof("bn+relu", .backward) {
                    norm5.backward(y, dAct, reach.input(of: norm5.weight) ? dy : nil, relu: true, accumulate: false)
                }
                guard reach.input(of: norm5.weight) else { return }
            }
            if let se = stage.se {
                prof("se", .backward) { se.backward(x, dy, dx, accumulate: false) }
                guard reach.input(of: se.fc1.weight) else { return }
            }
            for layer in stage.layers.reversed() {
                layer.backward(x, dx, reach, ws)
                guard reach.input(of: layer.firstParameter) else { return }
            }
        }
        // Stem (reached only when the stem trains or the input gradient is wanted).
        prof("maxpool", .backward) { pool0.backward(a.stemAct.map(batch: n), a.dBlocks[0].map(batch: n).channels(0, config.initChannels), a.dStem.map(batch: n)) }
        let toStem = reach.input(of: norm0.weight)
        prof("bn+relu", .backward) {
            norm0.backward(a.stemOut.map(batch: n), a.dStem.map(batch: n), toStem ? a.dStem.map(batch: n) : nil,
                           relu: true, accumulate: false)
        }
        guard toStem else { return }
        prof("conv7x7 stem", .backward) { conv0.backward(input.map, a.dStem.map(batch: n), dx: inputGrad?.map, ws) }
    }
}
