// Max, average and global average pooling over NHWC feature maps. Work is split by image, so every thread
// writes its own part of the output (and of dx in backward): no atomics, deterministic.
import CKernels

/// Max pooling with implicit −∞ padding (PyTorch `MaxPool2d(k, s, p)`).
///
/// Shapes: `x [N, H, W, C]` → `y [N, (H + 2p − k)/s + 1, (W + 2p − k)/s + 1, C]`. Backward routes each output
/// gradient to the first maximum of its window in (kh, kw) order, as PyTorch does; the argmax is recomputed
/// from `x` instead of stored.
public struct MaxPool2D {
    public let kernel: Int, stride: Int, padding: Int
    public init(kernel: Int, stride: Int, padding: Int) { self.kernel = kernel; self.stride = stride; self.padding = padding }

    public func outputSize(_ h: Int, _ w: Int) -> (h: Int, w: Int) {
        ((h + 2 * padding - kernel) / stride + 1, (w + 2 * padding - kernel) / stride + 1)
    }

    public func forward(_ x: FeatureMap, _ y: FeatureMap) {
        checkShape(x, y, outputSize(x.h, x.w), "max pool output")
        parallelChunks(x.n) { n in
            abl_maxpool_forward(x.base, x.h, x.w, x.c, x.stride, kernel, stride, padding, y.h, y.w, n, n + 1, y.base, y.stride)
        }
    }

    /// dx = scatter of dy to the argmax positions. Overwrites `dx`.
    public func backward(_ x: FeatureMap, _ dy: FeatureMap, _ dx: FeatureMap) {
        checkShape(x, dy, outputSize(x.h, x.w), "max pool gradient")
        checkShape(x, dx, (x.h, x.w), "max pool input gradient")
        parallelChunks(x.n) { n in
            abl_maxpool_backward(x.base, x.h, x.w, x.c, x.stride, kernel, stride, padding, dy.h, dy.w, n, n + 1,
                                 dy.base, dy.stride, dx.base, dx.stride)
        }
    }
}

/// Average pooling without padding (PyTorch `AvgPool2d(k, s)`; trailing rows/columns that do not fill a window
/// are dropped, as with floor mode).
///
/// Shapes: `x [N, H, W, C]` → `y [N, (H − k)/s + 1, (W − k)/s + 1, C]`.
public struct AvgPool2D {
    public let kernel: Int, stride: Int
    public init(kernel: Int, stride: Int) { self.kernel = kernel; self.stride = stride }

    public func outputSize(_ h: Int, _ w: Int) -> (h: Int, w: Int) { ((h - kernel) / stride + 1, (w - kernel) / stride + 1) }

    public func forward(_ x: FeatureMap, _ y: FeatureMap) {
        checkShape(x, y, outputSize(x.h, x.w), "average pool output")
        let c = x.c, inv = 1 / Float(kernel * kernel)
        parallelChunks(x.n * y.h) { job in
            let n = job / y.h, oh = job % y.h
            for ow in 0..<y.w {
                let out = y.base + ((n * y.h + oh) * y.w + ow) * y.stride
                for ch in 0..<c { out[ch] = 0 }
                for kh in 0..<kernel {
                    for kw in 0..<kernel {
                        let inp = x.base + ((n * x.h + oh * stride + kh) * x.w + ow * stride + kw) * x.stride
                        for ch in 0..<c { out[ch] += inp[ch] }
                    }
                }
                for ch in 0..<c { out[ch] *= inv }
            }
        }
    }

    /// dx = dy / k² spread over each window. Overwrites `dx` (0 where no window reads).
    public func backward(_ dy: FeatureMap, _ dx: FeatureMap) {
        checkShape(dx, dy, outputSize(dx.h, dx.w), "average pool gradient")
        let c = dx.c, inv = 1 / Float(kernel * kernel)
        parallelChunks(dx.n) { n in
            for r in 0..<(dx.h * dx.w) { (dx.base + (n * dx.h * dx.w + r) * dx.stride).update(repeating: 0, count: c) }
            for oh in 0..<dy.h {
                for ow in 0..<dy.w {
                    let g = dy.base + ((n * dy.h + oh) * dy.w + ow) * dy.stride
                    for kh in 0..<kernel {
                        for kw in 0..<kernel {
                            let d = dx.base + ((n * dx.h + oh * stride + kh) * dx.w + ow * stride + kw) * dx.stride
                            for ch in 0..<c { d[ch] += g[ch] * inv }
                        }
                    }
                }
            }
        }
    }
}

/// Global average pooling (`AdaptiveAvgPool2d(1)` + flatten): `x [N, H, W, C]` → `y [N, C]` (row stride `ldy`).
public enum GlobalAvgPool {
    /// y[n, c] = mean over H·W of x[n, :, :, c]. With `sums`, also sums[n, c] = Σ x and
    /// sums[N·C + n·C + c] = Σ x² (doubles, [2, N, C]) from the same pass.
    public static func forward(_ x: FeatureMap, _ y: UnsafeMutablePointer<Float>, ldy: Int,
                               sums: UnsafeMutablePointer<Double>? = nil) {
        precondition(ldy >= x.c, "global average pool: row stride \(ldy) < \(x.c) channels")
        let c = x.c, hw = x.h * x.w, images = x.n
        parallelChunks(x.n) { n in
            // Squares are summed even when not asked for: one multiply-add per element of a memory-bound pass.
            var acc = [Double](repeating: 0, count: c), squares = acc
            for r in 0..<hw {
                let p = x.base + (n * hw + r) * x.stride
                for ch in 0..<c { let v = Double(p[ch]); acc[ch] += v; squares[ch] += v * v }
            }
            for ch in 0..<c { y[n * ldy + ch] = Float(acc[ch] / Double(hw)) }
            if let sums {
                for ch in 0..<c { sums[n * c + ch] = acc[ch]; sums[(images + n) * c + ch] = squares[ch] }
            }
        }
    }

    /// dx[n, h, w, c] (= or +=) dy[n, c] / (H·W).
    public static func backward(_ dy: UnsafePointer<Float>, ldy: Int, _ dx: FeatureMap, accumulate: Bool) {
        precondition(ldy >= dx.c, "global average pool backward: row stride \(ldy) < \(dx.c) channels")
        let c = dx.c, hw = dx.h * dx.w, inv = 1 / Float(hw)
        parallelChunks(dx.n) { n in
            for r in 0..<hw {
                let d = dx.base + (n * hw + r) * dx.stride
                for ch in 0..<c {
                    let v = dy[n * ldy + ch] * inv
                    d[ch] = accumulate ? d[ch] + v : v
                }
            }
        }
    }
}
