// DenseNet-BC and the seed's SE-DenseNet as one hand-written forward/backward pair (llm.c style).
//
// Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks", CVPR 2017.
// Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018. SE sits where `DenseNetConfig.sePlacement` says:
// on each dense block's output (the course's PyTorch code), on each dense layer's k new maps before they join the
// block buffer, or on each transition's output.
//
// Memory plan (per dense block, rows R = N·H·W):
//   block buffer X [R, C_in + L·k]   every layer reads the prefix [0, c) and writes its k channels at c
//   bottlenecks    [L, R, bn·k]      conv1 outputs, kept for BN2's backward
//   layer SE inputs [L, R, k]          each layer's new maps before its SE (placement `layer`; SE's backward
//                                      needs them, and the block buffer holds the scaled maps)
//   BN-ReLU outputs are never stored: backward recomputes them from X / the bottleneck (Pleiss et al. 2017).
//   BN1-ReLU and conv1 run fused in cache-sized row chunks (FusedBottleneck); BN2-ReLU writes the layout the
//   3×3 convolution reads (nChw16c for Winograd).
// A transition pools before its 1×1 convolution (both are linear, so they commute): a quarter of the GEMM.
import AblateCore
import Engine

/// One dense layer: BN-ReLU-Conv1×1(bn·k)-BN-ReLU-Conv3×3(k), then SE on the k new maps with placement `layer`
/// (`<name>.se.fc.0/2`).
struct DenseLayer {
    let inChannels: Int
    let norm1: BatchNorm2D, conv1: Conv2D, norm2: BatchNorm2D, conv2: Conv2D
    let se: SqueezeExcitation?

    init(_ store: ParameterStore, name: String, in c: Int, growth k: Int, bnSize: Int, seReduction: Int?) {
        inChannels = c
        norm1 = BatchNorm2D(store, name: "\(name).norm1", channels: c)
        conv1 = Conv2D(store, name: "\(name).conv1", in: c, out: bnSize * k, kernel: 1)
        norm2 = BatchNorm2D(store, name: "\(name).norm2", channels: bnSize * k)
        conv2 = Conv2D(store, name: "\(name).conv2", in: bnSize * k, out: k, kernel: 3, stride: 1, padding: 1)
        se = seReduction.map { SqueezeExcitation(store, name: "\(name).se", channels: k, reduction: $0) }
    }
}

/// BN-ReLU-Conv1×1(⌊θC⌋)-AvgPool2, computed as BN-ReLU-AvgPool2-Conv1×1, then SE with placement `transition`
/// (`<name>.se.fc.0/2`).
struct Transition {
    let norm: BatchNorm2D, conv: Conv2D
    let pool = AvgPool2D(kernel: 2, stride: 2)
    let se: SqueezeExcitation?

