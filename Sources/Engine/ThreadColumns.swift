// Per-thread buffers for kernels that split rows into chunks and run a single-threaded GEMM on each chunk inside
// the parallel region (`Conv2D`'s im2col path, `FusedBottleneck`): each thread lays out its own chunk's columns
// and multiplies them itself, so they never travel between cores, and each thread sums its share of a weight
// gradient into its own partial, added in thread order afterwards.

/// Floats of im2col columns per chunk and thread.
let columnFloats = 1 << 20

/// Row chunks of an im2col GEMM and one column buffer per thread (allocated before the parallel region: the
/// workspace is not thread-safe). Chunk boundaries depend only on the sizes, never on the thread count.
struct ThreadColumns {
    let rows: Int, chunk: Int, chunks: Int, threads: Int
    let base: UnsafeMutablePointer<Float>
    let width: Int

    init(_ ws: Workspace, _ buffer: EngineScratch, rows: Int, chunk: Int, width: Int, threads: Int? = nil) {
        self.rows = rows; self.chunk = chunk; self.width = width
        chunks = (rows + chunk - 1) / chunk
        self.threads = threads ?? threadsFor(chunks: chunks)
        base = ws.scratch(buffer, self.threads * chunk * width)
    }

    func range(_ i: Int) -> (Int, Int) { (i * chunk, min(rows, (i + 1) * chunk)) }
    func buffer(_ thread: Int) -> UnsafeMutablePointer<Float> { base + thread * chunk * width }
}

/// One zeroed partial sum of `count` floats per thread (a weight gradient each thread accumulates over its own
/// chunks), added into the total in thread order: deterministic for a given thread count.
struct ThreadPartials {
    let threads: Int, count: Int
    let base: UnsafeMutablePointer<Float>

    init(_ ws: Workspace, _ buffer: EngineScratch, threads: Int, count: Int) {
        self.threads = threads; self.count = count
        base = ws.scratch(buffer, threads * count)
        base.update(repeating: 0, count: threads * count)
    }

    func buffer(_ thread: Int) -> UnsafeMutablePointer<Float> { base + thread * count }

    /// total += Σ over threads, thread 0 first.
    func add(into total: UnsafeMutablePointer<Float>) {
        for t in 0..<threads {
            let p = buffer(t)
            for i in 0..<count { total[i] += p[i] }
        }
    }
}
