import CNearDuplicate
import Dispatch

/// When two images count as near-duplicates: the thumbnails correlate, or the ring spectra do and the ring detail
/// confirms it at some rotation, or a black-bordered image's content matches the same part of the other, or one
/// image matches the other's enlarged centre. pHash
/// does not decide on its own (on simple images, unrelated ones share hashes: docs/near-duplicates.md); it finds
/// the candidates when the sets are too large to compare every pair. The defaults were chosen on the monkeypox
/// data, where the file names give the truth, and checked against images `ablate data synth` draws.
public struct NearDuplicateThresholds: Codable, Equatable, Sendable {
    /// pHash bits that may differ (over the 8 orientations) for a pair to be a candidate when only candidates are
    /// compared, and for the "by pHash" count.
    public var hamming: Int
    /// Correlation of the 16×16 grey thumbnails (best orientation).
    public var thumbnail: Double
    /// Correlation of the rotation-invariant ring spectra ...
    public var polar: Double
    /// ... and of the ring detail at the best rotation, which must confirm it. nil in records written before the
    /// ring detail existed, whose rule was different (`summary` states it).
    public var rotation: Double?
    /// Correlation of a black-bordered image's content with the same part of the other image.
    public var content: Double
    /// Correlation of one image's thumbnail with the other's enlarged centre (a zoomed copy); nil in records
    /// written before it existed.
    public var zoom: Double?

    public static let standard = NearDuplicateThresholds(hamming: 2, thumbnail: 0.985, polar: 0.98, rotation: 0.75,
                                                         content: 0.94, zoom: 0.985)

    public init(hamming: Int, thumbnail: Double, polar: Double, rotation: Double?, content: Double, zoom: Double?) {
        self.hamming = hamming; self.thumbnail = thumbnail; self.polar = polar; self.rotation = rotation
        self.content = content; self.zoom = zoom
    }

    /// The sentence the audits print: the rule the record was made with.
    public var summary: String {
        guard let rotation else {
            return "pHash Hamming ≤ \(hamming) over 8 orientations, or correlation ≥ \(thumbnail) (thumbnail), "
                + "≥ \(polar) (rotation-invariant rings) or ≥ \(content) (content of a black-bordered copy)"
        }
        return "correlation ≥ \(thumbnail) (thumbnail, 8 orientations), ≥ \(polar) (rotation-invariant rings) confirmed by "
            + "≥ \(rotation) (ring detail at the best rotation), ≥ \(content) (content of a black-bordered copy)"
            + (zoom.map { " or ≥ \($0) (one image against the other's enlarged centre)" } ?? "")
    }
}

/// How alike one query image is to one reference image, by each signal.
public struct PairScores: Equatable, Sendable {
    public let hamming: Int
    public let thumbnail: Float, polar: Float, content: Float
    /// The ring detail's correlation at the best rotation; -1 where the ring spectra are too far apart to ask.
    public let rotation: Float
    /// One image's thumbnail against the other's enlarged centre (best scale and orientation).
    public let zoom: Float

    public init(hamming: Int, thumbnail: Float, polar: Float, rotation: Float = -1, content: Float, zoom: Float = -1) {
        self.hamming = hamming; self.thumbnail = thumbnail; self.polar = polar; self.rotation = rotation
        self.content = content; self.zoom = zoom
    }

    /// The strongest correlation of the four; ranks pairs for display.
    public var similarity: Float { max(thumbnail, polar, content, zoom) }

    public func isNearDuplicate(_ t: NearDuplicateThresholds) -> Bool { signal(t) != "none" }

    /// Which signal decided (the first past its threshold), for the printed pairs.
    public func signal(_ t: NearDuplicateThresholds) -> String {
        if Double(thumbnail) >= t.thumbnail { return "thumbnail" }
        if Double(polar) >= t.polar && Double(rotation) >= t.rotation ?? -1 { return "rings" }
        if Double(content) >= t.content { return "content" }
        if Double(zoom) >= t.zoom ?? 2 { return "zoom" }
        return "none"
    }
}

/// Every query against every reference, or against its pHash candidates when the sets are large.
public enum NearDuplicateSearch {
    /// Beyond this many query × reference pairs, only the references within `hamming` pHash bits of a query
    /// (found through `MultiIndexHashTable`) are compared: the correlations cost about 19,000 multiply-adds a
    /// pair (most of them the zoom signal's), 1.5–2 µs on two cores, so 50 million pairs take about 1.5 minutes.
    public static let maxCorrelatedPairs = 50_000_000

    /// The ring detail is compared only where the ring spectra correlate at least this much (it costs a
    /// correlation per rotation).
    static let ringDetailFloor: Float = 0.95

