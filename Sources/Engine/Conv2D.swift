// Conv2d without bias, NHWC. A 1×1 stride-1 convolution is one GEMM over pixel rows (no im2col, reading a
// channel prefix of a dense-block buffer through lda); every other convolution is im2col + GEMM in row chunks,
// so the column buffer stays a few MB instead of N·OH·OW·K floats (darknet's scheme, chunked).
import CKernels

/// 2-D convolution, `y = conv(x, W)`, no bias (DenseNet's convolutions have none).
///
/// Shapes: `x [N, H, W, Cin]` → `y [N, OH, OW, Cout]`, `OH = (H + 2p − KH) / s + 1`.
/// Weight: engine `[KH, KW, Cin, Cout]` (PyTorch `[Cout, Cin, KH, KW]`), Kaiming-normal with fan_in = Cin·KH·KW.
public struct Conv2D {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    public let weight: Param

    public init(_ store: ParameterStore, name: String, in cin: Int, out cout: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0) {
        inChannels = cin; outChannels = cout; self.kernel = kernel; self.stride = stride; self.padding = padding
        weight = store.parameter("\(name).weight", [kernel, kernel, cin, cout], layout: .convHWIO,
                                 init: .kaimingNormal(fanIn: cin * kernel * kernel))
    }

    public func outputSize(_ h: Int, _ w: Int) -> (h: Int, w: Int) {
        ((h + 2 * padding - kernel) / stride + 1, (w + 2 * padding - kernel) / stride + 1)
    }

    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }
    public var patch: Int { kernel * kernel * inChannels }

    /// Rows of the output processed per im2col chunk: about 2 M floats of columns.
    func chunkRows(_ rows: Int) -> Int { max(64, min(rows, (1 << 21) / patch)) }

    /// y = conv(x). `y` may be a channel slice of a wider buffer.
    public func forward(_ x: FeatureMap, _ y: FeatureMap, _ ws: Workspace) {
        precondition(x.c == inChannels && y.c == outChannels, "conv channels \(x.c)→\(y.c), expected \(inChannels)→\(outChannels)")
        let (oh, ow) = outputSize(x.h, x.w)
        precondition(y.n == x.n && y.h == oh && y.w == ow, "conv output \(y.h)×\(y.w), expected \(oh)×\(ow)")
        if isPointwise {
            sgemm(m: x.rows, n: outChannels, k: inChannels, a: x.base, lda: x.stride,
                  b: weight.value, ldb: outChannels, c: y.base, ldc: y.stride)
            return
        }
        let rows = y.rows, chunk = chunkRows(rows), k = patch
        let col = ws.scratch("conv.col", chunk * k)
        var m0 = 0
        while m0 < rows {
            let m1 = min(rows, m0 + chunk)
            im2col(x, oh, ow, m0, m1, col)
            sgemm(m: m1 - m0, n: outChannels, k: k, a: col, lda: k, b: weight.value, ldb: outChannels,
                  c: y.base + m0 * y.stride, ldc: y.stride)
            m0 = m1
        }
    }

    /// Accumulates dW += ∂L/∂W and, when `dx` is given, writes (or adds, `accumulate`) ∂L/∂x.
    public func backward(_ x: FeatureMap, _ dy: FeatureMap, dx: FeatureMap?, accumulate: Bool = false, _ ws: Workspace) {
        if isPointwise {
            // dW[Cin×Cout] += xᵀ · dy ; dx[rows×Cin] = dy · Wᵀ
            sgemm(transA: true, m: inChannels, n: outChannels, k: x.rows, a: x.base, lda: x.stride,
                  b: dy.base, ldb: dy.stride, beta: 1, c: weight.grad, ldc: outChannels)
            if let dx {
                sgemm(transB: true, m: dx.rows, n: inChannels, k: outChannels, a: dy.base, lda: dy.stride,
                      b: weight.value, ldb: outChannels, beta: accumulate ? 1 : 0, c: dx.base, ldc: dx.stride)
            }
            return
        }
        let (oh, ow) = (dy.h, dy.w)
        let rows = dy.rows, chunk = chunkRows(rows), k = patch
        let col = ws.scratch("conv.col", chunk * k)
        // Stride-1 convolutions send the gradient back as another convolution (of dy with the flipped,
        // transposed kernel): a GEMM with K = KH·KW·Cout and N = Cin, instead of a K = Cout GEMM followed by
        // a col2im scatter of KH·KW·Cin floats per pixel.
        let viaFlippedConv = stride == 1 && padding <= kernel - 1
        if let dx, !accumulate, !viaFlippedConv { zeroMap(dx) }
        var m0 = 0
        while m0 < rows {
            let m1 = min(rows, m0 + chunk)
            im2col(x, oh, ow, m0, m1, col)
            sgemm(transA: true, m: k, n: outChannels, k: m1 - m0, a: col, lda: k,
                  b: dy.base + m0 * dy.stride, ldb: dy.stride, beta: 1, c: weight.grad, ldc: outChannels)
            if let dx, !viaFlippedConv {
                // dcol = dy · Wᵀ, then scatter-add back to pixels (col2im), split by channel ranges.
                sgemm(transB: true, m: m1 - m0, n: k, k: outChannels, a: dy.base + m0 * dy.stride, lda: dy.stride,
                      b: weight.value, ldb: outChannels, c: col, ldc: k)
                let cin = inChannels, cChunk = max(8, (cin + 7) / 8)
                let parts = (cin + cChunk - 1) / cChunk
                parallelChunks(parts) { p in
                    abl_col2im_add(col, dx.h, dx.w, cin, dx.stride, kernel, kernel, stride, padding,
                                   oh, ow, m0, m1, p * cChunk, min(cin, (p + 1) * cChunk), dx.base)
                }
            }
            m0 = m1
        }
        if let dx, viaFlippedConv { backwardDataAsConvolution(dy, dx, accumulate: accumulate, ws) }
    }

    /// dx = conv(dy, W'), W'[kh, kw, co, ci] = W[K−1−kh, K−1−kw, ci, co], padding K−1−p (stride 1 only).
    func backwardDataAsConvolution(_ dy: FeatureMap, _ dx: FeatureMap, accumulate: Bool, _ ws: Workspace) {
        let kk = kernel * kernel, cin = inChannels, cout = outChannels
        let flipped = ws.scratch("conv.flipped", kk * cout * cin)
        for kh in 0..<kernel { for kw in 0..<kernel {
            let src = weight.value + ((kernel - 1 - kh) * kernel + (kernel - 1 - kw)) * cin * cout
            let dst = flipped + (kh * kernel + kw) * cout * cin
            for ci in 0..<cin { for co in 0..<cout { dst[co * cin + ci] = src[ci * cout + co] } }
        } }
        let k2 = kk * cout, pad = kernel - 1 - padding
        let rows = dx.rows, chunk = max(64, min(rows, (1 << 21) / k2))
        let col = ws.scratch("conv.col.dy", chunk * k2)
        var m0 = 0
        while m0 < rows {
            let m1 = min(rows, m0 + chunk)
            parallelRows(m1 - m0, chunk: 256) { r0, r1 in
                abl_im2col(dy.base, dy.h, dy.w, cout, dy.stride, kernel, kernel, 1, pad, dx.h, dx.w,
                           m0 + r0, m0 + r1, col + r0 * k2)
            }
            sgemm(m: m1 - m0, n: cin, k: k2, a: col, lda: k2, b: flipped, ldb: cin,
                  beta: accumulate ? 1 : 0, c: dx.base + m0 * dx.stride, ldc: dx.stride)
            m0 = m1
        }
    }

    private func im2col(_ x: FeatureMap, _ oh: Int, _ ow: Int, _ m0: Int, _ m1: Int, _ col: UnsafeMutablePointer<Float>) {
        let k = patch
        let sub = 256
        parallelRows(m1 - m0, chunk: sub) { r0, r1 in
            abl_im2col(x.base, x.h, x.w, inChannels, x.stride, kernel, kernel, stride, padding,
                       oh, ow, m0 + r0, m0 + r1, col + r0 * k)
        }
    }
}

/// Sets every float of a (possibly strided) feature map to zero.
public func zeroMap(_ m: FeatureMap) {
    if m.isDense {
        m.base.update(repeating: 0, count: m.rows * m.c)
        return
    }
    parallelRows(m.rows, chunk: 4096) { r0, r1 in
        for r in r0..<r1 { (m.base + r * m.stride).update(repeating: 0, count: m.c) }
    }
}

/// Copies `src` into `dst` (same shape, any strides).
public func copyMap(_ src: FeatureMap, _ dst: FeatureMap) {
    precondition(src.rows == dst.rows && src.c == dst.c)
    parallelRows(src.rows, chunk: 4096) { r0, r1 in
        for r in r0..<r1 { (dst.base + r * dst.stride).update(from: src.base + r * src.stride, count: src.c) }
    }
}
