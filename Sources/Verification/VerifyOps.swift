// Per-op golden cases: forward output and every gradient of d(sum(output · output_grad)). Each case is decoded
// into `OpCase` (typed, every key optional until an op asks for it), its name gives its `OpKind` (one table of
// names), and the kind's runner (one table) computes what the engine gives for it.
import AblateCore
import Engine
import Foundation

/// A tensor as the reference files write it: `{"shape": [...], "data": [...]}` in PyTorch's layout.
struct ReferenceTensor: Decodable {
    let shape: [Int]
    let data: [Double]
}

/// One case of a per-op file, as written.
struct OpCase: Decodable {
    let name: String
    let inputs: [ReferenceTensor]?
    let params: [String: ReferenceTensor]?
    let param_grads: [String: ReferenceTensor]?
    let output: ReferenceTensor?
    let output_grad: ReferenceTensor?
    let input_grads: [ReferenceTensor]?
    let stride: Int?, padding: Int?, kernel: Int?, reduction: Int?
    let eps: Double?
    let labels: [Int]?
    let loss: Double?

    /// The file the case came from (set after decoding; named in errors).
    var path = ""

    enum CodingKeys: String, CodingKey {
        case name, inputs, params, param_grads, output, output_grad, input_grads, stride, padding, kernel, reduction
        case eps, labels, loss
    }

    func required<T>(_ value: T?, _ key: String) throws -> T {
        guard let value else { throw ReferenceError.format(path, "case '\(name)' has no '\(key)'") }
        return value
    }

    func torch(_ t: ReferenceTensor, _ key: String) throws -> TorchTensor {
        guard t.data.count == t.shape.reduce(1, *) else {
            throw ReferenceError.format(path, "'\(name).\(key)' has \(t.data.count) values for shape \(t.shape)")
        }
        return TorchTensor(shape: t.shape, values: t.data.map(Float.init))
    }

    var input: TorchTensor { get throws { try torch(try required(inputs?.first, "inputs"), "inputs[0]") } }
    var inputGrad: TorchTensor { get throws { try torch(try required(input_grads?.first, "input_grads"), "input_grads[0]") } }
    var expectedOutput: TorchTensor { get throws { try torch(try required(output, "output"), "output") } }
    var outputGrad: TorchTensor { get throws { try torch(try required(output_grad, "output_grad"), "output_grad") } }
    func param(_ key: String) throws -> TorchTensor { try torch(try required(params?[key], "params.\(key)"), "params.\(key)") }
    func paramGrad(_ key: String) throws -> TorchTensor {
        try torch(try required(param_grads?[key], "param_grads.\(key)"), "param_grads.\(key)")
    }
    func int(_ key: String, _ value: Int?) throws -> Int { try required(value, key) }
}

/// The ops the per-op files test, by case name: a name starting with `prefix` (or equal to it, when `exact`).
enum OpKind: CaseIterable {
    case conv2d, batchNorm2d, relu, maxPool, avgPool, globalAvgPool, linear, squeezeExcitation, crossEntropy

    /// How case names map to ops (the only place that reads names). Exact names before prefixes, so
    /// `global_avgpool` is not taken for another op.
    static let names: [(name: String, exact: Bool, kind: OpKind)] = [
        ("relu", true, .relu), ("global_avgpool", true, .globalAvgPool), ("linear", true, .linear),
        ("conv2d", false, .conv2d), ("batchnorm2d", false, .batchNorm2d), ("maxpool", false, .maxPool),
        ("avgpool", false, .avgPool), ("se", false, .squeezeExcitation), ("cross_entropy", false, .crossEntropy),
    ]

    init?(caseName: String) {
        guard let entry = Self.names.first(where: { $0.exact ? caseName == $0.name : caseName.hasPrefix($0.name) }) else {
            return nil
        }
        self = entry.kind
    }
}

extension Verifier {
    struct OpResult { let quantity: String; let ours: [Float]; let ref: TorchTensor; let isGradient: Bool }

    private struct OpsFile: Decodable { let cases: [OpCase] }

