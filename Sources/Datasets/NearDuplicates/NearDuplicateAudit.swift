import Dispatch
import Foundation

/// Near-duplicates across the parts of a split, found by appearance alone (no file names): for each pair of parts
/// (test against train; validation against train and test when there is a validation part), how many images of
/// the first have a near-duplicate in the second, and the closest pairs. Codable for the run record; the JSON keys
/// are snake_case.
public struct NearDuplicateAudit: Codable, Equatable, Sendable {
    public let thresholds: NearDuplicateThresholds
    public let comparisons: [NearDuplicateComparison]
    /// True when the sets were too large to compare every pair: only pairs within `thresholds.hamming` pHash bits
    /// were compared (before the ring detail existed: only pHash was).
    public let hashOnly: Bool

    enum CodingKeys: String, CodingKey {
        case thresholds, comparisons
        case hashOnly = "hash_only"
    }

    public init(thresholds: NearDuplicateThresholds, comparisons: [NearDuplicateComparison], hashOnly: Bool) {
        self.thresholds = thresholds; self.comparisons = comparisons; self.hashOnly = hashOnly
    }

    /// Audits the parts of `split` (indices into `cache`).
    public init(cache: ImageCache, split: DatasetSplit, thresholds: NearDuplicateThresholds = .standard,
                closestPairs: Int = NearDuplicateComparison.keptPairs) {
        let signatures = Self.signatures(cache)
        let paths = cache.files.map(\.path)
        func part(_ indices: [Int]) -> (signatures: [AppearanceSignature], paths: [String]) {
            (indices.map { signatures[$0] }, indices.map { paths[$0] })
        }
        var pairs = [("test", split.test, "train", split.train)]
        if !split.validation.isEmpty {
            pairs += [("validation", split.validation, "train", split.train), ("test", split.test, "validation", split.validation)]
        }
        let comparisons = pairs.map { q, qi, r, ri in
            NearDuplicateComparison(queryName: q, queries: part(qi), referenceName: r, references: part(ri),
                                    thresholds: thresholds, closestPairs: closestPairs)
        }
        self.init(thresholds: thresholds, comparisons: comparisons,
                  hashOnly: pairs.contains { NearDuplicateSearch.comparesCandidatesOnly(queries: $0.1.count, references: $0.3.count) })
    }

    /// The test-against-train comparison (every split has one).
    public var testAgainstTrain: NearDuplicateComparison? {
        comparisons.first { $0.queries == "test" && $0.references == "train" }
    }

    /// Signatures of every cached image, on all cores.
    public static func signatures(_ cache: ImageCache) -> [AppearanceSignature] {
        nonisolated(unsafe) let out = UnsafeMutableBufferPointer<AppearanceSignature?>.allocate(capacity: cache.count)
        out.initialize(repeating: nil)
        defer { out.deallocate() }
        DispatchQueue.concurrentPerform(iterations: cache.count) { i in
            out[i] = AppearanceSignature(rgb: cache.pixels(of: i), width: cache.size, height: cache.size)
        }
        return out.map { $0! }
    }
}

/// One set of images (`queries`) against another (`references`).
public struct NearDuplicateComparison: Codable, Equatable, Sendable {
    /// How many of the closest pairs a record keeps.
    public static let keptPairs = 12

    public let queries: String
    public let references: String
    public let queryFiles: Int
    public let referenceFiles: Int
    /// Query images with at least one near-duplicate among the references.
    public let flagged: Int
    /// Of those, the ones within `thresholds.hamming` pHash bits of their match (what pHash alone would find).
    public let flaggedByHash: Int
    /// The query images' closest references, most similar first (near-duplicates or not).
    public let closest: [NearDuplicatePair]

    enum CodingKeys: String, CodingKey {
        case queries, references, flagged, closest
        case queryFiles = "query_files"
        case referenceFiles = "reference_files"
        case flaggedByHash = "flagged_by_hash"
    }

    public init(queries: String, references: String, queryFiles: Int, referenceFiles: Int, flagged: Int,
                flaggedByHash: Int, closest: [NearDuplicatePair]) {
        self.queries = queries; self.references = references; self.queryFiles = queryFiles
        self.referenceFiles = referenceFiles; self.flagged = flagged; self.flaggedByHash = flaggedByHash
        self.closest = closest
    }

    public init(queryName: String, queries: (signatures: [AppearanceSignature], paths: [String]),
                referenceName: String, references: (signatures: [AppearanceSignature], paths: [String]),
                thresholds: NearDuplicateThresholds = .standard, closestPairs: Int = keptPairs) {
        let results = NearDuplicateSearch.run(queries: queries.signatures, references: references.signatures,
                                              thresholds: thresholds)
        let closest = results.enumerated().compactMap { i, result in result.closest.map { (i, $0.reference, $0.scores) } }
            .sorted { NearDuplicateSearch.closer($0.2, than: $1.2) }
            .prefix(closestPairs)
            .map { q, r, s in
                NearDuplicatePair(query: queries.paths[q], reference: references.paths[r], scores: s, thresholds: thresholds)
            }
        self.init(queries: queryName, references: referenceName, queryFiles: queries.paths.count,
                  referenceFiles: references.paths.count, flagged: results.filter { !$0.matches.isEmpty }.count,
                  flaggedByHash: results.filter { $0.matches.contains { $0.scores.hamming <= thresholds.hamming } }.count,
                  closest: Array(closest))
    }

    /// "test images with a near-duplicate in train: N of M"
    public var sentence: String {
        "\(queries) images with a near-duplicate in \(references): \(flagged) of \(queryFiles)"
    }
}

/// A query image and its closest reference.
public struct NearDuplicatePair: Codable, Equatable, Sendable {
    public let query: String
    public let reference: String
    public let hamming: Int
    /// The strongest of the correlations (thumbnail, ring spectra, content, zoom).
    public let similarity: Double
    /// The signal that flagged the pair (`thumbnail`, `rings`, `content`, `zoom`; `phash` in records made before
    /// pHash stopped deciding alone), or `none`.
    public let signal: String

    public init(query: String, reference: String, hamming: Int, similarity: Double, signal: String) {
        self.query = query; self.reference = reference; self.hamming = hamming; self.similarity = similarity
        self.signal = signal
    }

    init(query: String, reference: String, scores: PairScores, thresholds: NearDuplicateThresholds) {
        // Rounded so records compare equal across runs and machines that differ in the last float bits.
        self.init(query: query, reference: reference, hamming: scores.hamming,
                  similarity: (Double(scores.similarity) * 10_000).rounded() / 10_000, signal: scores.signal(thresholds))
    }

    public var isNearDuplicate: Bool { signal != "none" }
}