    init(_ store: ParameterStore, name: String, in c: Int, out: Int, seReduction: Int?) {
        norm = BatchNorm2D(store, name: "\(name).norm", channels: c)
        conv = Conv2D(store, name: "\(name).conv", in: c, out: out, kernel: 1)
        se = seReduction.map { SqueezeExcitation(store, name: "\(name).se", channels: out, reduction: $0) }
    }
}

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
    let dropout: Dropout?
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
        var stages: [Stage] = []
        let channels = config.blockChannels
        for (b, layers) in config.blockConfig.enumerated() {
            let block = "features.denseblock\(b + 1)"
            // The course's PyTorch code wraps a block with SE on its output as `DenseBlockWithSE(dense_block, se)`.
            let layerPrefix = se(at: .block) != nil ? "\(block).dense_block" : block
            let cin = channels[b].input, cout = channels[b].output
            let dense = (0..<layers).map {
                DenseLayer(store, name: "\(layerPrefix).denselayer\($0 + 1)", in: cin + $0 * config.growthRate,
                           growth: config.growthRate, bnSize: config.bnSize, seReduction: se(at: .layer))
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
        dropout = config.dropRate > 0 ? Dropout(p: Float(config.dropRate)) : nil
        var initRNG = SeededGenerator(seed: seed)
        store.finalize(rng: &initRNG)
        rng = SeededGenerator(seed: seed ^ 0xD5A6_1266_F0C9_392F)
    }

    /// Spatial size of each stage for an `s×s` input: stem conv, after max pool, then each block.
    public func spatialSizes(_ h: Int, _ w: Int) throws -> [(h: Int, w: Int)] {
        let c0 = conv0.outputSize(h, w)
        var sizes = [c0]
        var cur = pool0.outputSize(c0.h, c0.w)
        for (i, _) in stages.enumerated() {
            sizes.append(cur)
            if i < stages.count - 1 { cur = (cur.h / 2, cur.w / 2) }
        }
        if sizes.contains(where: { $0.h < 1 || $0.w < 1 }) { throw ModelError.inputTooSmall(min(h, w)) }
        return sizes
    }

    // MARK: activations

    /// Everything a training step keeps between forward and backward, sized for one (N, H, W).
    final class Activations {
        let n: Int, h: Int, w: Int
        let stemOut: Tensor, stemAct: Tensor, dStem: Tensor
        let blocks: [Tensor], dBlocks: [Tensor]
        let bottlenecks: [Tensor]
        let seOut: [Tensor?]
        /// Placement `layer`: each layer's new maps before its SE, [L, R, k] per block.
        let layerSEInputs: [Tensor?]
        /// Placement `transition`: each transition's output before its SE, [N, H/2, W/2, ⌊θC⌋].
        let transitionSEInputs: [Tensor?]
        let masks: [Tensor?]
        let features: Tensor, dFeatures: Tensor, logits: Tensor, dLogits: Tensor
        /// Batch size of the last forward (≤ n).
        var lastBatch = 0

        init(_ net: DenseNet, n: Int, h: Int, w: Int) throws {
            self.n = n; self.h = h; self.w = w
            let sizes = try net.spatialSizes(h, w)
            let c0 = net.config.initChannels
            stemOut = Tensor([n, sizes[0].h, sizes[0].w, c0])
            stemAct = Tensor([n, sizes[0].h, sizes[0].w, c0])
            dStem = Tensor([n, sizes[0].h, sizes[0].w, c0])
            var blocks: [Tensor] = [], dBlocks: [Tensor] = [], bottlenecks: [Tensor] = [], seOut: [Tensor?] = []
            var masks: [Tensor?] = [], layerSEInputs: [Tensor?] = [], transitionSEInputs: [Tensor?] = []
            let width = net.config.bnSize * net.config.growthRate
            for (i, stage) in net.stages.enumerated() {
                let s = sizes[i + 1]
                blocks.append(Tensor([n, s.h, s.w, stage.outChannels]))
                dBlocks.append(Tensor([n, s.h, s.w, stage.outChannels]))
                bottlenecks.append(Tensor([stage.layers.count, n * s.h * s.w, width]))
                seOut.append(stage.se == nil ? nil : Tensor([n, s.h, s.w, stage.outChannels]))
                masks.append(net.dropout == nil ? nil : Tensor([stage.layers.count, n * s.h * s.w, net.config.growthRate]))
                layerSEInputs.append(stage.layers.first?.se == nil ? nil
                                     : Tensor([stage.layers.count, n * s.h * s.w, net.config.growthRate]))
                transitionSEInputs.append(stage.transition?.se == nil ? nil
                                          : Tensor([n, s.h / 2, s.w / 2, stage.transition!.conv.outChannels]))
            }
            self.layerSEInputs = layerSEInputs; self.transitionSEInputs = transitionSEInputs
            self.blocks = blocks; self.dBlocks = dBlocks; self.bottlenecks = bottlenecks; self.seOut = seOut
            self.masks = masks
            features = Tensor([n, net.config.featureChannels]); dFeatures = Tensor([n, net.config.featureChannels])
            logits = Tensor([n, net.config.classes]); dLogits = Tensor([n, net.config.classes])
        }

        var bytes: Int {
            var t = [stemOut, stemAct, dStem, features, dFeatures, logits, dLogits] + blocks + dBlocks + bottlenecks
            t += seOut.compactMap { $0 } + masks.compactMap { $0 }
            t += layerSEInputs.compactMap { $0 } + transitionSEInputs.compactMap { $0 }
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
    public var activationBytes: Int { (acts?.bytes ?? 0) + workspace.bytes }

    // MARK: forward

    /// Logits `[N, classes]` for an NHWC input `[N, H, W, 3]`. Training mode uses batch statistics (and
    /// updates the running ones) and keeps what backward needs; eval mode uses running statistics.
    @discardableResult
    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        precondition(input.shape.count == 4 && input.shape[3] == 3, "input must be [N, H, W, 3], got \(input.shape)")
        let a = try activations(n: input.n, h: input.h, w: input.w)
        let ws = workspace, n = input.n
        a.lastBatch = n
        if training { store.batchesTracked += 1 }

        // Stem: conv7×7/2 → BN → ReLU → maxpool 3/2, written straight into block 1's buffer.
        prof("conv7x7 stem", .forward) { conv0.forward(input.map, a.stemOut.map(batch: n), ws) }
        prof("bn+relu", .forward) { norm0.forward(a.stemOut.map(batch: n), a.stemAct.map(batch: n), training: training, relu: true) }
        prof("maxpool", .forward) { pool0.forward(a.stemAct.map(batch: n), a.blocks[0].map(batch: n).channels(0, config.initChannels)) }

        for (b, stage) in stages.enumerated() {
            let x = a.blocks[b].map(batch: n)
            let rows = x.rows
            // Batch statistics of every channel of the block buffer, computed once when the channel is written:
            // each layer's norm1 reads the same channels again (O(L) instead of O(L²) statistics passes).
            var moments = ChannelMoments(mean: .init(repeating: 0, count: x.c), variance: .init(repeating: 0, count: x.c))
            if training { prof("bn stats", .forward) { moments.store(ChannelMoments(x.channels(0, stage.inChannels)), at: 0) } }
            for (l, layer) in stage.layers.enumerated() {
                let cin = layer.inChannels
                prof("bn+relu", .forward) {
                    layer.norm1.prepare(x.channels(0, cin), training: training,
                                        statistics: training ? moments.slice(0, cin) : nil)
                }
                let bott = bottleneck(a, b, l, like: x)
                // BN1-ReLU and the 1×1 convolution in cache-sized row chunks: the activations never hit memory.
                prof("bn+relu+conv1x1", .forward) { FusedBottleneck.forward(layer.norm1, layer.conv1, x.channels(0, cin), bott, ws) }
                let a2 = scratchMap(ws, "a2", like: x, c: bott.c)
                // Winograd kernels read their input in 16-channel blocks: BN-ReLU writes that layout directly.
                let block = layer.conv2.inputBlock(a2)
                prof("bn+relu", .forward) { layer.norm2.forward(bott, a2, training: training, relu: true, outputBlock: block) }
                let new = x.channels(cin, config.growthRate)
                // With SE on the layer, the convolution (and dropout) write its input; SE writes the scaled maps.
                let convOut = layer.se == nil ? new : layerSEInput(a, b, l, like: x)
                prof("conv3x3", .forward) { layer.conv2.forward(a2, convOut, ws, inputBlock: block) }
                if training, let dropout, let masks = a.masks[b] {
                    prof("dropout", .forward) { dropout.forward(convOut, mask: masks.data + l * rows * config.growthRate, rng: &rng) }
                }
                if let se = layer.se { prof("se", .forward) { se.forward(convOut, new) } }
                if training { prof("bn stats", .forward) { moments.store(ChannelMoments(new), at: cin) } }
            }
            // The transition (or the head) normalises the block buffer: reuse the statistics computed per layer.
            var blockMoments: ChannelMoments? = training ? moments : nil
            var y = x
            if let se = stage.se, let out = a.seOut[b] {
                prof("se", .forward) { se.forward(x, out.map(batch: n)) }
                y = out.map(batch: n)
                // With SE the next BatchNorm normalises x·gate: its statistics come from the squeeze's sums.
                blockMoments = training ? se.outputMoments(rows: rows) : nil
            }
            if let t = stage.transition {
                let next = a.blocks[b + 1].map(batch: n)
                let act = scratchMap(ws, "t.a", like: y, c: y.c)
                prof("bn+relu", .forward) { t.norm.forward(y, act, training: training, relu: true, statistics: blockMoments) }
                let pooled = scratchMap(ws, "t.p", n: y.n, h: next.h, w: next.w, c: y.c)
                prof("avgpool", .forward) { t.pool.forward(act, pooled) }
                let out = next.channels(0, t.conv.outChannels)
                let convOut = t.se == nil ? out : a.transitionSEInputs[b]!.map(batch: n)
                prof("conv1x1", .forward) { t.conv.forward(pooled, convOut, ws) }
                if let se = t.se { prof("se", .forward) { se.forward(convOut, out) } }
            } else {
                // Head: BN → ReLU → global average pool → Linear.
                let act = scratchMap(ws, "head.a", like: y, c: y.c)
                prof("bn+relu", .forward) { norm5.forward(y, act, training: training, relu: true, statistics: blockMoments) }
                prof("head", .forward) {
                    GlobalAvgPool.forward(act, a.features.data, ldy: config.featureChannels)
                    classifier.forward(a.features.data, a.logits.data, batch: n)
                }
            }
        }
        if n == a.n { return a.logits }
        let logits = Tensor([n, config.classes])
        logits.data.update(from: a.logits.data, count: logits.count)
        return logits
    }

    // MARK: backward

    /// Backward of the last training forward for `dLogits` `[N, classes]`: accumulates every parameter gradient
    /// into `store.grads` (call `store.zeroGrad()` before the step) and writes ∂L/∂input when `inputGrad` is given.
    public func backward(_ input: Tensor, dLogits: Tensor, inputGrad: Tensor? = nil) throws {
        guard let a = acts, a.lastBatch == input.n, a.h == input.h, a.w == input.w else {
            preconditionFailure("backward without a matching training forward")
        }
        let ws = workspace
        let n = input.n
        for b in stride(from: stages.count - 1, through: 0, by: -1) {
            let stage = stages[b]
            let x = a.blocks[b].map(batch: n), dx = a.dBlocks[b].map(batch: n)
            let y = a.seOut[b]?.map(batch: n) ?? x
            // Gradient of the block's (SE) output: into dx directly, or into scratch when SE sits in between.
            let dy = stage.se == nil ? dx : scratchMap(ws, "se.dy", like: x, c: x.c)
            if let t = stage.transition {
                let next = a.blocks[b + 1].map(batch: n), dNext = a.dBlocks[b + 1].map(batch: n)
                let act = scratchMap(ws, "t.a", like: y, c: y.c)
                prof("bn+relu recompute", .backward) { t.norm.apply(y, act, relu: true) }
                let pooled = scratchMap(ws, "t.p", n: y.n, h: next.h, w: next.w, c: y.c)
                prof("avgpool", .backward) { t.pool.forward(act, pooled) }
                let dPooled = scratchMap(ws, "t.dp", n: y.n, h: next.h, w: next.w, c: y.c)
                var dOut = dNext.channels(0, t.conv.outChannels)
                if let se = t.se {
                    let seInput = a.transitionSEInputs[b]!.map(batch: n)
                    let dSEInput = scratchMap(ws, "t.dse", like: seInput, c: seInput.c)
                    prof("se", .backward) { se.backward(seInput, dOut, dSEInput, accumulate: false) }
                    dOut = dSEInput
                }
                prof("conv1x1", .backward) { t.conv.backward(pooled, dOut, dx: dPooled, ws) }
                prof("avgpool", .backward) { t.pool.backward(dPooled, act) } // act now holds ∂L/∂(BN-ReLU output)
                prof("bn+relu", .backward) { t.norm.backward(y, act, dy, relu: true, accumulate: false) }
            } else {
                let dAct = scratchMap(ws, "head.a", like: y, c: y.c)
                prof("head", .backward) {
                    classifier.backward(a.features.data, dLogits.data, dx: a.dFeatures.data, batch: n)
                    GlobalAvgPool.backward(a.dFeatures.data, ldy: config.featureChannels, dAct, accumulate: false)
                }
                prof("bn+relu", .backward) { norm5.backward(y, dAct, dy, relu: true, accumulate: false) }
            }
            if let se = stage.se { prof("se", .backward) { se.backward(x, dy, dx, accumulate: false) } }

            let rows = x.rows
            for l in stride(from: stage.layers.count - 1, through: 0, by: -1) {
                let layer = stage.layers[l]
                let cin = layer.inChannels
                var dNew = dx.channels(cin, config.growthRate)
                if let se = layer.se {
                    let seInput = layerSEInput(a, b, l, like: x)
                    let dSEInput = scratchMap(ws, "layer.dse", like: x, c: config.growthRate)
                    prof("se", .backward) { se.backward(seInput, dNew, dSEInput, accumulate: false) }
                    dNew = dSEInput
                }
                if let dropout, let masks = a.masks[b] {
                    prof("dropout", .backward) { dropout.backward(dNew, mask: masks.data + l * rows * config.growthRate) }
                }
                let bott = bottleneck(a, b, l, like: x)
                let a2 = scratchMap(ws, "a2", like: x, c: bott.c)
                let block = layer.conv2.inputBlock(a2)
                prof("bn+relu recompute", .backward) { layer.norm2.apply(bott, a2, relu: true, outputBlock: block) }
                let dA2 = scratchMap(ws, "da2", like: x, c: bott.c)
                prof("conv3x3", .backward) { layer.conv2.backward(a2, dNew, dx: dA2, ws, inputBlock: block) }
                // ∂L/∂bottleneck: in place over dA2 (NHWC), or from blocked dA2 into a buffer of its own.
                let dBott = block == 0 ? dA2 : scratchMap(ws, "dbott", like: x, c: bott.c)
                prof("bn+relu", .backward) { layer.norm2.backward(bott, dA2, dBott, relu: true, accumulate: false, dyBlock: block) }
                let dA1 = scratchMap(ws, "da1", like: x, c: cin)
                // dW1 from BN1-ReLU recomputed chunk by chunk (fused as in the forward); then dA1 = dBott · W1ᵀ
                // in chunks, with BN1's backward sums taken from each chunk while it is in cache.
                prof("bn+relu+conv1x1", .backward) { FusedBottleneck.weightGradient(layer.norm1, layer.conv1, x.channels(0, cin), dBott, ws) }
                prof("conv1x1+bn+relu", .backward) {
                    FusedBottleneck.backwardData(layer.norm1, layer.conv1, x.channels(0, cin), dBott, da: dA1,
                                                 dx: dx.channels(0, cin), accumulate: true)
                }
            }
        }
        // Stem.
        prof("maxpool", .backward) { pool0.backward(a.stemAct.map(batch: n), a.dBlocks[0].map(batch: n).channels(0, config.initChannels), a.dStem.map(batch: n)) }
        prof("bn+relu", .backward) { norm0.backward(a.stemOut.map(batch: n), a.dStem.map(batch: n), a.dStem.map(batch: n), relu: true, accumulate: false) }
        prof("conv7x7 stem", .backward) { conv0.backward(input.map, a.dStem.map(batch: n), dx: inputGrad?.map, ws) }
    }

    // MARK: helpers

    func bottleneck(_ a: Activations, _ b: Int, _ l: Int, like x: FeatureMap) -> FeatureMap {
        let width = config.bnSize * config.growthRate
        return FeatureMap(a.bottlenecks[b].data + l * x.rows * width, n: x.n, h: x.h, w: x.w, c: width, stride: width)
    }

    /// Layer `l`'s new maps before its SE (placement `layer`), `[N, H, W, k]` dense.
    func layerSEInput(_ a: Activations, _ b: Int, _ l: Int, like x: FeatureMap) -> FeatureMap {
        let k = config.growthRate
        return FeatureMap(a.layerSEInputs[b]!.data + l * x.rows * k, n: x.n, h: x.h, w: x.w, c: k, stride: k)
    }

    func scratchMap(_ ws: Workspace, _ key: String, like x: FeatureMap, c: Int) -> FeatureMap {
        scratchMap(ws, key, n: x.n, h: x.h, w: x.w, c: c)
    }

    func scratchMap(_ ws: Workspace, _ key: String, n: Int, h: Int, w: Int, c: Int) -> FeatureMap {
        FeatureMap(ws.scratch(key, n * h * w * c), n: n, h: h, w: w, c: c, stride: c)
    }
}
