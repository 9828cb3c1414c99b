// Tensor: a float32 buffer with a shape. Activations are NHWC (channels fastest), so a 1×1 convolution is a
// plain GEMM over rows of N·H·W pixels, and a slice of channels is a strided row view (see `FeatureMap`).
import Foundation

/// A dense float32 tensor in row-major order, 64-byte aligned, owning its memory.
///
/// Shapes follow the engine's conventions: activations `[N, H, W, C]`, convolution weights `[KH, KW, Cin, Cout]`
/// (HWIO), linear weights `[out, in]` as in PyTorch. Reference types on purpose: a network hands the same buffer
/// to forward and backward without copies.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>

    /// Zero-initialised tensor.
    public init(_ shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        let bytes = max(64, (count * MemoryLayout<Float>.stride + 63) & ~63)
        // Big buffers (activations, im2col columns, the flat parameter arrays) are 2 MiB aligned and asked to be
        // backed by transparent huge pages: strided NHWC access touches many 4 KiB pages per pixel row, and with
        // small pages the same step ran markedly slower, depending on where the kernel happened to map it
        // (benchmarks/RESULTS.md).
        let huge = bytes >= Tensor.hugePageBytes
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: huge ? Tensor.hugePageBytes : 64)
        if huge { _ = madvise(raw, (bytes + Tensor.hugePageBytes - 1) & ~(Tensor.hugePageBytes - 1), MADV_HUGEPAGE) }
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.data = raw.bindMemory(to: Float.self, capacity: bytes / 4)
    }

    public convenience init(_ shape: [Int], _ values: [Float]) {
        self.init(shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { UnsafeMutableRawPointer(data).deallocate() }

    static let hugePageBytes = 2 << 20

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    public func zero() { data.update(repeating: 0, count: count) }
    public func fill(_ v: Float) { data.update(repeating: v, count: count) }
    public func copy(from other: Tensor) {
        precondition(other.count == count)
        data.update(from: other.data, count: count)
    }

    /// NHWC activation helpers.
    public var n: Int { shape[0] }
    public var h: Int { shape[1] }
    public var w: Int { shape[2] }
    public var c: Int { shape[shape.count - 1] }

    /// The first `n` images of an NHWC tensor as a feature map.
    public func map(batch n: Int) -> FeatureMap {
        precondition(shape.count == 4 && n <= shape[0], "batch \(n) of a tensor shaped \(shape)")
        return FeatureMap(data, n: n, h: shape[1], w: shape[2], c: shape[3], stride: shape[3])
    }

    /// The whole tensor as a feature map (NHWC, dense rows).
    public var map: FeatureMap {
        precondition(shape.count == 4, "feature map needs NHWC, got \(shape)")
        return FeatureMap(data, n: shape[0], h: shape[1], w: shape[2], c: shape[3], stride: shape[3])
    }
}

/// A view of `c` channels of an NHWC buffer whose rows are `stride` floats apart.
///
/// Dense blocks keep every layer's output in one buffer of `C_total` channels; a layer reads the prefix
/// `[0, c_in)` and writes its growth channels at offset `c_in`, both as views with `stride = C_total`, so
/// concatenation never copies.
public struct FeatureMap {
    public var base: UnsafeMutablePointer<Float>
    public var n: Int, h: Int, w: Int, c: Int
    public var stride: Int

    public init(_ base: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int, c: Int, stride: Int) {
        precondition(stride >= c)
        self.base = base; self.n = n; self.h = h; self.w = w; self.c = c; self.stride = stride
    }

    /// Number of pixel rows, N·H·W.
    public var rows: Int { n * h * w }

    /// Channels `[from, from + count)` of this view.
    public func channels(_ from: Int, _ count: Int) -> FeatureMap {
        precondition(from >= 0 && from + count <= c, "channel slice \(from)..<\(from + count) of \(c)")
        return FeatureMap(base + from, n: n, h: h, w: w, c: count, stride: stride)
    }

    /// The same memory seen as `n` images of `h×w` (used when a buffer is reused for a smaller stage).
    public var isDense: Bool { stride == c }
}

/// The layers' shape check at their public entry points: `y` has x's images and channels and the `expected`
/// height and width. A `precondition`, so it stays on in release builds too: a wrong shape here would read or
/// write outside a buffer through the kernels' raw pointers, and -O (never -Ounchecked) keeps it.
func checkShape(_ x: FeatureMap, _ y: FeatureMap, _ expected: (h: Int, w: Int), _ what: String) {
    precondition(y.n == x.n && y.c == x.c && y.h == expected.h && y.w == expected.w,
                 "\(what) \(y.n)×\(y.h)×\(y.w)×\(y.c), expected \(x.n)×\(expected.h)×\(expected.w)×\(x.c)")
}
