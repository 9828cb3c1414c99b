// Conv2d without bias, NHWC. A 1×1 stride-1 convolution is one GEMM over pixel rows (no im2col, reading a
// channel prefix of a dense-block buffer through lda); every other convolution is a oneDNN direct convolution
// on the `onednn` backend (OneDNNConvolution.swift) and im2col + GEMM in row chunks on `openblas`, the
// reference, so the column buffer stays a few MB instead of N·OH·OW·K floats (darknet's scheme, chunked).
import CKernels

/// 2-D convolution, `y = conv(x, W)`, no bias (DenseNet's and ResNet's convolutions have none).
///
/// Shapes: `x [N, H, W, Cin]` → `y [N, OH, OW, Cout]`, `OH = (H + 2p − KH) / s + 1`.
/// Weight: engine `[KH, KW, Cin, Cout]` (PyTorch `[Cout, Cin, KH, KW]`), Kaiming-normal N(0, 2 / fan) with
/// fan = Cin·KH·KW (`.fanIn`, the course's DenseNet) or Cout·KH·KW (`.fanOut`, torchvision's ResNet:
/// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`).
public struct Conv2D {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    public let weight: Param

    /// Which fan Kaiming-normal initialisation divides by.
    public enum KaimingFan: Sendable { case fanIn, fanOut }

    public init(_ store: ParameterStore, name: String, in cin: Int, out cout: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0, fan: KaimingFan = .fanIn) {
        inChannels = cin; outChannels = cout; self.kernel = kernel; self.stride = stride; self.padding = padding
        let fanSize = (fan == .fanIn ? cin : cout) * kernel * kernel
        weight = store.parameter("\(name).weight", [kernel, kernel, cin, cout], layout: .convHWIO,
                                 init: .kaimingNormal(fanIn: fanSize))
    }

