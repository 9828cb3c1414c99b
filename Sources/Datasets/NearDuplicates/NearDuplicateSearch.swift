import CNearDuplicate
import Dispatch

/// When two images count as near-duplicates: any one signal past its threshold. The defaults were chosen on the
/// monkeypox data, where the file names give the truth (docs/near-duplicates.md has the measurement).
public struct NearDuplicateThresholds: Codable, Equatable, Sendable {
    /// pHash bits that may differ (over the 8 orientations).
    public var hamming: Int
    /// Correlation of the 16×16 grey thumbnails (best orientation).
    public var thumbnail: Double
    /// Correlation of the rotation-invariant ring spectra.
    public var polar: Double
    /// Correlation of a black-bordered image's content with the same part of the other image.
    public var content: Double

    public static let standard = NearDuplicateThresholds(hamming: 2, thumbnail: 0.985, polar: 0.98, content: 0.94)

    public init(hamming: Int, thumbnail: Double, polar: Double, content: Double) {
        self.hamming = hamming; self.thumbnail = thumbnail; self.polar = polar; self.content = content
    }

    /// The sentence the audits print.
    public var summary: String {
        "pHash Hamming ≤ \(hamming) over 8 orientations, or correlation ≥ \(thumbnail) (thumbnail), "
            + "≥ \(polar) (rotation-invariant rings) or ≥ \(content) (content of a black-bordered copy)"
    }
}

/// How alike one query image is to one reference image, by each signal.
public struct PairScores: Equatable, Sendable {
    public let hamming: Int
    public let thumbnail: Float, polar: Float, content: Float

    /// The strongest correlation of the three; ranks pairs for display.
    public var similarity: Float { max(thumbnail, polar, content) }

    public func isNearDuplicate(_ t: NearDuplicateThresholds) -> Bool {
        hamming <= t.hamming || Double(thumbnail) >= t.thumbnail || Double(polar) >= t.polar
            || Double(content) >= t.content
    }

    /// Which signal decided (the first past its threshold), for the printed pairs.
    public func signal(_ t: NearDuplicateThresholds) -> String {
        if hamming <= t.hamming { return "phash" }
        if Double(thumbnail) >= t.thumbnail { return "thumbnail" }
        if Double(polar) >= t.polar { return "rings" }
        if Double(content) >= t.content { return "content" }
        return "none"
    }
}

/// Every query against every reference.
public enum NearDuplicateSearch {
    /// Beyond this many query × reference pairs only the hash signal is used (through `MultiIndexHashTable`): the
    /// correlations cost about 3,000 multiply-adds a pair, a minute per ~50 million pairs on two cores.
    public static let maxCorrelatedPairs = 50_000_000

    public struct QueryResult: Sendable {
        /// References that count as near-duplicates, with their scores.
        public let matches: [(reference: Int, scores: PairScores)]
        /// The most similar reference, near-duplicate or not (nil without references).
        public let closest: (reference: Int, scores: PairScores)?
    }

    public static func scores(_ q: AppearanceSignature, _ r: AppearanceSignature) -> PairScores {
        References([r]).scores(q, candidates: [0])[0]
    }

    /// Compares every query with every reference on all cores (queries in parallel, each writing its own slot).
    public static func run(queries: [AppearanceSignature], references: [AppearanceSignature],
                           thresholds: NearDuplicateThresholds = .standard) -> [QueryResult] {
        let correlate = queries.count * references.count <= maxCorrelatedPairs
        let table = correlate ? nil : MultiIndexHashTable(references: references.map { $0.hashes[0] }, radius: thresholds.hamming)
        let packed = References(references)
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<QueryResult?>.allocate(capacity: queries.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: queries.count) { i in
            let q = queries[i]
            let candidates = table?.neighbours(of: q.hashes) ?? Array(references.indices)
            let all = correlate ? packed.scores(q, candidates: candidates)
                : candidates.map { PairScores(hamming: PerceptualHash.distance(q.hashes, references[$0].hashes[0]),
                                              thumbnail: -1, polar: -1, content: -1) }
            var matches: [(reference: Int, scores: PairScores)] = []
            var closest: (reference: Int, scores: PairScores)?
            for (j, s) in zip(candidates, all) {
                if s.isNearDuplicate(thresholds) { matches.append((j, s)) }
                if closest.map({ Self.closer(s, than: $0.scores) }) ?? true { closest = (j, s) }
            }
            results[i] = QueryResult(matches: matches, closest: closest)
        }
        return results.map { $0! }
    }

    /// The references' orientation-0 hash, thumbnail and ring spectrum back to back, as the C loop reads them.
    struct References {
        let signatures: [AppearanceSignature]
        let hashes: [UInt64], thumbnails: [Float], polar: [Float]

        init(_ signatures: [AppearanceSignature]) {
            let t = AppearanceSignature.thumbnailSide * AppearanceSignature.thumbnailSide
            self.signatures = signatures
            hashes = signatures.map { $0.hashes[0] }
            thumbnails = signatures.flatMap { $0.thumbnails[0..<t] }
            polar = signatures.flatMap(\.polar)
        }

        /// `q` against the references `candidates` (all of them when `candidates` is every index, in order).
        func scores(_ q: AppearanceSignature, candidates: [Int]) -> [PairScores] {
            let count = signatures.count
            var hamming = [Int32](repeating: 64, count: count)
            var thumb = [Float](repeating: -1, count: count), ring = [Float](repeating: -1, count: count)
            let t = AppearanceSignature.thumbnailSide * AppearanceSignature.thumbnailSide
            nd_scores(q.hashes, q.thumbnails, Int32(q.hashes.count), Int32(t), q.polar, Int32(q.polar.count),
                      hashes, thumbnails, polar, Int32(count), &hamming, &thumb, &ring)
            return candidates.map { j in
                // Black fill dominates the outer rings of a shifted copy: two shifted images of different scenes
                // correlate there. The content signal covers black-bordered images instead.
                let bordered = !q.content.isEmpty || !signatures[j].content.isEmpty
                return PairScores(hamming: Int(hamming[j]), thumbnail: thumb[j], polar: bordered ? -1 : ring[j],
                                  content: q.contentCorrelation(signatures[j]))
            }
        }
    }

    /// Higher correlation first, then fewer differing bits.
    static func closer(_ a: PairScores, than b: PairScores) -> Bool {
        a.similarity != b.similarity ? a.similarity > b.similarity : a.hamming < b.hamming
    }
}
