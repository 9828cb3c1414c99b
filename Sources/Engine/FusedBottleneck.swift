// BN-ReLU followed by a 1×1 convolution (a dense layer's bottleneck), fused in row chunks: each thread
// normalises a chunk of rows into its own cache-sized buffer and multiplies it right away (single-threaded GEMM
// inside the parallel region), so the normalised activations never travel to memory and back. That is one
// write and one read of N·H·W·C_in floats saved per layer in the forward pass and again in the backward pass
// (where the same activations are recomputed for the weight gradient); faster than the two passes on
// DenseNet-121's bottleneck shapes (figures in benchmarks/RESULTS.md). Results are deterministic for a given
// thread count: chunk boundaries depend only on the sizes, and per-thread weight-gradient partials are added in
// thread order.
import CKernels

public enum FusedBottleneck {
    /// Rows per chunk: with C_in ≤ 1024 the buffer stays ≤ 1 MB per thread (L2-sized).
    static func chunkRows(_ cin: Int) -> Int { max(64, min(1024, (1 << 18) / max(cin, 1))) }

    /// y = conv(relu(bn(x))). `bn` must have been prepared for `x` (`BatchNorm2D.prepare`).
    /// Shapes: x [N, H, W, C_in] (may be a channel prefix of a wider buffer) → y [N, H, W, C_out] (dense or a slice).
    /// `epilogue(r0, r1)` runs on the thread that computed rows [r0, r1) of y, right after them, while they are in
    /// cache (every row exactly once, chunks in any order).
    public static func forward(_ bn: BatchNorm2D, _ conv: Conv2D, _ x: FeatureMap, _ y: FeatureMap, _ ws: Workspace,
                               epilogue: ((Int, Int) -> Void)? = nil) {
        precondition(conv.isPointwise && x.c == conv.inChannels && y.c == conv.outChannels && bn.channels == x.c)
        bn.requireSaved(training: false)
        let cin = x.c, cout = y.c
        let cols = ThreadColumns(ws, .bottleneckActivations, rows: x.rows, chunk: chunkRows(cin), width: cin)
        let (scale, shift, weight) = (bn.scale, bn.shift, conv.weight.value)
        parallelChunks(cols.chunks) { chunk, thread in
            let (r0, r1) = cols.range(chunk)
            let act = cols.buffer(thread)
            abl_scale_shift(x.base + r0 * x.stride, 0, r1 - r0, cin, x.stride, scale, shift, 1, act, cin)
            sgemm(m: r1 - r0, n: cout, k: cin, a: act, lda: cin, b: weight, ldb: cout,
                  c: y.base + r0 * y.stride, ldc: y.stride)
            epilogue?(r0, r1)
        }
    }

    /// dW += relu(bn(x))ᵀ · dy, recomputing the activations chunk by chunk with `bn`'s forward statistics; nothing
    /// when the convolution's weight is frozen.
    public static func weightGradient(_ bn: BatchNorm2D, _ conv: Conv2D, _ x: FeatureMap, _ dy: FeatureMap, _ ws: Workspace) {
        precondition(conv.isPointwise && x.c == conv.inChannels && dy.c == conv.outChannels && x.rows == dy.rows)
        bn.requireSaved(training: true)
        guard !conv.weight.frozen else { return }
        let cin = x.c, cout = dy.c
        GradientTermRecorder.active?.pointwise(conv, activations: { r, c in
            max(0, x.base[r * x.stride + c] * bn.scale[c] + bn.shift[c])
        }, rows: x.rows, dy)
        let cols = ThreadColumns(ws, .bottleneckActivations, rows: x.rows, chunk: chunkRows(cin), width: cin)
        let partials = ThreadPartials(ws, .bottleneckWeightPartials, threads: cols.threads, count: cin * cout)
        let (scale, shift) = (bn.scale, bn.shift)
        parallelChunks(cols.chunks) { chunk, thread in
            let (r0, r1) = cols.range(chunk)
            let act = cols.buffer(thread)
            abl_scale_shift(x.base + r0 * x.stride, 0, r1 - r0, cin, x.stride, scale, shift, 1, act, cin)
            sgemm(transA: true, m: cin, n: cout, k: r1 - r0, a: act, lda: cin, b: dy.base + r0 * dy.stride,
                  ldb: dy.stride, beta: 1, c: partials.buffer(thread), ldc: cout)
        }
        partials.add(into: conv.weight.grad)
    }

    /// Backward to the input of BN-ReLU → 1×1 conv, given dy = ∂L/∂(conv output): `da` receives
    /// ∂L/∂(BN-ReLU output) = dy · Wᵀ, computed in row chunks, and BN's backward sums are taken from each chunk
    /// while it is still in cache (one read of `da` from memory saved); then dx (= or += when `accumulate`; none
    /// when nil) ∂L/∂x and BN's dγ, dβ. The weight gradient is `weightGradient`'s job. A frozen BN needs no sums.
    public static func backwardData(_ bn: BatchNorm2D, _ conv: Conv2D, _ x: FeatureMap, _ dy: FeatureMap,
                                    da: FeatureMap, dx: FeatureMap?, accumulate: Bool) {
        precondition(conv.isPointwise && x.c == conv.inChannels && dy.c == conv.outChannels && bn.channels == x.c)
        precondition(da.c == x.c && da.rows == x.rows && dy.rows == x.rows && (dx.map { $0.c == x.c && $0.rows == x.rows } ?? true))
        let cin = x.c, cout = dy.c, rows = x.rows
        let chunk = chunkRows(cin), chunks = (rows + chunk - 1) / chunk
        if bn.frozen {
            guard let dx else { return }
            let weight = conv.weight.value
            parallelChunks(chunks) { i in
                let r0 = i * chunk, r1 = min(rows, r0 + chunk)
                sgemm(transB: true, m: r1 - r0, n: cin, k: cout, a: dy.base + r0 * dy.stride, lda: dy.stride,
                      b: weight, ldb: cout, c: da.base + r0 * da.stride, ldc: da.stride)
            }
            bn.backward(x, da, dx, relu: true, accumulate: accumulate)
            return
        }
        // Per-chunk partial sums, added in chunk order below: deterministic for any thread count.
        let partials = UnsafeMutablePointer<Double>.allocate(capacity: chunks * 2 * cin)
        partials.initialize(repeating: 0, count: chunks * 2 * cin)
        defer { partials.deallocate() }
        let (scale, shift, mean, weight) = (bn.scale, bn.shift, bn.mean, conv.weight.value)
        parallelChunks(chunks) { i in
            let r0 = i * chunk, r1 = min(rows, r0 + chunk)
            sgemm(transB: true, m: r1 - r0, n: cin, k: cout, a: dy.base + r0 * dy.stride, lda: dy.stride,
                  b: weight, ldb: cout, c: da.base + r0 * da.stride, ldc: da.stride)
            let p = partials + i * 2 * cin
            abl_bn_backward_sums(x.base, x.stride, da.base, da.stride, r0, r1, cin, scale, shift, 1, mean, p, p + cin)
        }
        var sums = [[Double]](repeating: [Double](repeating: 0, count: cin), count: 2)
        for i in 0..<chunks {
            for o in 0..<2 {
                let p = partials + (i * 2 + o) * cin
                for c in 0..<cin { sums[o][c] += p[c] }
            }
        }
        bn.backward(x, da, dx, sums: sums, relu: true, accumulate: accumulate)
    }
}

