import Foundation

/// Timings of the data pipeline on one dataset (seconds; medians over repeats). Codable for the run record.
public struct DataBenchmarkResult: Codable, Equatable, Sendable {
    public let root: String
    public let size: Int
    public let images: Int
    public let skippedFiles: Int
    public let skipped: [SkippedFile]
    public let threads: Int
    public let batchSize: Int
    public let augmented: Bool
    public let scanSeconds: Double
    /// First epoch: read + decode + resize every image into the cache (all cores).
    public let decodeSeconds: [Double]
    public let decodeMedianSeconds: Double
    /// Later epochs: assemble every batch from the cache (augment + normalise into NHWC floats), no prefetch overlap.
    public let assemblySecondsPerEpoch: [Double]
    public let assemblyMedianSecondsPerEpoch: Double
    /// The near-duplicate audit's two stages on the decoded images: every image's appearance signature (all cores),
    /// then the comparison of a random 20% against the other 80% (`NearDuplicateSearch.run`).
    public let signatureSeconds: [Double]
    public let signatureMedianSeconds: Double
    public let nearDuplicateSearchSeconds: Double
    public let nearDuplicatePairs: Int

    enum CodingKeys: String, CodingKey {
        case root, size, images, threads, skipped
        case skippedFiles = "skipped_files"
        case batchSize = "batch_size"
        case augmented
        case scanSeconds = "scan_seconds"
        case decodeSeconds = "decode_seconds"
        case decodeMedianSeconds = "decode_median_seconds"
        case assemblySecondsPerEpoch = "assembly_seconds_per_epoch"
        case assemblyMedianSecondsPerEpoch = "assembly_median_seconds_per_epoch"
        case signatureSeconds = "signature_seconds"
        case signatureMedianSeconds = "signature_median_seconds"
        case nearDuplicateSearchSeconds = "near_duplicate_search_seconds"
        case nearDuplicatePairs = "near_duplicate_pairs"
    }
}

public enum DataBenchmark {
    /// Decodes the dataset `repeats` times (fresh cache each time) and assembles `epochs` epochs of batches.
    public static func run(root: String, options: ImageLoadOptions, batchSize: Int = 32, epochs: Int = 3,
                           repeats: Int = 3, augmentation: AugmentationConfig? = .standard) throws -> DataBenchmarkResult {
        guard repeats >= 1, epochs >= 1, batchSize >= 1 else {
            throw DatasetError.invalidConfiguration("repeats, epochs and batch size must be at least 1")
        }
        var clock = Date()
        let index = try ImageFolder.scan(root)
        let scanSeconds = -clock.timeIntervalSinceNow
        var decodeTimes: [Double] = []
        var cache: ImageCache? = nil
        for _ in 0..<repeats {
            cache = nil   // free the previous cache first: measure one cache's memory traffic, not two
            clock = Date()
            cache = try ImageCache(index: index, options: options)
            decodeTimes.append(-clock.timeIntervalSinceNow)
        }
        let loaded = cache!
        let images = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * loaded.bytesPerImage)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        defer { images.deallocate(); labels.deallocate() }
        var assemblyTimes: [Double] = []
        for epoch in 0..<epochs {
            clock = Date()
            for start in stride(from: 0, to: loaded.count, by: batchSize) {
                let members = Array(start..<min(start + batchSize, loaded.count))
                loaded.assembleBatch(members, epoch: epoch, augmentation: augmentation, normalization: .imagenet,
                                     images: images, labels: labels)
            }
            assemblyTimes.append(-clock.timeIntervalSinceNow)
        }
        var signatureTimes: [Double] = []
        var signatures: [AppearanceSignature] = []
        for _ in 0..<repeats {
            clock = Date()
            signatures = NearDuplicateAudit.signatures(loaded)
            signatureTimes.append(-clock.timeIntervalSinceNow)
        }
        // The split a run makes by default (random 80/20), so the pair count is the one `data audit` compares.
        let split = try DatasetSplit(files: loaded.files, config: SplitConfig(strategy: .random, testFraction: 0.2,
                                                                              seed: 0, groupKey: nil))
        clock = Date()
        _ = NearDuplicateSearch.run(queries: split.test.map { signatures[$0] }, references: split.train.map { signatures[$0] })
        let searchSeconds = -clock.timeIntervalSinceNow
        return DataBenchmarkResult(
            root: index.root, size: options.size, images: loaded.count, skippedFiles: loaded.skipped.count,
            skipped: loaded.skipped,
            threads: ProcessInfo.processInfo.activeProcessorCount, batchSize: batchSize, augmented: augmentation != nil,
            scanSeconds: scanSeconds, decodeSeconds: decodeTimes, decodeMedianSeconds: median(decodeTimes),
            assemblySecondsPerEpoch: assemblyTimes, assemblyMedianSecondsPerEpoch: median(assemblyTimes),
            signatureSeconds: signatureTimes, signatureMedianSeconds: median(signatureTimes),
            nearDuplicateSearchSeconds: searchSeconds, nearDuplicatePairs: split.test.count * split.train.count)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
