// Matrix products. Row-major everywhere; leading dimensions let a GEMM read a channel prefix of a dense-block
// buffer (lda = C_total) or write a layer's growth channels into it (ldc = C_total).
import CBLAS
import CDNNL
import Foundation

/// Which library does the heavy arithmetic.
///
/// - `openblas`: OpenBLAS sgemm, and im2col + sgemm for every convolution that is not 1×1. The reference path:
///   simple enough to check by reading, and what the golden-file tests were first made to pass on.
/// - `onednn`: oneDNN's sgemm and its direct (JIT, AVX2/AVX-512) convolutions, faster than OpenBLAS on
///   DenseNet's GEMM shapes and than im2col + OpenBLAS on its 3×3 convolutions (benchmarks/RESULTS.md). Tests
///   check it against `openblas`. Which oneDNN (2.x for its AVX-512 Winograd kernels, 3.x elsewhere) is decided
///   once per process in C (Sources/CDNNL/include/abl_dnnl.h); `Libraries.oneDNN` names it.
///
/// The default is `onednn`; `ABLATE_BACKEND=openblas` in the environment (or `Backend.current = .openblas`)
/// selects the reference.
public enum Backend: String, CaseIterable, Sendable {
    case openblas, onednn

    nonisolated(unsafe) public static var current: Backend = {
        if let name = ProcessInfo.processInfo.environment["ABLATE_BACKEND"], let b = Backend(rawValue: name) { return b }
        return .onednn
    }()

    /// On `onednn`, 3×3 stride-1 convolutions use Winograd F(4×4, 3×3) where oneDNN has it (AVX-512 machines,
    /// channel counts in multiples of 16, i.e. every DenseNet-121 3×3 layer): 2.25× fewer multiplications.
    /// This is the trade cuDNN makes by default on GPUs; measured against the direct convolution on DenseNet's
    /// 56×56 128→32 layer its relative RMS error is 6e-7 (max 1e-6 of the output scale), the same order as
    /// summing in a different order, and every PyTorch golden file still passes within its tolerance.
    /// `ABLATE_WINOGRAD=0` turns it off.
    nonisolated(unsafe) public static var winograd: Bool =
        ProcessInfo.processInfo.environment["ABLATE_WINOGRAD"] != "0"

    /// Whether this machine's oneDNN has Winograd kernels (on x86-64, AVX-512 ones do, AVX2-only ones do not): a
    /// 3×3 16→16 convolution is planned once and asked which implementation it got. The probe assumes nothing
    /// about the processor, so it answers on arm64 too.
    public static let winogradAvailable: Bool = {
        guard let plan = abl_conv_create(1, 8, 8, 16, 16, 3, 1, 1, 1) else { return false }
        defer { abl_conv_destroy(plan) }
        guard let name = abl_conv_implementation(plan, Int32(ABL_CONV_FORWARD)) else { return false }
        return String(cString: name).contains("wino")
    }()

    /// What runs the arithmetic, for benchmark output and run records: `openblas`, `onednn`, or
    /// `onednn+winograd` only when Winograd is both allowed and available here (an AVX2-only machine runs
    /// direct convolutions even with `ABLATE_WINOGRAD` unset).
    public static var description: String {
        current == .onednn && winograd && winogradAvailable ? "onednn+winograd" : current.rawValue
    }
}

/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major.
@inline(__always)
public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // Nothing to multiply: C = beta · C.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    if Backend.current == .onednn,
       abl_dnnl_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The numeric libraries this process runs on, as a run records them (`Machine`).
public enum Libraries {
    /// The loaded oneDNN's version and library, e.g. "3.2.0 (libdnnl.so.3)" or "2.6.3 (libdnnl.so.2)" (which one:
    /// Sources/CDNNL/include/abl_dnnl.h), or "none" when neither could be loaded.
    public static var oneDNN: String { String(cString: abl_dnnl_version()) }

    /// The oneDNN major version the choice in abl_dnnl.h asks for here (2 or 3), before any fallback to the other.
    static var preferredOneDNNMajor: Int { Int(abl_dnnl_preferred_major()) }

    /// The oneDNN 3.x library file this build loads, nil when it was built without the 3.x headers.
    static var oneDNN3LibraryFile: String? { abl_dnnl3_library_file().map { String(cString: $0) } }

    /// OpenBLAS's version and the kernel set it chose for this processor, e.g. "0.3.21 Zen".
    public static var openBLAS: String {
        let config = String(cString: openblas_get_config())        // "OpenBLAS 0.3.21 DYNAMIC_ARCH … Zen MAX_THREADS=64"
        let version = config.split(separator: " ").dropFirst().first.map(String.init) ?? config
        return "\(version) \(String(cString: openblas_get_corename()))"
    }
}
