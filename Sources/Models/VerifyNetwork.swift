// Whole-network golden files: eval logits, one training step (logits, loss, every gradient, input gradient,
// parameters and BN buffers after the optimiser step) and a second step (loss, parameters, eval logits).
import Engine
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
        let config = try networkConfig(r, path)
        let net = try DenseNet(config, seed: 0)
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
        if case let .adam(_, _, _, _, weightDecay) = optimizer.config {
            for p in net.store.parameters {
                guard let g = refGrads[p.name], g.values.count == p.torchValues.count else { continue }
                let before = p.torchValues
                adamMasks[p.name] = (before, AdamVerification.roundingLevelMask(gradient: g, before: before,
                                                                                  weightDecay: weightDecay))
            }
        }
        func params(_ q: String, _ ref: [String: TorchTensor], gradient: Bool = false, buffers: Bool = false,
                    adamSteps: Int = 0) {
            for p in (buffers ? net.store.buffers : net.store.parameters) {
                guard let want = ref[p.name] else { continue }
                if adamSteps > 0, let m = adamMasks[p.name], m.mask.contains(true) {
                    checks.append(AdamVerification.compareAfterSteps(
                        file, p.name, q, ours: p.torchValues, ref: want, before: m.before, mask: m.mask,
                        steps: adamSteps, lr: optimizer.config.learningRate, tol: Tolerance.value))
                    continue
                }
                add(q, gradient ? p.torchGrad : p.torchValues, want, gradient: gradient, item: p.name)
            }
        }

        add("eval_logits", try net.forward(input, training: false).array, try t("eval_logits"))

        // Step 1.
        let (loss1, logits1, inputGrad) = try trainStep(net, optimizer, input, labels, lr: optimizer.config.learningRate, wantInputGrad: true)
        add("train_logits", logits1, try t("train_logits"))
        add("loss", [loss1], try scalar("loss"))
        params("grad", refGrads, gradient: true)
        add("input_grad", Layout.nchw(inputGrad!.map).values, try t("input_grad"), gradient: true)
        params("after_step", try ts("after_step_params"), adamSteps: 1)
        params("after_step", try ts("after_step_buffers"), buffers: true)

        // Step 2 on the same batch: exercises the optimiser state.
        let (loss2, _, _) = try trainStep(net, optimizer, input, labels, lr: optimizer.config.learningRate, wantInputGrad: false)
        add("loss_step2", [loss2], try scalar("loss_step2"))
        let afterStep2 = try ts("after_step2_params")
        params("after_step2", afterStep2, adamSteps: 2)
        let masked = adamMasks.values.reduce(0) { $0 + $1.mask.filter { $0 }.count }
        if masked == 0 {
            add("eval_logits_after_step2", try net.forward(input, training: false).array, try t("eval_logits_after_step2"))
        } else {
            // The logits follow from every parameter: with the rounding-level elements at PyTorch's values, the
            // rest must reproduce PyTorch's logits at the usual tolerance. The note says how far those elements
            // alone move the logits (the tolerance a comparison without the substitution would need).
            let ours = try net.forward(input, training: false).array
            var state = net.store.stateDict()
            for (name, m) in adamMasks {
                guard let want = afterStep2[name], var values = state[name]?.values else { continue }
                for i in values.indices where m.mask[i] { values[i] = want.values[i] }
                state[name] = TorchTensor(shape: state[name]!.shape, values: values)
            }
            try net.store.load(stateDict: state)
            let substituted = try net.forward(input, training: false).array
            let ref = try t("eval_logits_after_step2")
            var check = compare(file, "network", "eval_logits_after_step2", ours: substituted, ref: ref, tol: Tolerance.value)
            let scale = ref.values.map { abs(Double($0)) }.max() ?? 1
            let effect = zip(ours, substituted).map { abs(Double($0) - Double($1)) }.max() ?? 0
            check.note = "\(masked) rounding-level Adam elements set to PyTorch's values; alone they move the logits "
                + "by up to \(String(format: "%.2e", effect / max(scale, 1e-12))) relative"
            checks.append(check)
        }
        return checks
    }

    static func trainStep(_ net: DenseNet, _ opt: Optimizer, _ input: Tensor, _ labels: [Int32], lr: Float,
                          wantInputGrad: Bool) throws -> (Float, [Float], Tensor?) {
        net.store.zeroGrad()
        let logits = try net.forward(input, training: true)
        let dLogits = Tensor(logits.shape)
        let loss = CrossEntropy.forward(logits: logits.data, labels: labels, classes: net.config.classes, dlogits: dLogits.data)
        let inputGrad = wantInputGrad ? Tensor(input.shape) : nil
        let logitValues = logits.array
        try net.backward(input, dLogits: dLogits, inputGrad: inputGrad)
        opt.update(lr: lr)
        return (loss, logitValues, inputGrad)
    }

    static func networkConfig(_ r: [String: Any], _ path: String) throws -> DenseNetConfig {
        guard let c = r["config"] as? [String: Any] else { throw ReferenceError.format(path, "'config' missing") }
        func int(_ k: String) throws -> Int {
            guard let v = c[k] as? Int else { throw ReferenceError.format(path, "config.\(k) is not an integer") }
            return v
        }
        guard let blocks = c["block_config"] as? [Int] else { throw ReferenceError.format(path, "config.block_config is not a list") }
        return DenseNetConfig(growthRate: try int("growth_rate"), blockConfig: blocks, initChannels: try int("init_channel"),
                              bnSize: try int("bn_size"), compression: (c["compression_rate"] as? Double) ?? 0.5,
                              dropRate: (c["drop_rate"] as? Double) ?? 0, classes: try int("num_classes"),
                              seReduction: c["reduction"] as? Int)
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
