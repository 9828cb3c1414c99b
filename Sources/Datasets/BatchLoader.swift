import Dispatch

/// Batches of one part of a split (e.g. the training indices), shuffled per epoch, with the next batch prepared
/// on a background queue while the caller trains on the current one.
///
///     let loader = try BatchLoader(cache: cache, indices: split.train, batchSize: 32, shuffle: true, seed: 1,
///                                  augmentation: .standard)
///     let input = Tensor([32, 224, 224, 3])                       // Engine tensor, NHWC
///     let labels = UnsafeMutablePointer<Int32>.allocate(capacity: 32)
///     loader.startEpoch(epoch)
///     while let n = loader.next(images: input.data, labels: labels) { /* n samples; train */ }
///
/// One consumer thread: `startEpoch` and `next` must not be called concurrently.
public final class BatchLoader: @unchecked Sendable {   // mutable state is touched by the consumer's thread only
    public let cache: ImageCache
    public let indices: [Int]
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let augmentation: AugmentationConfig?
    public let normalization: Normalization
    /// Drop a last, smaller batch (keeps BatchNorm statistics sane for training).
    public let dropLast: Bool

    private let queue = DispatchQueue(label: "ablate.datasets.prefetch")
    private var order: [Int] = []
    private var epoch = 0
    private var nextBatch = 0
    /// Two staging buffers: one being filled in the background, one ready to copy out.
    private let staging: [UnsafeMutablePointer<Float>]
    private let stagingLabels: [UnsafeMutablePointer<Int32>]
    private var pending: (slot: Int, count: Int, done: DispatchGroup)?

    public init(cache: ImageCache, indices: [Int], batchSize: Int, shuffle: Bool, seed: UInt64 = 0,
                augmentation: AugmentationConfig?, normalization: Normalization,
                dropLast: Bool = false) throws {
        guard batchSize > 0 else { throw DatasetError.invalidConfiguration("batch size must be positive") }
        if let bad = indices.first(where: { $0 < 0 || $0 >= cache.count }) {
            throw DatasetError.invalidConfiguration(
                "sample index \(bad) is outside the cache's 0..<\(cache.count); split the cache's own files")
        }
        try normalization.validate()
        try augmentation?.validate()
        self.cache = cache
        self.indices = indices
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.augmentation = augmentation
        self.normalization = normalization
        self.dropLast = dropLast
        let floats = batchSize * cache.bytesPerImage
        staging = (0..<2).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: floats) }
        stagingLabels = (0..<2).map { _ in UnsafeMutablePointer<Int32>.allocate(capacity: batchSize) }
        startEpoch(0)
    }

    deinit {
        pending?.done.wait()
        staging.forEach { $0.deallocate() }
        stagingLabels.forEach { $0.deallocate() }
    }

    /// Floats in one full batch: batchSize × size × size × 3.
    public var floatsPerBatch: Int { batchSize * cache.bytesPerImage }

    public var batchesPerEpoch: Int {
        dropLast ? indices.count / batchSize : (indices.count + batchSize - 1) / batchSize
    }

    /// Restarts at the first batch of `epoch` (shuffled with (seed, epoch) when `shuffle`), and starts preparing it.
    public func startEpoch(_ epoch: Int) {
        pending?.done.wait()
        pending = nil
        self.epoch = epoch
        order = indices
        if shuffle {
            var rng = SplitMix64(seed: seed, streams: UInt64(epoch), 0x5348_5546)  // "SHUF"
            rng.shuffle(&order)
        }
        nextBatch = 0
        prefetch()
    }

    /// Copies the next batch of this epoch into `images` (≥ count × size × size × 3 floats) and `labels`,
    /// starts preparing the one after, and returns the number of samples; nil at the end of the epoch.
    public func next(images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) -> Int? {
        guard let ready = pending else { return nil }
        ready.done.wait()
        images.update(from: staging[ready.slot], count: ready.count * cache.bytesPerImage)
        labels.update(from: stagingLabels[ready.slot], count: ready.count)
        pending = nil
        prefetch(slot: 1 - ready.slot)
        return ready.count
    }

    /// The sample indices of batch `batch` of the current epoch.
    public func batchIndices(_ batch: Int) -> ArraySlice<Int> {
        let start = batch * batchSize
        return order[start..<min(start + batchSize, order.count)]
    }

    private func prefetch(slot: Int = 0) {
        guard nextBatch < batchesPerEpoch else { return }
        let members = Array(batchIndices(nextBatch))
        nextBatch += 1
        let done = DispatchGroup()
        let target = StagingSlot(images: staging[slot], labels: stagingLabels[slot])
        let (cache, epoch, augmentation, normalization) = (cache, epoch, augmentation, normalization)
        queue.async(group: done) {
            cache.assembleBatch(members, epoch: epoch, augmentation: augmentation, normalization: normalization,
                                images: target.images, labels: target.labels)
        }
        pending = (slot, members.count, done)
    }
}

/// A staging buffer handed to the prefetch queue; the loader never touches it until the prefetch is waited for.
private struct StagingSlot: @unchecked Sendable {
    let images: UnsafeMutablePointer<Float>
    let labels: UnsafeMutablePointer<Int32>
}
