// Point-wise activations. ReLU usually runs fused into BatchNorm2D; these standalone forms serve the SE block
// and the per-op reference tests.
import CKernels
import Foundation

public enum ReLU {
    /// y = max(x, 0) over n floats (may run in place).
    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] = x[i] < 0 ? 0 : x[i] } // NaN propagates, as in torch.relu
    }

    /// dx = dy where y > 0, else 0 (from the forward output `y`, as PyTorch's threshold_backward).
    public static func backward(output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count n: Int) {
        abl_relu_backward(y, dy, dx, n)
    }
}

public enum Sigmoid {
    /// y = 1 / (1 + e^(−x)).
    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] = 1 / (1 + expf(-x[i])) }
    }

    /// dx = dy · y · (1 − y), from the forward output.
    public static func backward(output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { dx[i] = dy[i] * y[i] * (1 - y[i]) }
    }
}

/// Channel-wise scaling `y[n, h, w, c] = x[n, h, w, c] · s[n, c]` (the "excitation" multiply of SE).
public enum ChannelScale {
    public static func forward(_ x: FeatureMap, _ s: UnsafePointer<Float>, _ y: FeatureMap) {
        checkShape(x, y, (x.h, x.w), "channel scale output")
        let c = x.c, hw = x.h * x.w
        parallelRows(x.rows, chunk: 512) { r0, r1 in
            for r in r0..<r1 {
                let sc = s + (r / hw) * c, p = x.base + r * x.stride, o = y.base + r * y.stride
                for ch in 0..<c { o[ch] = p[ch] * sc[ch] }
            }
        }
    }

    /// dx (= or +=) dy · s and ds[n, c] = Σ_hw dy · x.
    public static func backward(_ x: FeatureMap, _ s: UnsafePointer<Float>, _ dy: FeatureMap,
                                dx: FeatureMap, accumulate: Bool, ds: UnsafeMutablePointer<Float>) {
        checkShape(x, dy, (x.h, x.w), "channel scale gradient")
        checkShape(x, dx, (x.h, x.w), "channel scale input gradient")
        let c = x.c, hw = x.h * x.w
        parallelChunks(x.n) { n in
            var acc = [Double](repeating: 0, count: c)
            let sc = s + n * c
            for r in (n * hw)..<((n + 1) * hw) {
                let p = x.base + r * x.stride, g = dy.base + r * dy.stride, d = dx.base + r * dx.stride
                for ch in 0..<c {
                    acc[ch] += Double(g[ch] * p[ch])
                    let v = g[ch] * sc[ch]
                    d[ch] = accumulate ? d[ch] + v : v
                }
            }
            for ch in 0..<c { ds[n * c + ch] = Float(acc[ch]) }
        }
    }
}