    public struct QueryResult: Sendable {
        /// References that count as near-duplicates, with their scores.
        public let matches: [(reference: Int, scores: PairScores)]
        /// The most similar reference, near-duplicate or not (nil without references or candidates).
        public let closest: (reference: Int, scores: PairScores)?
    }

    public static func scores(_ q: AppearanceSignature, _ r: AppearanceSignature) -> PairScores {
        References([r]).scores(q, candidates: [0])[0]
    }

    /// True when `run` compares only pHash candidates for sets of these sizes.
    public static func comparesCandidatesOnly(queries: Int, references: Int) -> Bool {
        queries * references > maxCorrelatedPairs
    }

    /// Compares every query with every reference on all cores (queries in parallel, each writing its own slot).
    public static func run(queries: [AppearanceSignature], references: [AppearanceSignature],
                           thresholds: NearDuplicateThresholds = .standard) -> [QueryResult] {
        let candidatesOnly = comparesCandidatesOnly(queries: queries.count, references: references.count)
        let table = candidatesOnly ? MultiIndexHashTable(references: references.map { $0.hashes[0] }, radius: thresholds.hamming) : nil
        let packed = References(references)
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<QueryResult?>.allocate(capacity: queries.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: queries.count) { i in
            let q = queries[i]
            let candidates = table?.neighbours(of: q.hashes) ?? Array(references.indices)
            var matches: [(reference: Int, scores: PairScores)] = []
            var closest: (reference: Int, scores: PairScores)?
            for (j, s) in zip(candidates, packed.scores(q, candidates: candidates)) {
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
        let hashes: [UInt64], thumbnails: [Float], polar: [Float], centres: [Float]

        init(_ signatures: [AppearanceSignature]) {
            let t = AppearanceSignature.thumbnailSide * AppearanceSignature.thumbnailSide
            self.signatures = signatures
            hashes = signatures.map { $0.hashes[0] }
            thumbnails = signatures.flatMap { $0.thumbnails[0..<t] }
            polar = signatures.flatMap(\.polar)
            centres = signatures.flatMap(\.centres)
        }

        /// `q` against the references `candidates` (ascending; all of them in one pass when that is every index).
        func scores(_ q: AppearanceSignature, candidates: [Int]) -> [PairScores] {
            let t = AppearanceSignature.thumbnailSide * AppearanceSignature.thumbnailSide, p = q.polar.count
            let all = candidates.count == signatures.count
            let count = all ? signatures.count : candidates.count
            var hamming = [Int32](repeating: 64, count: count)
            var thumb = [Float](repeating: -1, count: count), ring = [Float](repeating: -1, count: count)
            var zoom = [Float](repeating: -1, count: count)
            let scales = AppearanceSignature.centreScales.count, queryCentres = q.orientedCentres
            let orientations = Int32(q.hashes.count)
            hashes.withUnsafeBufferPointer { h in thumbnails.withUnsafeBufferPointer { th in
            polar.withUnsafeBufferPointer { po in centres.withUnsafeBufferPointer { ce in
                // Every reference in one pass, or each candidate as a one-reference pass at its offset.
                let passes = all ? [(reference: 0, count: count, slot: 0)] : candidates.enumerated().map { ($1, 1, $0) }
                for (j, n, slot) in passes {
                    nd_scores(q.hashes, q.thumbnails, orientations, Int32(t), q.polar, Int32(p),
                              h.baseAddress! + j, th.baseAddress! + j * t, po.baseAddress! + j * p, Int32(n),
                              &hamming[slot], &thumb[slot], &ring[slot])
                    nd_zoom_scores(q.thumbnails, queryCentres, orientations, Int32(scales), Int32(t),
                                   th.baseAddress! + j * t, ce.baseAddress! + j * scales * t, Int32(n), &zoom[slot])
                }
            } } } }
            return candidates.enumerated().map { n, j in
                let r = signatures[j]
                // Black fill dominates the outer rings of a shifted copy: two shifted images of different scenes
                // correlate there. The content signal covers black-bordered images instead.
                let bordered = !q.content.isEmpty || !r.content.isEmpty
                let polar = bordered ? -1 : ring[n]
                let rotation = polar >= NearDuplicateSearch.ringDetailFloor
                    ? nd_rotation_correlation(q.ringDetail, r.ringDetail, Int32(AppearanceSignature.rings),
                                              Int32(AppearanceSignature.ringSamples))
                    : -1
                return PairScores(hamming: Int(hamming[n]), thumbnail: thumb[n], polar: polar, rotation: rotation,
                                  content: q.contentCorrelation(r), zoom: zoom[n])
            }
        }
    }

    /// Higher correlation first, then fewer differing bits.
    static func closer(_ a: PairScores, than b: PairScores) -> Bool {
        a.similarity != b.similarity ? a.similarity > b.similarity : a.hamming < b.hamming
    }
}
