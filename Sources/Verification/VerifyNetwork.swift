// Whole-network golden files: eval logits, one training step (logits, loss, every gradient, input gradient,
// parameters and BN buffers after the optimiser step) and a second step (loss, parameters, eval logits).
import AblateCore
import Engine
import Models
import Foundation

extension Verifier {
    static func verifyNetwork(_ doc: ReferenceDocument) throws -> [Check] {
        let path = doc.path, file = URL(fileURLWithPath: path).lastPathComponent
        let r = doc.root
        func t(_ key: String) throws -> TorchTensor { try ReferenceDocument.tensor(r[key], key, in: path) }
        func ts(_ key: String) throws -> [String: TorchTensor] { try ReferenceDocument.tensors(r[key], key, in: path) }
        func scalar(_ key: String) throws -> TorchTensor {
            guard let v = r[key] as? Double else { throw ReferenceError.format(path, "'\(key)' is not a number") }
            return TorchTensor(shape: [1], values: [Float(v)])
        }
        let net = try networkSpec(r, path).build(seed: 0)
        var state = try ts("params")
        state.merge(try ts("buffers")) { a, _ in a }
        try net.store.load(stateDict: state)
        let optimizer = Optimizer(try optimizerConfig(r, path), store: net.store)
        guard let labelList = r["labels"] as? [Int] else { throw ReferenceError.format(path, "'labels' is not a list of integers") }
        let labels = labelList.map(Int32.init)
        let input = Layout.nhwc(try t("input"))

        var checks: [Check] = []
        func add(_ q: String, _ ours: [Float], _ ref: TorchTensor, gradient: Bool = false, item: String = "network") {
            checks.append(compare(file, item, q, ours: ours, ref: ref, tol: gradient ? Tolerance.gradient : Tolerance.value))
        }
        // Adam: elements whose reference gradient is rounding noise move by ±lr in an undetermined direction;
        // they are checked against Adam's step bound from their starting values (see `AdamVerification`).
        let refGrads = try ts("grads")
        var adamMasks: [String: (before: [Float], mask: [Bool])] = [:]
        let startValues = Dictionary(uniqueKeysWithValues: net.store.parameters.map { ($0.name, $0.torchValues) })
        // Parameters after a step: the update is computed from gradients, which are held to the gradient
        // tolerance, so the update's share of the parameter is held to that tolerance too (relative to the
        // reference's update, `stepFrom` → `ref`) on top of the value tolerance for the rest.
        func params(_ q: String, _ ref: [String: TorchTensor], gradient: Bool = false, buffers: Bool = false,
                    adamSteps: Int = 0, stepFrom: [String: TorchTensor]? = nil) {
            for p in (buffers ? net.store.buffers : net.store.parameters) {
                guard let want = ref[p.name] else { continue }
                var tol = gradient ? Tolerance.gradient : Tolerance.value
                if let before = stepFrom?[p.name] { tol = Tolerance.afterStep(before: before, after: want) }
                if adamSteps > 0, let m = adamMasks[p.name], m.mask.contains(true) {
                    checks.append(AdamVerification.compareAfterSteps(
                        file, p.name, q, ours: p.torchValues, ref: want, before: m.before, mask: m.mask,
                        steps: adamSteps, lr: optimizer.config.learningRate, tol: tol))
                    continue
                }
                // A BatchNorm's ∂L/∂γ = Σ g·x̂ adds terms as large as those of ∂L/∂β = Σ g (x̂ has unit variance) and
                // can cancel to far less: its error is measured against the larger of the two gradients.
                var floor = 0.0
                if gradient, p.name.hasSuffix(".weight"), let beta = ref[String(p.name.dropLast(".weight".count)) + ".bias"],
                   net.store.batchNormNames.contains(String(p.name.dropLast(".weight".count))) {
                    floor = beta.values.map { abs(Double($0)) }.max() ?? 0
                }
                var check = compare(file, p.name, q, ours: gradient ? p.torchGrad : p.torchValues, ref: want, tol: tol,
                                    atLeastScale: floor)
                if floor > (want.values.map { abs(Double($0)) }.max() ?? 0) {
                    check.note = "relative to max |∂L/∂β| of the same BatchNorm, \(String(format: "%.2e", floor)): Σ g·x̂ cancels"
                }
                checks.append(check)
            }
        }

        add("eval_logits", try net.forward(input, training: false).array, try t("eval_logits"))

        // Step 1, recording the size of the sums behind every gradient element (`GradientTermRecorder`).
        let terms = GradientTermRecorder()
        let (loss1, logits1, inputGrad) = try terms.recording {
            try trainStep(net, optimizer, input, labels, lr: optimizer.config.learningRate, wantInputGrad: true)
        }
        if case let .adam(_, _, _, _, weightDecay) = optimizer.config {
            for p in net.store.parameters {
                guard let g = refGrads[p.name], let before = startValues[p.name], g.values.count == before.count,
                      let magnitudes = terms.torchMagnitudes(p) else { continue }
                adamMasks[p.name] = (before, AdamVerification.roundingLevelMask(
                    gradient: g, termMagnitudes: magnitudes, termCount: terms.termCounts[p.name] ?? 1, before: before,
                    weightDecay: weightDecay))
            }
        }
        add("train_logits", logits1, try t("train_logits"))
        add("loss", [loss1], try scalar("loss"))
        params("grad", refGrads, gradient: true)
        add("input_grad", Layout.nchw(inputGrad!.map).values, try t("input_grad"), gradient: true)
        let start = try ts("params")
        params("after_step", try ts("after_step_params"), adamSteps: 1, stepFrom: start)
        params("after_step", try ts("after_step_buffers"), buffers: true)

        // Step 2 on the same batch exercises the optimiser state (ours, from step 1). It starts from PyTorch's
        // parameters and BN buffers after step 1, which step 1's checks just compared with ours: where the network
        // is ill-conditioned (a BatchNorm over two values, as at a 1×1 stage with batch 2) a rounding-level
        // difference in them grows into a different second step. How far continuing from our own state would
        // land is measured on a second copy and shown with the loss_step2 check.
        let afterStep2 = try ts("after_step2_params")
        let ownContinuation = try continuingFromOwnState(doc, state: state, input: input, labels: labels, reference: afterStep2)
        var afterStep1 = try ts("after_step_params")
        afterStep1.merge(try ts("after_step_buffers")) { a, _ in a }
        try net.store.load(stateDict: afterStep1)
        let (loss2, _, _) = try trainStep(net, optimizer, input, labels, lr: optimizer.config.learningRate, wantInputGrad: false)
        add("loss_step2", [loss2], try scalar("loss_step2"))
        checks[checks.count - 1].note = "step 2 from PyTorch's state after step 1; from ours, after_step2 parameters "
            + "differ from PyTorch's by up to \(String(format: "%.2e", ownContinuation)) relative"
        params("after_step2", afterStep2, adamSteps: 2, stepFrom: afterStep1)
        // The logits after step 2 check the eval forward with the running statistics two steps updated (ours),
        // at PyTorch's parameters: ours were just compared tensor by tensor, and where they may differ within
        // tolerance (an ill-conditioned network, Adam's rounding-level elements) the logits would inherit an
        // error no fixed tolerance describes. The note says how far our own parameters move them.
        let ours = try net.forward(input, training: false).array
        var atStep2 = net.store.stateDict()
        for (name, want) in afterStep2 where atStep2[name] != nil { atStep2[name] = want }
        try net.store.load(stateDict: atStep2)
        let atReference = try net.forward(input, training: false).array
        let ref = try t("eval_logits_after_step2")
        var check = compare(file, "network", "eval_logits_after_step2", ours: atReference, ref: ref, tol: Tolerance.value)
        let scale = ref.values.map { abs(Double($0)) }.max() ?? 1
        let effect = zip(ours, atReference).map { abs(Double($0) - Double($1)) }.max() ?? 0
        let masked = adamMasks.values.reduce(0) { $0 + $1.mask.filter { $0 }.count }
        check.note = "at PyTorch's after_step2 parameters; ours (\(masked) rounding-level Adam elements among them) "
            + "move the logits by up to \(String(format: "%.2e", effect / max(scale, 1e-12))) relative"
        checks.append(check)
        return checks
    }

