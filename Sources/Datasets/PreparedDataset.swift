/// Everything a training run needs from a dataset folder, in the order that keeps the record honest: scan, decode
/// into the cache (broken files dropped), split the usable files, audit that split.
///
///     let data = try PreparedDataset(root: "../shared/data/monkeypox",
///                                    split: SplitConfig(strategy: .grouped, testFraction: 0.2, seed: 1, groupKey: .photo),
///                                    options: ImageLoadOptions(size: 224))
///     let train = try data.trainLoader(batchSize: 32, augmentation: .standard, seed: 1, normalization: .imagenet)
///     let test = try data.testLoader(batchSize: 64, normalization: .imagenet)
public struct PreparedDataset: Sendable {
    public let index: ImageFolderIndex
    public let cache: ImageCache
    /// Indices into `cache` (not `index.files`).
    public let split: DatasetSplit
    public let audit: LeakageAudit

    public init(root: String, split config: SplitConfig, options: ImageLoadOptions) throws {
        index = try ImageFolder.scan(root, layout: config.layout)
        cache = try ImageCache(index: index, options: options)
        split = try cache.split(config)
        var audit = try LeakageAudit(files: cache.files, split: split, alreadySkipped: cache.skipped)
        audit.nearDuplicates = NearDuplicateAudit(cache: cache, split: split)
        self.audit = audit
    }

    public var classNames: [String] { cache.classNames }

    /// Shuffled every epoch, augmented, last partial batch dropped (BatchNorm dislikes tiny batches).
    public func trainLoader(batchSize: Int, augmentation: AugmentationConfig?, seed: UInt64,
                            normalization: Normalization) throws -> BatchLoader {
        try BatchLoader(cache: cache, indices: split.train, batchSize: batchSize, shuffle: true, seed: seed,
                        augmentation: augmentation, normalization: normalization, dropLast: true)
    }

    /// In file order, no augmentation, every sample.
    public func testLoader(batchSize: Int, normalization: Normalization) throws -> BatchLoader {
        try BatchLoader(cache: cache, indices: split.test, batchSize: batchSize, shuffle: false, seed: 0,
                        augmentation: nil, normalization: normalization)
    }

    /// The validation part like the test part (file order, no augmentation); nil when the split has none.
    public func validationLoader(batchSize: Int, normalization: Normalization) throws -> BatchLoader? {
        guard !split.validation.isEmpty else { return nil }
        return try BatchLoader(cache: cache, indices: split.validation, batchSize: batchSize, shuffle: false, seed: 0,
                               augmentation: nil, normalization: normalization)
    }
}
