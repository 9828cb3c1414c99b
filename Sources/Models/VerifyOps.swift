// Per-op golden cases: forward output and every gradient of d(sum(output · output_grad)).
import Engine
import Foundation

extension Verifier {
    static func verifyOps(_ doc: ReferenceDocument) throws -> [Check] {
        guard let cases = doc.root["cases"] as? [[String: Any]] else { throw ReferenceError.format(doc.path, "'cases' is not a list") }
        let file = URL(fileURLWithPath: doc.path).lastPathComponent
        var checks: [Check] = []
        for c in cases {
            guard let name = c["name"] as? String else { throw ReferenceError.format(doc.path, "a case has no 'name'") }
            let results = try runOp(name, c, doc.path)
            for r in results {
                checks.append(compare(file, name, r.quantity, ours: r.ours, ref: r.ref, tol: r.isGradient ? Tolerance.gradient : Tolerance.value))
            }
        }
        return checks
    }

    struct OpResult { let quantity: String; let ours: [Float]; let ref: TorchTensor; let isGradient: Bool }

    static func runOp(_ name: String, _ c: [String: Any], _ path: String) throws -> [OpResult] {
        func t(_ key: String) throws -> TorchTensor { try ReferenceDocument.tensor(c[key], "\(name).\(key)", in: path) }
        func list(_ key: String) throws -> [TorchTensor] {
            guard let l = c[key] as? [Any] else { throw ReferenceError.format(path, "\(name).\(key) is not a list") }
            return try l.enumerated().map { try ReferenceDocument.tensor($1, "\(name).\(key)[\($0)]", in: path) }
        }
        func params() throws -> [String: TorchTensor] { try ReferenceDocument.tensors(c["params"], "\(name).params", in: path) }
        func paramGrads() throws -> [String: TorchTensor] { try ReferenceDocument.tensors(c["param_grads"], "\(name).param_grads", in: path) }
        func int(_ key: String) throws -> Int {
            guard let v = c[key] as? Int else { throw ReferenceError.format(path, "\(name).\(key) is not an integer") }
            return v
        }
        let store = ParameterStore()
        var rng = SeededGenerator(seed: 0)
        let ws = Workspace()

        if name.hasPrefix("conv2d") {
            let x = try list("inputs")[0], w = try params()["weight"]!
            let conv = Conv2D(store, name: "conv", in: w.shape[1], out: w.shape[0], kernel: w.shape[2],
                              stride: try int("stride"), padding: try int("padding"))
            store.finalize(rng: &rng)
            conv.weight.setTorchValues(w.values)
            let input = Layout.nhwc(x)
            let (oh, ow) = conv.outputSize(input.h, input.w)
            let y = Tensor([input.n, oh, ow, w.shape[0]])
            conv.forward(input.map, y.map, ws)
            let dy = Layout.nhwc(try t("output_grad")), dx = Tensor(input.shape)
            conv.backward(input.map, dy.map, dx: dx.map, ws)
            return [OpResult(quantity: "output", ours: Layout.nchw(y.map).values, ref: try t("output"), isGradient: false),
                    OpResult(quantity: "input_grad", ours: Layout.nchw(dx.map).values, ref: try list("input_grads")[0], isGradient: true),
                    OpResult(quantity: "weight_grad", ours: conv.weight.torchGrad, ref: try paramGrads()["weight"]!, isGradient: true)]
        }
        if name.hasPrefix("batchnorm2d") {
            let x = Layout.nhwc(try list("inputs")[0]), p = try params()
            let eps = Float((c["eps"] as? Double) ?? 1e-5)
            let bn = BatchNorm2D(store, name: "bn", channels: x.c, eps: eps)
            store.finalize(rng: &rng)
            bn.weight.setTorchValues(p["weight"]!.values); bn.bias.setTorchValues(p["bias"]!.values)
            let y = Tensor(x.shape)
            bn.forward(x.map, y.map, training: true, relu: false)
            let dy = Layout.nhwc(try t("output_grad")), dx = Tensor(x.shape)
            bn.backward(x.map, dy.map, dx.map, relu: false, accumulate: false)
            let g = try paramGrads()
            return [OpResult(quantity: "output", ours: Layout.nchw(y.map).values, ref: try t("output"), isGradient: false),
                    OpResult(quantity: "input_grad", ours: Layout.nchw(dx.map).values, ref: try list("input_grads")[0], isGradient: true),
                    OpResult(quantity: "weight_grad", ours: bn.weight.torchGrad, ref: g["weight"]!, isGradient: true),
                    OpResult(quantity: "bias_grad", ours: bn.bias.torchGrad, ref: g["bias"]!, isGradient: true)]
        }
        if name == "relu" {
            let x = try list("inputs")[0], dy = try t("output_grad")
            var y = [Float](repeating: 0, count: x.count), dx = y
            ReLU.forward(x.values, &y, count: x.count)
            ReLU.backward(output: y, dy.values, &dx, count: x.count)
            return [OpResult(quantity: "output", ours: y, ref: try t("output"), isGradient: false),
                    OpResult(quantity: "input_grad", ours: dx, ref: try list("input_grads")[0], isGradient: true)]
        }
        if name.hasPrefix("maxpool") || name.hasPrefix("avgpool") {
            let x = Layout.nhwc(try list("inputs")[0]), dyT = try t("output_grad")
            let dy = Layout.nhwc(dyT), dx = Tensor(x.shape)
            let y = Tensor(dy.shape)
            if name.hasPrefix("maxpool") {
                let pool = MaxPool2D(kernel: try int("kernel"), stride: try int("stride"), padding: try int("padding"))
                pool.forward(x.map, y.map)
                pool.backward(x.map, dy.map, dx.map)
            } else {
                let pool = AvgPool2D(kernel: try int("kernel"), stride: try int("stride"))
                pool.forward(x.map, y.map)
                pool.backward(dy.map, dx.map)
            }
            return [OpResult(quantity: "output", ours: Layout.nchw(y.map).values, ref: try t("output"), isGradient: false),
                    OpResult(quantity: "input_grad", ours: Layout.nchw(dx.map).values, ref: try list("input_grads")[0], isGradient: true)]
        }
        if name == "global_avgpool" {
            let x = Layout.nhwc(try list("inputs")[0]), dy = try t("output_grad")
            var y = [Float](repeating: 0, count: x.n * x.c)
            GlobalAvgPool.forward(x.map, &y, ldy: x.c)
            let dx = Tensor(x.shape)
            GlobalAvgPool.backward(dy.values, ldy: x.c, dx.map, accumulate: false)
            return [OpResult(quantity: "output", ours: y, ref: try t("output"), isGradient: false),
                    OpResult(quantity: "input_grad", ours: Layout.nchw(dx.map).values, ref: try list("input_grads")[0], isGradient: true)]
        }
        if name == "linear" {
            let x = try list("inputs")[0], p = try params(), dy = try t("output_grad")
            let lin = Linear(store, name: "fc", in: x.shape[1], out: p["weight"]!.shape[0])
            store.finalize(rng: &rng)
            lin.weight.setTorchValues(p["weight"]!.values); lin.bias.setTorchValues(p["bias"]!.values)
            var y = [Float](repeating: 0, count: x.shape[0] * lin.outFeatures), dx = [Float](repeating: 0, count: x.count)
            lin.forward(x.values, &y, batch: x.shape[0])
            lin.backward(x.values, dy.values, dx: &dx, batch: x.shape[0])
            let g = try paramGrads()
            return [OpResult(quantity: "output", ours: y, ref: try t("output"), isGradient: false),
                    OpResult(quantity: "input_grad", ours: dx, ref: try list("input_grads")[0], isGradient: true),
                    OpResult(quantity: "weight_grad", ours: lin.weight.torchGrad, ref: g["weight"]!, isGradient: true),
                    OpResult(quantity: "bias_grad", ours: lin.bias.torchGrad, ref: g["bias"]!, isGradient: true)]
        }
        if name.hasPrefix("se") {
            let x = Layout.nhwc(try list("inputs")[0]), p = try params()
            let se = SqueezeExcitation(store, name: "se", channels: x.c, reduction: try int("reduction"))
            store.finalize(rng: &rng)
            let map = ["fc1_w": se.fc1.weight, "fc1_b": se.fc1.bias, "fc2_w": se.fc2.weight, "fc2_b": se.fc2.bias]
            for (k, param) in map { param.setTorchValues(p[k]!.values) }
            let y = Tensor(x.shape), dy = Layout.nhwc(try t("output_grad")), dx = Tensor(x.shape)
            se.forward(x.map, y.map)
            se.backward(x.map, dy.map, dx.map, accumulate: false)
            let g = try paramGrads()
            var out = [OpResult(quantity: "output", ours: Layout.nchw(y.map).values, ref: try t("output"), isGradient: false),
                       OpResult(quantity: "input_grad", ours: Layout.nchw(dx.map).values, ref: try list("input_grads")[0], isGradient: true)]
            for k in map.keys.sorted() { out.append(OpResult(quantity: "\(k)_grad", ours: map[k]!.torchGrad, ref: g[k]!, isGradient: true)) }
            return out
        }
        if name.hasPrefix("cross_entropy") {
            let x = try list("inputs")[0]
            guard let labels = c["labels"] as? [Int], let loss = c["loss"] as? Double else {
                throw ReferenceError.format(path, "\(name) needs 'labels' and 'loss'")
            }
            var d = [Float](repeating: 0, count: x.count)
            let ours = CrossEntropy.forward(logits: x.values, labels: labels.map(Int32.init), classes: x.shape[1], dlogits: &d)
            return [OpResult(quantity: "loss", ours: [ours], ref: TorchTensor(shape: [1], values: [Float(loss)]), isGradient: false),
                    OpResult(quantity: "input_grad", ours: d, ref: try list("input_grads")[0], isGradient: true)]
        }
        throw ReferenceError.format(path, "unknown op case '\(name)'")
    }
}
