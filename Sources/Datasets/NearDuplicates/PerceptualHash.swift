import Foundation

/// The 8 symmetries of a square: a transpose `t`, then mirrors of the columns `mx` and of the rows `my`. Flips and
/// quarter turns, the orientations augmentation produces, are all among them.
struct Orientation: Sendable {
    let transpose: Bool, mirrorColumns: Bool, mirrorRows: Bool

    static let all: [Orientation] = (0..<8).map {
        Orientation(transpose: $0 & 4 != 0, mirrorColumns: $0 & 1 != 0, mirrorRows: $0 & 2 != 0)
    }

    /// Black borders seen in this orientation: a transpose swaps rows for columns, a mirror swaps opposite edges.
    func apply(_ b: AppearanceSignature.Borders) -> AppearanceSignature.Borders {
        var out = transpose ? AppearanceSignature.Borders(top: b.left, bottom: b.right, left: b.top, right: b.bottom) : b
        if mirrorRows { swap(&out.top, &out.bottom) }
        if mirrorColumns { swap(&out.left, &out.right) }
        return out
    }

    /// The n×n `grid` (row-major) seen in this orientation.
    func apply<T>(_ grid: [T], side n: Int) -> [T] {
        var out = grid
        for y in 0..<n {
            for x in 0..<n {
                let sy = mirrorRows ? n - 1 - y : y, sx = mirrorColumns ? n - 1 - x : x
                out[y * n + x] = transpose ? grid[sx * n + sy] : grid[sy * n + sx]
            }
        }
        return out
    }
}

/// imagededup's pHash recipe: a 32×32 grey image, its 2-D DCT-II, the 8×8 lowest frequencies, one bit per
/// coefficient above their median. The hashes of all 8 orientations come from one DCT: mirroring the image
/// negates the odd frequencies of that axis and transposing it transposes the coefficients, exactly.
public enum PerceptualHash {
    public static let side = 32

    /// The 8 orientation hashes of a 32×32 grey image (row-major); element 0 is the image as it is.
    public static func orientations(grey32 pixels: [Float]) -> [UInt64] {
        precondition(pixels.count == side * side, "pHash needs a 32×32 grey image")
        let low = lowFrequencies(pixels)
        return Orientation.all.map { o in
            var block = [Float](repeating: 0, count: 64)
            for u in 0..<8 {
                for v in 0..<8 {
                    // Orientation.apply reads source (sy, sx); in the frequency domain a mirror is a sign.
                    let (su, sv) = o.transpose ? (v, u) : (u, v)
                    let sign: Float = ((o.mirrorRows && u % 2 == 1) != (o.mirrorColumns && v % 2 == 1)) ? -1 : 1
                    block[u * 8 + v] = sign * low[su * 8 + sv]
                }
            }
            return bits(block)
        }
    }

    /// Bits set where a coefficient exceeds the median of the 64.
    static func bits(_ block: [Float]) -> UInt64 {
        let sorted = block.sorted()
        let median = (sorted[31] + sorted[32]) / 2
        var hash: UInt64 = 0
        for (i, value) in block.enumerated() where value > median { hash |= 1 << UInt64(i) }
        return hash
    }

    /// The 8×8 lowest DCT-II coefficients of a 32×32 image (unnormalised, as scipy's default).
    static func lowFrequencies(_ pixels: [Float]) -> [Float] {
        let n = side
        var cosines = [Float](repeating: 0, count: 8 * n)
        for k in 0..<8 {
            for i in 0..<n {
                let angle = Double.pi * Double(k * (2 * i + 1)) / Double(2 * n)
                cosines[k * n + i] = Float(2 * cos(angle))
            }
        }
        // Rows first (32 rows × 8 frequencies), then columns.
        var rows = [Float](repeating: 0, count: n * 8)
        for y in 0..<n {
            for v in 0..<8 {
                var sum: Float = 0
                for x in 0..<n { sum += pixels[y * n + x] * cosines[v * n + x] }
                rows[y * 8 + v] = sum
            }
        }
        var out = [Float](repeating: 0, count: 64)
        for u in 0..<8 {
            for v in 0..<8 {
                var sum: Float = 0
                for y in 0..<n { sum += rows[y * 8 + v] * cosines[u * n + y] }
                out[u * 8 + v] = sum
            }
        }
        return out
    }

    /// The smallest Hamming distance between any orientation of `query` and `reference` (as it is).
    @inline(__always)
    public static func distance(_ query: [UInt64], _ reference: UInt64) -> Int {
        var best = 64
        for h in query { best = min(best, (h ^ reference).nonzeroBitCount) }
        return best
    }
}

/// Multi-index hashing (Norouzi et al.): split the 64 bits into `radius + 1` chunks; by the pigeonhole principle
/// two hashes within `radius` bits agree exactly on at least one chunk, so only hashes sharing a chunk are
/// compared. On large sets this replaces the all-pairs scan (2,142 × 8 × 2,142 bit counts take milliseconds;
/// 100,000 × 8 × 100,000 would take minutes).
public struct MultiIndexHashTable: Sendable {
    public let radius: Int
    let references: [UInt64]
    let chunks: [(shift: UInt64, mask: UInt64)]
    let tables: [[UInt64: [Int32]]]

    public init(references: [UInt64], radius: Int) {
        precondition((0..<64).contains(radius), "radius must be 0–63")
        self.radius = radius
        self.references = references
        let count = radius + 1
        var chunks: [(shift: UInt64, mask: UInt64)] = []
        var start = 0
        for c in 0..<count {
            let width = 64 / count + (c < 64 % count ? 1 : 0)
            chunks.append((UInt64(start), width == 64 ? UInt64.max : (UInt64(1) << UInt64(width)) - 1))
            start += width
        }
        self.chunks = chunks
        tables = chunks.map { chunk in
            var table: [UInt64: [Int32]] = [:]
            for (i, h) in references.enumerated() { table[(h >> chunk.shift) & chunk.mask, default: []].append(Int32(i)) }
            return table
        }
    }

    /// Indices of the references within `radius` of any of `hashes` (e.g. a query's 8 orientations), ascending.
    public func neighbours(of hashes: [UInt64]) -> [Int] {
        var found = Set<Int32>()
        for h in hashes {
            for (chunk, table) in zip(chunks, tables) {
                for i in table[(h >> chunk.shift) & chunk.mask] ?? [] where !found.contains(i) {
                    if (references[Int(i)] ^ h).nonzeroBitCount <= radius { found.insert(i) }
                }
            }
        }
        return found.map(Int.init).sorted()
    }
}
