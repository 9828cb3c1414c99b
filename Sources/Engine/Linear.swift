// Fully connected layer, PyTorch layout.

/// `y = x · Wᵀ + b`. Shapes: `x [N, in]` → `y [N, out]`; weight `[out, in]` (PyTorch's layout, kept as is),
/// bias `[out]`. Init: weight U(±1/√in) (PyTorch's default); bias 0 (the course's DenseNet zeroes every Linear
/// bias) or, with `pytorchBias`, U(±1/√in) as `nn.Linear` leaves it (torchvision's ResNet).
public struct Linear {
    public let inFeatures: Int, outFeatures: Int
    public let weight: Param, bias: Param

    public init(_ store: ParameterStore, name: String, in inFeatures: Int, out outFeatures: Int, pytorchBias: Bool = false) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = store.parameter("\(name).weight", [outFeatures, inFeatures], init: .linearDefault(fanIn: inFeatures))
        bias = store.parameter("\(name).bias", [outFeatures], init: pytorchBias ? .linearDefault(fanIn: inFeatures) : .zeros)
    }

    /// y[n×out] = x[n×in] · Wᵀ + b.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch n: Int) {
        for i in 0..<n { (y + i * outFeatures).update(from: bias.value, count: outFeatures) }
        sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
              b: weight.value, ldb: inFeatures, beta: 1, c: y, ldc: outFeatures)
    }

    /// dW += dyᵀ·x and db += Σ dy (each unless frozen), and dx = dy·W when `dx` is given.
    public func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, batch n: Int) {
        if !weight.frozen || !bias.frozen { GradientTermRecorder.active?.linear(self, x, dy, batch: n) }
        if !weight.frozen {
            sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dy, lda: outFeatures,
                  b: x, ldb: inFeatures, beta: 1, c: weight.grad, ldc: inFeatures)
        }
        if !bias.frozen { for i in 0..<n { for o in 0..<outFeatures { bias.grad[o] += dy[i * outFeatures + o] } } }
        if let dx {
            sgemm(m: n, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: weight.value, ldb: inFeatures,
                  c: dx, ldc: inFeatures)
        }
    }
}
