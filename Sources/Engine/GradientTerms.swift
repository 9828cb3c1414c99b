// The size of the sums behind each parameter gradient, for verification. A weight gradient element is a sum of
// products (∂L/∂W[k] = Σ dy·x over batch and positions, ∂L/∂β = Σ g, ∂L/∂γ = Σ g·x̂); computed in float32 in any
// order its rounding error is bounded by n·u·Σ|terms| (n terms, unit roundoff u = 2⁻²⁴). Where the sum cancels to
// less than that, its sign is not determined by float32 arithmetic, and an optimiser that normalises the step
// (Adam) moves the weight by ±lr either way. `ablate verify` asks which elements those are; training never
// records anything (the recorder is off unless a verifier turns it on).

/// Σ|terms| and the term count of every parameter-gradient element, accumulated by the layers' backward passes
/// while `active` is set. Values are in the engine's layout (`Param.torchMagnitudes` converts).
public final class GradientTermRecorder {
    /// The recorder the layers add to; nil (the default) records nothing.
    nonisolated(unsafe) public static var active: GradientTermRecorder?

    /// Per parameter name: Σ|terms| of each element and the number of terms summed into it.
    public private(set) var magnitudes: [String: [Double]] = [:]
    public private(set) var termCounts: [String: Int] = [:]

    public init() {}

    /// Runs `body` with this recorder active (and the previous one restored after).
    public func recording<T>(_ body: () throws -> T) rethrows -> T {
        let previous = GradientTermRecorder.active
        GradientTermRecorder.active = self
        defer { GradientTermRecorder.active = previous }
        return try body()
    }

    func add(_ p: Param, terms: Int, _ fill: (inout [Double]) -> Void) {
        var m = magnitudes[p.name] ?? [Double](repeating: 0, count: p.count)
        fill(&m)
        magnitudes[p.name] = m
        termCounts[p.name, default: 0] += terms
    }

    /// Σ|terms| of `p`'s gradient in PyTorch's layout; nil when no backward recorded it.
    public func torchMagnitudes(_ p: Param) -> [Double]? {
        guard let m = magnitudes[p.name] else { return nil }
        switch p.layout {
        case .same: return m
        case .convHWIO:
            let (kh, kw, ci, co) = (p.shape[0], p.shape[1], p.shape[2], p.shape[3])
            var out = [Double](repeating: 0, count: m.count)
            for o in 0..<co { for i in 0..<ci { for y in 0..<kh { for x in 0..<kw {
                out[((o * ci + i) * kh + y) * kw + x] = m[((y * kw + x) * ci + i) * co + o]
            } } } }
            return out
        }
    }

    // MARK: the layers' sums, with every factor replaced by its absolute value

    /// Convolution: dW[ky, kx, ci, co] = Σ_{n, oy, ox} x[n, oy·s − p + ky, ox·s − p + kx, ci] · dy[n, oy, ox, co].
    /// `inputBlock` 16: x is in nChw16c layout (see `Conv2D.inputBlock`).
    func convolution(_ conv: Conv2D, _ x: FeatureMap, _ dy: FeatureMap, inputBlock: Int) {
        let (k, s, pad, ci, co) = (conv.kernel, conv.stride, conv.padding, conv.inChannels, conv.outChannels)
        func input(_ n: Int, _ y: Int, _ xx: Int, _ c: Int) -> Double {
            if inputBlock == 16 {
                return Double(abs(x.base[((n * (ci / 16) + c / 16) * x.h * x.w + y * x.w + xx) * 16 + c % 16]))
            }
            return Double(abs(x.base[((n * x.h + y) * x.w + xx) * x.stride + c]))
        }
        add(conv.weight, terms: dy.rows) { m in
            for n in 0..<dy.n { for oy in 0..<dy.h { for ox in 0..<dy.w {
                let g = dy.base + ((n * dy.h + oy) * dy.w + ox) * dy.stride
                for ky in 0..<k { for kx in 0..<k {
                    let iy = oy * s - pad + ky, ix = ox * s - pad + kx
                    guard iy >= 0, iy < x.h, ix >= 0, ix < x.w else { continue }
                    for c in 0..<ci {
                        let a = input(n, iy, ix, c)
                        if a == 0 { continue }
                        let row = ((ky * k + kx) * ci + c) * co
                        for o in 0..<co { m[row + o] += a * Double(abs(g[o])) }
                    }
                } }
            } } }
        }
    }

    /// 1×1 convolution on activations `a` [rows, Cin] (already materialised): dW[ci, co] = Σ_r a[r, ci]·dy[r, co].
    func pointwise(_ conv: Conv2D, activations a: (Int, Int) -> Float, rows: Int, _ dy: FeatureMap) {
        let (ci, co) = (conv.inChannels, conv.outChannels)
        add(conv.weight, terms: rows) { m in
            for r in 0..<rows {
                let g = dy.base + r * dy.stride
                for c in 0..<ci {
                    let v = Double(abs(a(r, c)))
                    if v == 0 { continue }
                    for o in 0..<co { m[c * co + o] += v * Double(abs(g[o])) }
                }
            }
        }
    }

    /// Linear: dW[o, i] = Σ_n dy[n, o]·x[n, i], db[o] = Σ_n dy[n, o].
    func linear(_ layer: Linear, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, batch n: Int) {
        let (fin, fout) = (layer.inFeatures, layer.outFeatures)
        add(layer.weight, terms: n) { m in
            for b in 0..<n { for o in 0..<fout {
                let g = Double(abs(dy[b * fout + o]))
                for i in 0..<fin { m[o * fin + i] += g * Double(abs(x[b * fin + i])) }
            } }
        }
        add(layer.bias, terms: n) { m in
            for b in 0..<n { for o in 0..<fout { m[o] += Double(abs(dy[b * fout + o])) } }
        }
    }

    /// BatchNorm: dβ[c] = Σ g, dγ[c] = Σ g·(x − μ)·invstd, with g = dy masked by the ReLU that follows
    /// (`relu`: where x·scale + shift ≤ 0, g = 0). `dyBlock` 16: dy in nChw16c layout.
    func batchNorm(_ bn: BatchNorm2D, _ x: FeatureMap, _ dy: FeatureMap, relu: Bool, dyBlock: Int) {
        let c = bn.channels, hw = x.h * x.w
        var sumG = [Double](repeating: 0, count: c), sumGX = sumG
        for r in 0..<x.rows {
            let n = r / hw, p = r % hw
            for i in 0..<c {
                let xv = x.base[r * x.stride + i]
                if relu && xv * bn.scale[i] + bn.shift[i] <= 0 { continue }
                let g = dyBlock == 16 ? dy.base[((n * (c / 16) + i / 16) * hw + p) * 16 + i % 16] : dy.base[r * dy.stride + i]
                sumG[i] += Double(abs(g))
                sumGX[i] += Double(abs(g)) * abs(Double(xv) - Double(bn.mean[i])) * Double(bn.invstd[i])
            }
        }
        add(bn.bias, terms: x.rows) { m in for i in 0..<c { m[i] += sumG[i] } }
        add(bn.weight, terms: x.rows) { m in for i in 0..<c { m[i] += sumGX[i] } }
    }
}
