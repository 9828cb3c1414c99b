// Scratch memory reused across layers and steps: a training step allocates nothing once the first step has
// sized the buffers (no page faults from fresh mmaps every step).

/// The name of one scratch buffer of a `Workspace`. Each module lists the buffers it uses as the cases of one
/// enum (`EngineScratch` below; `DenseNetScratch` and `ResNetScratch` in Models), so that a misspelt name is a
/// compile error instead of a second buffer, and every use of a buffer is a reference the compiler can find.
/// Buffers named by different types never share memory, whatever their cases are called.
public protocol ScratchBuffer: Hashable, Sendable {}

/// Growable, 64-byte aligned scratch buffers, one per `ScratchBuffer` value.
///
/// Contents are not preserved between users: a caller gets the buffer as its last user left it (or zeros when
/// it was just grown) and must write before it reads. Two uses of the same buffer must therefore never overlap
/// in time; uses of different buffers may. Not thread-safe: take buffers before a parallel region.
public final class Workspace {
    private var slots: [AnyHashable: Tensor] = [:]

    public init() {}

    /// Buffer `buffer`, at least `count` floats (grown, never shrunk).
    public func scratch<B: ScratchBuffer>(_ buffer: B, _ count: Int) -> UnsafeMutablePointer<Float> {
        let key = AnyHashable(buffer)
        if let t = slots[key], t.count >= count { return t.data }
        let t = Tensor([max(count, 16)])
        slots[key] = t
        return t.data
    }

    /// Buffer `buffer` as a dense NHWC map of `n` images of `h×w` with `c` channels.
    public func map<B: ScratchBuffer>(_ buffer: B, n: Int, h: Int, w: Int, c: Int) -> FeatureMap {
        FeatureMap(scratch(buffer, n * h * w * c), n: n, h: h, w: w, c: c, stride: c)
    }

    /// Buffer `buffer` as a dense map with the images and sides of `m` and `c` channels (default: `m`'s).
    public func map<B: ScratchBuffer>(_ buffer: B, like m: FeatureMap, c: Int? = nil) -> FeatureMap {
        map(buffer, n: m.n, h: m.h, w: m.w, c: c ?? m.c)
    }

    /// Bytes held by all scratch buffers.
    public var bytes: Int { slots.values.reduce(0) { $0 + $1.count * 4 } }
}

/// The Engine's own scratch buffers.
enum EngineScratch: ScratchBuffer {
    /// im2col columns of a convolution's input, one row chunk per thread (`Conv2D` on the `openblas` path:
    /// forward and weight gradient).
    case convolutionColumns
    /// im2col columns of a convolution's output gradient, one row chunk per thread: the input gradient of a
    /// stride-1 convolution computed as a convolution with the flipped kernel (`openblas` path).
    case gradientColumns
    /// The kernel flipped and transposed for that input gradient, `[KH, KW, Cout, Cin]`.
    case flippedKernel
    /// Per-thread partial weight gradients of an im2col convolution, `[threads, KH·KW·Cin, Cout]`.
    case convolutionWeightPartials
    /// BN-ReLU output of one row chunk per thread in `FusedBottleneck`, `[threads, rows, C_in]`.
    case bottleneckActivations
    /// Per-thread partial weight gradients of `FusedBottleneck.weightGradient`, `[threads, C_in, C_out]`.
    case bottleneckWeightPartials
    /// A dense copy of a channel slice that oneDNN reads: the convolution's input `x`.
    case oneDNNInput
    /// A dense copy of a channel slice that oneDNN reads: the output gradient `dy`.
    case oneDNNOutputGradient
    /// oneDNN's dense output, copied into the channel slice `y` afterwards.
    case oneDNNOutput
    /// oneDNN's dense input gradient, copied or added into `dx` afterwards.
    case oneDNNInputGradient
}