    static func verifyOps(_ doc: ReferenceDocument) throws -> [Check] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: doc.path)) } catch {
            throw ReferenceError.unreadable(doc.path, ErrorText.reason(error))
        }
        let cases: [OpCase]
        do { cases = try JSONDecoder().decode(OpsFile.self, from: data).cases } catch {
            throw ReferenceError.format(doc.path, "its cases do not have the per-op layout (\(error))")
        }
        let file = URL(fileURLWithPath: doc.path).lastPathComponent
        var checks: [Check] = []
        for var c in cases {
            c.path = doc.path
            guard let kind = OpKind(caseName: c.name), let run = runners[kind] else {
                throw ReferenceError.format(doc.path, "unknown op case '\(c.name)'")
            }
            for r in try run(c) {
                checks.append(compare(file, c.name, r.quantity, ours: r.ours, ref: r.ref,
                                      tol: r.isGradient ? Tolerance.gradient : Tolerance.value))
            }
        }
        return checks
    }

    /// What the engine gives for each kind of op case.
    static var runners: [OpKind: (OpCase) throws -> [OpResult]] { [
        .conv2d: conv2d, .batchNorm2d: batchNorm2d, .relu: relu, .maxPool: { try pool($0, max: true) },
        .avgPool: { try pool($0, max: false) }, .globalAvgPool: globalAvgPool, .linear: linear,
        .squeezeExcitation: squeezeExcitation, .crossEntropy: crossEntropy,
    ] }

    static func output(_ ours: [Float], _ c: OpCase) throws -> OpResult {
        OpResult(quantity: "output", ours: ours, ref: try c.expectedOutput, isGradient: false)
    }

    static func inputGrad(_ ours: [Float], _ c: OpCase) throws -> OpResult {
        OpResult(quantity: "input_grad", ours: ours, ref: try c.inputGrad, isGradient: true)
    }

    static func paramGrad(_ key: String, _ ours: [Float], _ c: OpCase) throws -> OpResult {
        OpResult(quantity: "\(key)_grad", ours: ours, ref: try c.paramGrad(key), isGradient: true)
    }

    static func conv2d(_ c: OpCase) throws -> [OpResult] {
        let store = ParameterStore(), ws = Workspace()
        var rng = SeededGenerator(seed: 0)
        let x = try c.input, w = try c.param("weight")
        let conv = Conv2D(store, name: "conv", in: w.shape[1], out: w.shape[0], kernel: w.shape[2],
                          stride: try c.int("stride", c.stride), padding: try c.int("padding", c.padding))
        store.finalize(rng: &rng)
        conv.weight.setTorchValues(w.values)
        let input = Layout.nhwc(x)
        let (oh, ow) = conv.outputSize(input.h, input.w)
        let y = Tensor([input.n, oh, ow, w.shape[0]])
        conv.forward(input.map, y.map, ws)
        let dy = Layout.nhwc(try c.outputGrad), dx = Tensor(input.shape)
        conv.backward(input.map, dy.map, dx: dx.map, ws)
        return [try output(Layout.nchw(y.map).values, c), try inputGrad(Layout.nchw(dx.map).values, c),
                try paramGrad("weight", conv.weight.torchGrad, c)]
    }

    static func batchNorm2d(_ c: OpCase) throws -> [OpResult] {
        let store = ParameterStore()
        var rng = SeededGenerator(seed: 0)
        let x = Layout.nhwc(try c.input)
        let bn = BatchNorm2D(store, name: "bn", channels: x.c, eps: Float(c.eps ?? 1e-5))
        store.finalize(rng: &rng)
        bn.weight.setTorchValues(try c.param("weight").values)
        bn.bias.setTorchValues(try c.param("bias").values)
        let y = Tensor(x.shape)
        bn.forward(x.map, y.map, training: true, relu: false)
        let dy = Layout.nhwc(try c.outputGrad), dx = Tensor(x.shape)
        bn.backward(x.map, dy.map, dx.map, relu: false, accumulate: false)
        return [try output(Layout.nchw(y.map).values, c), try inputGrad(Layout.nchw(dx.map).values, c),
                try paramGrad("weight", bn.weight.torchGrad, c), try paramGrad("bias", bn.bias.torchGrad, c)]
    }

    static func relu(_ c: OpCase) throws -> [OpResult] {
        let x = try c.input, dy = try c.outputGrad
        var y = [Float](repeating: 0, count: x.count), dx = y
        ReLU.forward(x.values, &y, count: x.count)
        ReLU.backward(output: y, dy.values, &dx, count: x.count)
        return [try output(y, c), try inputGrad(dx, c)]
    }

    static func pool(_ c: OpCase, max: Bool) throws -> [OpResult] {
        let x = Layout.nhwc(try c.input), dy = Layout.nhwc(try c.outputGrad)
        let y = Tensor(dy.shape), dx = Tensor(x.shape)
        let kernel = try c.int("kernel", c.kernel), stride = try c.int("stride", c.stride)
        if max {
            let pool = MaxPool2D(kernel: kernel, stride: stride, padding: try c.int("padding", c.padding))
            pool.forward(x.map, y.map)
            pool.backward(x.map, dy.map, dx.map)
        } else {
            let pool = AvgPool2D(kernel: kernel, stride: stride)
            pool.forward(x.map, y.map)
            pool.backward(dy.map, dx.map)
        }
        return [try output(Layout.nchw(y.map).values, c), try inputGrad(Layout.nchw(dx.map).values, c)]
    }

    static func globalAvgPool(_ c: OpCase) throws -> [OpResult] {
        let x = Layout.nhwc(try c.input), dy = try c.outputGrad
        var y = [Float](repeating: 0, count: x.n * x.c)
        GlobalAvgPool.forward(x.map, &y, ldy: x.c)
        let dx = Tensor(x.shape)
        GlobalAvgPool.backward(dy.values, ldy: x.c, dx.map, accumulate: false)
        return [try output(y, c), try inputGrad(Layout.nchw(dx.map).values, c)]
    }

    static func linear(_ c: OpCase) throws -> [OpResult] {
        let store = ParameterStore()
        var rng = SeededGenerator(seed: 0)
        let x = try c.input, w = try c.param("weight"), dy = try c.outputGrad
        let lin = Linear(store, name: "fc", in: x.shape[1], out: w.shape[0])
        store.finalize(rng: &rng)
        lin.weight.setTorchValues(w.values)
        lin.bias.setTorchValues(try c.param("bias").values)
        var y = [Float](repeating: 0, count: x.shape[0] * lin.outFeatures), dx = [Float](repeating: 0, count: x.count)
        lin.forward(x.values, &y, batch: x.shape[0])
        lin.backward(x.values, dy.values, dx: &dx, batch: x.shape[0])
        return [try output(y, c), try inputGrad(dx, c), try paramGrad("weight", lin.weight.torchGrad, c),
                try paramGrad("bias", lin.bias.torchGrad, c)]
    }

    static func squeezeExcitation(_ c: OpCase) throws -> [OpResult] {
        let store = ParameterStore()
        var rng = SeededGenerator(seed: 0)
        let x = Layout.nhwc(try c.input)
        let se = SqueezeExcitation(store, name: "se", channels: x.c, reduction: try c.int("reduction", c.reduction))
        store.finalize(rng: &rng)
        // The file's names for the two linear layers' tensors, in a fixed order.
        let parameters = [("fc1_b", se.fc1.bias), ("fc1_w", se.fc1.weight), ("fc2_b", se.fc2.bias), ("fc2_w", se.fc2.weight)]
        for (key, param) in parameters { param.setTorchValues(try c.param(key).values) }
        let y = Tensor(x.shape), dy = Layout.nhwc(try c.outputGrad), dx = Tensor(x.shape)
        se.forward(x.map, y.map)
        se.backward(x.map, dy.map, dx.map, accumulate: false)
        return [try output(Layout.nchw(y.map).values, c), try inputGrad(Layout.nchw(dx.map).values, c)]
            + (try parameters.map { try paramGrad($0.0, $0.1.torchGrad, c) })
    }

    static func crossEntropy(_ c: OpCase) throws -> [OpResult] {
        let x = try c.input, labels = try c.required(c.labels, "labels"), loss = try c.required(c.loss, "loss")
        var d = [Float](repeating: 0, count: x.count)
        let ours = CrossEntropy.forward(logits: x.values, labels: labels.map(Int32.init), classes: x.shape[1], dlogits: &d)
        return [OpResult(quantity: "loss", ours: [ours], ref: TorchTensor(shape: [1], values: [Float(loss)]), isGradient: false),
                try inputGrad(d, c)]
    }
}
