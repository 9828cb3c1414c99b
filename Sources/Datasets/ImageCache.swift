import Dispatch

/// Every usable image of a dataset decoded once, resized to size×size and kept as 8-bit RGB (HWC) in one block:
/// `count * size * size * 3` bytes (2,142 images at 224: 322 MB). Read-only after creation, so any number of
/// threads may read it.
public final class ImageCache: @unchecked Sendable {
    public let options: ImageLoadOptions
    public let classNames: [String]
    /// The decoded files, in index order; sample `i` of the cache is `files[i]`.
    public let files: [ImageFile]
    public let labels: [Int32]
    /// Files that could not be decoded (plus the scan's unusable entries), for the warning and the run record.
    public let skipped: [SkippedFile]
    private let storage: UnsafeMutableBufferPointer<UInt8>

    public var count: Int { files.count }
    public var size: Int { options.size }
    public var bytesPerImage: Int { options.size * options.size * 3 }

    /// Decodes every file of `index` on all cores (`DispatchQueue.concurrentPerform`; each image lands in its own
    /// slot, so the result does not depend on scheduling). Broken images are skipped and listed in `skipped`, or
    /// thrown as `DatasetError.brokenImages` in strict mode. Throws `tooFewClasses` if fewer than two classes keep
    /// an image.
    public convenience init(index: ImageFolderIndex, options: ImageLoadOptions) throws {
        try self.init(files: index.files, classNames: index.classNames, options: options, alreadySkipped: index.skipped,
                      root: index.root)
    }

    /// `minimumClasses`: 2 for training data; 0 for images to classify (`ablate predict`), which carry no label.
    public init(files candidates: [ImageFile], classNames: [String], options: ImageLoadOptions,
                alreadySkipped: [SkippedFile] = [], root: String = "dataset", minimumClasses: Int = 2) throws {
        try options.validate()
        if options.strict && !alreadySkipped.isEmpty { throw DatasetError.brokenImages(alreadySkipped) }
        let bytesPerImage = options.size * options.size * 3
        // Image i is decoded into its own slice of `all` and reports into failures[i] only: the buffers may cross
        // threads (disjoint writes, which Swift cannot see, hence the unchecked captures).
        nonisolated(unsafe) let all = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, candidates.count * bytesPerImage))
        var failures = [SkippedFile?](repeating: nil, count: candidates.count)
        failures.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let failures = buffer
            DispatchQueue.concurrentPerform(iterations: candidates.count) { i in
                do {
                    try options.load(candidates[i].path, into: all.baseAddress! + i * bytesPerImage)
                } catch {
                    failures[i] = SkippedFile(path: candidates[i].path, error: error)
                }
            }
        }
        let broken = failures.compactMap { $0 }
        if options.strict && !broken.isEmpty {
            all.deallocate()
            throw DatasetError.brokenImages(broken)
        }
        // Close the gaps left by broken files (in order, so the layout stays deterministic).
        var kept: [ImageFile] = []
        for (i, file) in candidates.enumerated() where failures[i] == nil {
            if kept.count != i {
                (all.baseAddress! + kept.count * bytesPerImage).update(from: all.baseAddress! + i * bytesPerImage,
                                                                       count: bytesPerImage)
            }
            kept.append(file)
        }
        let usableClasses = Set(kept.map(\.label)).sorted().map { classNames[$0] }
        guard usableClasses.count >= minimumClasses else {
            all.deallocate()
            throw DatasetError.tooFewClasses(root: root, nonEmpty: usableClasses)
        }
        self.options = options
        self.classNames = classNames
        self.files = kept
        self.labels = kept.map { Int32($0.label) }
        self.skipped = alreadySkipped + broken
        self.storage = all
    }

    deinit { storage.deallocate() }

    /// The cached pixels of sample `i` (size×size×3 bytes, HWC), valid while the cache lives.
    public func pixels(of i: Int) -> UnsafePointer<UInt8> {
        precondition(i >= 0 && i < count, "sample index \(i) out of range 0..<\(count)")
        return UnsafePointer(storage.baseAddress! + i * bytesPerImage)
    }

    /// A copy of sample `i` as an image.
    public func image(_ i: Int) -> RGBImage {
        RGBImage(width: size, height: size, pixels: Array(UnsafeBufferPointer(start: pixels(of: i), count: bytesPerImage)))
    }

    /// Splits the decoded files (indices refer to this cache's samples).
    public func split(_ config: SplitConfig) throws -> DatasetSplit { try DatasetSplit(files: files, config: config) }
}