    /// Both steps from the file's starting state with our own state in between: the worst relative difference
    /// (per tensor, against its largest reference value) of the parameters after step 2 from PyTorch's.
    static func continuingFromOwnState(_ doc: ReferenceDocument, state: [String: TorchTensor], input: Tensor,
                                       labels: [Int32], reference: [String: TorchTensor]) throws -> Double {
        let net = try networkSpec(doc.root, doc.path).build(seed: 0)
        try net.store.load(stateDict: state)
        let optimizer = Optimizer(try optimizerConfig(doc.root, doc.path), store: net.store)
        for _ in 0..<2 {
            _ = try trainStep(net, optimizer, input, labels, lr: optimizer.config.learningRate, wantInputGrad: false)
        }
        var worst = 0.0
        for p in net.store.parameters {
            guard let want = reference[p.name] else { continue }
            let scale = want.values.map { abs(Double($0)) }.max() ?? 0
            let diff = zip(p.torchValues, want.values).map { abs(Double($0) - Double($1)) }.max() ?? 0
            worst = max(worst, diff / max(scale, 1e-12))
        }
        return worst
    }

    static func trainStep(_ net: any Network, _ opt: Optimizer, _ input: Tensor, _ labels: [Int32], lr: Float,
                          wantInputGrad: Bool) throws -> (Float, [Float], Tensor?) {
        net.store.zeroGrad()
        let logits = try net.forward(input, training: true)
        let dLogits = Tensor(logits.shape)
        let loss = CrossEntropy.forward(logits: logits.data, labels: labels, classes: net.classes, dlogits: dLogits.data)
        let inputGrad = wantInputGrad ? Tensor(input.shape) : nil
        let logitValues = logits.array
        try net.backward(input, dLogits: dLogits, inputGrad: inputGrad)
        opt.update(lr: lr)
        return (loss, logitValues, inputGrad)
    }

