// Threads: GEMMs and convolutions run on OpenBLAS or oneDNN, and every other kernel splits its rows into
// fixed-size chunks run through `abl_parallel`, all on libgomp's thread pool (ablate links OpenBLAS's OpenMP
// build when it is installed; Debian's oneDNN is built with OpenMP), so after a GEMM the same two threads go on
// with the element-wise work instead of competing with spinning BLAS workers. Chunk boundaries depend only on
// the problem size, never on the thread count, and reductions combine per-chunk partials in chunk order:
// results are bit-identical run after run.
import CBLAS
import CDNNL
import CKernels
import Foundation

public enum Threads {
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount

    private static let configureDefault: Void = set(current)

    /// Applies the default configuration (all cores, subnormals flushed) unless `set` was called already.
    public static func ensureConfigured() { _ = configureDefault }

    /// Threads used by GEMM and the element-wise kernels (default: all cores).
    public static var count: Int { current }

    /// Sets the thread count for OpenBLAS and the engine's own kernels, and flushes subnormal floats to zero on
    /// those threads (as TensorFlow does by default): a few subnormal values in an SE gate's gradient made the
    /// GEMMs that read them several times slower, and values below 1.2e-38 carry no information for training.
    public static func set(_ n: Int) {
        current = max(1, n)
        openblas_set_num_threads(Int32(current))
        abl_set_openmp_threads(Int32(current)) // oneDNN sizes its parallel regions from OpenMP's default
        abl_flush_denormals(current)
    }
}

/// Runs `body(chunk)` for chunk in 0..<chunks on up to `Threads.count` threads. Each chunk must touch disjoint
/// output; the split into chunks is the caller's and must not depend on the thread count. Thread t takes chunks
/// t, t + T, t + 2T, … (static, so the same thread count gives the same assignment every time).
@inline(__always)
func parallelChunks(_ chunks: Int, _ body: (Int) -> Void) {
    parallelChunks(chunks) { chunk, _ in body(chunk) }
}

/// As `parallelChunks`, also passing the index of the thread running the chunk (0..<min(Threads.count, chunks)),
/// for per-thread scratch buffers.
@inline(__always)
func parallelChunks(_ chunks: Int, _ body: (_ chunk: Int, _ thread: Int) -> Void) {
    let threads = min(Threads.count, chunks)
    if threads <= 1 {
        for i in 0..<chunks { body(i, 0) }
        return
    }
    withoutActuallyEscaping(body) { body in
        var job = ParallelJob(body: body, chunks: chunks)
        withUnsafeMutablePointer(to: &job) { pointer in
            abl_parallel(threads, { context, thread, threads in
                let job = context!.assumingMemoryBound(to: ParallelJob.self).pointee
                var i = thread
                while i < job.chunks { job.body(i, thread); i += threads }
            }, pointer)
        }
    }
}

/// Threads `parallelChunks` uses for this many chunks.
func threadsFor(chunks: Int) -> Int { max(1, min(Threads.count, chunks)) }

private struct ParallelJob {
    let body: (Int, Int) -> Void
    let chunks: Int
}

/// Splits `rows` into chunks of `chunk` rows and runs `body(r0, r1)` over them in parallel.
@inline(__always)
public func parallelRows(_ rows: Int, chunk: Int = 1024, _ body: (Int, Int) -> Void) {
    let chunks = (rows + chunk - 1) / chunk
    parallelChunks(chunks) { i in body(i * chunk, min(rows, (i + 1) * chunk)) }
}

/// A per-channel reduction over rows: each fixed-size chunk of rows adds into its own `width`-double partial,
/// then partials are summed in chunk order (deterministic for any thread count).
func reduceRows(_ rows: Int, width: Int, outputs: Int, chunk: Int = 2048,
                _ body: (_ r0: Int, _ r1: Int, _ partials: [UnsafeMutablePointer<Double>]) -> Void) -> [[Double]] {
    let chunks = max(1, (rows + chunk - 1) / chunk)
    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: chunks * outputs * width)
    scratch.initialize(repeating: 0, count: chunks * outputs * width)
    defer { scratch.deallocate() }
    parallelChunks(chunks) { i in
        let base = scratch + i * outputs * width
        body(i * chunk, min(rows, (i + 1) * chunk), (0..<outputs).map { base + $0 * width })
    }
    var result = [[Double]](repeating: [Double](repeating: 0, count: width), count: outputs)
    for i in 0..<chunks {
        for o in 0..<outputs {
            let p = scratch + (i * outputs + o) * width
            for c in 0..<width { result[o][c] += p[c] }
        }
    }
    return result
}