    public func outputSize(_ h: Int, _ w: Int) -> (h: Int, w: Int) {
        ((h + 2 * padding - kernel) / stride + 1, (w + 2 * padding - kernel) / stride + 1)
    }

    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }
    public var patch: Int { kernel * kernel * inChannels }

    /// Rows of the output processed per im2col chunk: about 1 M floats (4 MB) of columns per thread.
    func chunkRows(_ rows: Int) -> Int { max(64, min(rows, columnFloats / patch)) }

    /// y = conv(x). `y` may be a channel slice of a wider buffer. `inputBlock` 16: x's memory holds the
    /// input in nChw16c layout (only when `inputBlock(x)` said so).
    public func forward(_ x: FeatureMap, _ y: FeatureMap, _ ws: Workspace, inputBlock: Int = 0) {
        precondition(x.c == inChannels && y.c == outChannels, "conv channels \(x.c)→\(y.c), expected \(inChannels)→\(outChannels)")
        let (oh, ow) = outputSize(x.h, x.w)
        precondition(y.n == x.n && y.h == oh && y.w == ow, "conv output \(y.h)×\(y.w), expected \(oh)×\(ow)")
        if isPointwise {
            sgemm(m: x.rows, n: outChannels, k: inChannels, a: x.base, lda: x.stride,
                  b: weight.value, ldb: outChannels, c: y.base, ldc: y.stride)
            return
        }
        if forwardOneDNN(x, y, inputBlock: inputBlock, ws) { return }
        let k = patch
        let cols = ThreadColumns(ws, .convolutionColumns, rows: y.rows, chunk: chunkRows(y.rows), width: k)
        // Each thread lays out the columns of its own row chunks and multiplies them itself (OpenBLAS runs
        // single-threaded inside a parallel region): the columns never travel between cores. With one
        // multi-threaded GEMM per chunk, the thread that wrote a column and the one that packed it differed,
        // and that cross-core traffic made 3×3 convolutions several times slower at times (benchmarks/RESULTS.md).
        parallelChunks(cols.chunks) { chunk, thread in
            let (m0, m1) = cols.range(chunk)
            let col = cols.buffer(thread)
            abl_im2col(x.base, x.h, x.w, inChannels, x.stride, kernel, kernel, stride, padding, oh, ow, m0, m1, col)
            sgemm(m: m1 - m0, n: outChannels, k: k, a: col, lda: k, b: weight.value, ldb: outChannels,
                  c: y.base + m0 * y.stride, ldc: y.stride)
        }
    }

    /// Accumulates dW += ∂L/∂W (unless the weight is frozen: then x's values are not read) and, when `dx` is
    /// given, writes (or adds, `accumulate`) ∂L/∂x. `inputBlock` as in `forward`; then dx (dense, not accumulated)
    /// is written in the same nChw16c layout.
    public func backward(_ x: FeatureMap, _ dy: FeatureMap, dx: FeatureMap?, accumulate: Bool = false, _ ws: Workspace,
                         inputBlock: Int = 0) {
        precondition(x.c == inChannels && dy.c == outChannels, "conv backward channels \(x.c)→\(dy.c), expected \(inChannels)→\(outChannels)")
        let (oh, ow) = outputSize(x.h, x.w)
        precondition(dy.n == x.n && dy.h == oh && dy.w == ow, "conv gradient \(dy.n)×\(dy.h)×\(dy.w), expected \(x.n)×\(oh)×\(ow)")
        if let dx {
            precondition(dx.n == x.n && dx.h == x.h && dx.w == x.w && dx.c == x.c,
                         "conv input gradient \(dx.n)×\(dx.h)×\(dx.w)×\(dx.c), expected \(x.n)×\(x.h)×\(x.w)×\(x.c)")
        }
        let weights = !weight.frozen
        guard weights || dx != nil else { return }
        if weights { GradientTermRecorder.active?.convolution(self, x, dy, inputBlock: inputBlock) }
        if isPointwise {
            // dW[Cin×Cout] += xᵀ · dy ; dx[rows×Cin] = dy · Wᵀ
            if weights {
                sgemm(transA: true, m: inChannels, n: outChannels, k: x.rows, a: x.base, lda: x.stride,
                      b: dy.base, ldb: dy.stride, beta: 1, c: weight.grad, ldc: outChannels)
            }
            if let dx {
                sgemm(transB: true, m: dx.rows, n: inChannels, k: outChannels, a: dy.base, lda: dy.stride,
                      b: weight.value, ldb: outChannels, beta: accumulate ? 1 : 0, c: dx.base, ldc: dx.stride)
            }
            return
        }
        if backwardOneDNN(x, dy, dx: dx, accumulate: accumulate, inputBlock: inputBlock, ws) { return }
        let k = patch
        // Stride-1 convolutions send the gradient back as another convolution (of dy with the flipped,
        // transposed kernel): a GEMM with K = KH·KW·Cout and N = Cin, instead of a K = Cout GEMM followed by
        // a col2im scatter of KH·KW·Cin floats per pixel.
        let viaFlippedConv = stride == 1 && padding <= kernel - 1
        if let dx, !viaFlippedConv {
            // Strided convolutions (the stem) scatter back with col2im, whose chunks overlap in dx: sequential.
            if !accumulate { zeroMap(dx) }
            let cols = ThreadColumns(ws, .convolutionColumns, rows: dy.rows, chunk: chunkRows(dy.rows), width: k, threads: 1)
            let col = cols.buffer(0)
            for chunk in 0..<cols.chunks {
                let (m0, m1) = cols.range(chunk)
                if weights {
                    im2col(x, oh, ow, m0, m1, col)
                    sgemm(transA: true, m: k, n: outChannels, k: m1 - m0, a: col, lda: k,
                          b: dy.base + m0 * dy.stride, ldb: dy.stride, beta: 1, c: weight.grad, ldc: outChannels)
                }
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
            return
        }
        // dW += colsᵀ · dy, thread-local like the forward: each thread accumulates its chunks into its own
        // partial dW, and the partials are added in thread order (deterministic for a given thread count).
        if weights {
            let cols = ThreadColumns(ws, .convolutionColumns, rows: dy.rows, chunk: chunkRows(dy.rows), width: k)
            let partials = ThreadPartials(ws, .convolutionWeightPartials, threads: cols.threads, count: k * outChannels)
            parallelChunks(cols.chunks) { chunk, thread in
                let (m0, m1) = cols.range(chunk)
                let col = cols.buffer(thread)
                abl_im2col(x.base, x.h, x.w, inChannels, x.stride, kernel, kernel, stride, padding, oh, ow, m0, m1, col)
                sgemm(transA: true, m: k, n: outChannels, k: m1 - m0, a: col, lda: k,
                      b: dy.base + m0 * dy.stride, ldb: dy.stride, beta: 1, c: partials.buffer(thread), ldc: outChannels)
            }
            partials.add(into: weight.grad)
        }
        if let dx { backwardDataAsConvolution(dy, dx, accumulate: accumulate, ws) }
    }

    /// dx = conv(dy, W'), W'[kh, kw, co, ci] = W[K−1−kh, K−1−kw, ci, co], padding K−1−p (stride 1 only).
    func backwardDataAsConvolution(_ dy: FeatureMap, _ dx: FeatureMap, accumulate: Bool, _ ws: Workspace) {
        let kk = kernel * kernel, cin = inChannels, cout = outChannels
        let flipped = ws.scratch(EngineScratch.flippedKernel, kk * cout * cin)
        for kh in 0..<kernel { for kw in 0..<kernel {
            let src = weight.value + ((kernel - 1 - kh) * kernel + (kernel - 1 - kw)) * cin * cout
            let dst = flipped + (kh * kernel + kw) * cout * cin
            for ci in 0..<cin { for co in 0..<cout { dst[co * cin + ci] = src[ci * cout + co] } }
        } }
        let k2 = kk * cout, pad = kernel - 1 - padding
        let cols = ThreadColumns(ws, .gradientColumns, rows: dx.rows, chunk: max(64, min(dx.rows, columnFloats / k2)),
                                 width: k2)
        parallelChunks(cols.chunks) { chunk, thread in
            let (m0, m1) = cols.range(chunk)
            let col = cols.buffer(thread)
            abl_im2col(dy.base, dy.h, dy.w, cout, dy.stride, kernel, kernel, 1, pad, dx.h, dx.w, m0, m1, col)
            sgemm(m: m1 - m0, n: cin, k: k2, a: col, lda: k2, b: flipped, ldb: cin,
                  beta: accumulate ? 1 : 0, c: dx.base + m0 * dx.stride, ldc: dx.stride)
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