    /// The network a reference file describes: `config.arch` "resnet" (block, layers, width) or DenseNet (the
    /// default; `placement` block, layer or transition when `reduction` is set).
    static func networkSpec(_ r: [String: Any], _ path: String) throws -> ModelSpec {
        guard let c = r["config"] as? [String: Any] else { throw ReferenceError.format(path, "'config' missing") }
        func int(_ k: String) throws -> Int {
            guard let v = c[k] as? Int else { throw ReferenceError.format(path, "config.\(k) is not an integer") }
            return v
        }
        func list(_ k: String) throws -> [Int] {
            guard let v = c[k] as? [Int] else { throw ReferenceError.format(path, "config.\(k) is not a list of integers") }
            return v
        }
        let spec: ModelSpec
        switch (c["arch"] as? String) ?? "densenet" {
        case "resnet":
            guard let block = (c["block"] as? String).flatMap(ResidualBlockKind.init) else {
                throw ReferenceError.format(path, "config.block is not one of \(ResidualBlockKind.allCases.map(\.rawValue))")
            }
            spec = .resNet(ResNetConfig(block: block, layers: try list("layers"), width: try int("width"),
                                        classes: try int("num_classes"), seReduction: c["reduction"] as? Int))
        case "densenet":
            let placementName = (c["placement"] as? String) ?? SEPlacement.block.rawValue
            guard let placement = SEPlacement(rawValue: placementName) else {
                throw ReferenceError.format(path, "config.placement '\(placementName)' is not one of \(SEPlacement.allCases.map(\.rawValue))")
            }
            spec = .denseNet(DenseNetConfig(growthRate: try int("growth_rate"), blockConfig: try list("block_config"),
                                            initChannels: try int("init_channel"), bnSize: try int("bn_size"),
                                            compression: (c["compression_rate"] as? Double) ?? 0.5,
                                            dropRate: (c["drop_rate"] as? Double) ?? 0, classes: try int("num_classes"),
                                            seReduction: c["reduction"] as? Int, sePlacement: placement))
        case let other: throw ReferenceError.format(path, "config.arch '\(other)' is not densenet or resnet")
        }
        try spec.validate()
        return spec
    }

    static func optimizerConfig(_ r: [String: Any], _ path: String) throws -> OptimizerConfig {
        guard let o = r["optimizer"] as? [String: Any], let name = o["name"] as? String, let lr = o["lr"] as? Double else {
            throw ReferenceError.format(path, "'optimizer' needs a name and lr")
        }
        let wd = Float((o["weight_decay"] as? Double) ?? 0)
        switch name.lowercased() {
        case "sgd":
            return .sgd(lr: Float(lr), momentum: Float((o["momentum"] as? Double) ?? 0),
                        dampening: Float((o["dampening"] as? Double) ?? 0), weightDecay: wd,
                        nesterov: (o["nesterov"] as? Bool) ?? false)
        case "adam":
            let betas = (o["betas"] as? [Double]) ?? [0.9, 0.999]
            return .adam(lr: Float(lr), beta1: Float(betas[0]), beta2: Float(betas[1]),
                         eps: Float((o["eps"] as? Double) ?? 1e-8), weightDecay: wd)
        default: throw ReferenceError.format(path, "optimizer '\(name)' is not sgd or adam")
        }
    }
}
