// From a run's configuration to the engine's batches: the data section becomes a Datasets split, load options,
// augmentation and normalisation; a prepared dataset (decoded once) is shared by every run that reads the same
// folder the same way; `LoaderEpochData` hands the loaders' NHWC floats to the trainer as engine tensors.
import AblateCore
import Datasets
import Engine
import Foundation
import Training

extension DataConfig {
    /// The Datasets split for this configuration. Split seeds default to 0 so all runs share one split.
    func datasetSplit() throws -> SplitConfig {
        let seed = UInt64(max(0, split.seed ?? 0))
        let fraction = split.testFraction ?? SplitSettings.defaultTestFraction
        switch split.protocol {
        case .random, .stratified: return .init(strategy: split.protocol, testFraction: fraction, seed: seed)
        case .grouped:
            return .init(strategy: .grouped, testFraction: fraction, seed: seed, groupKey: try (split.group ?? .photo).rule())
        case .folders:
            guard (split.trainDir ?? SplitSettings.trainFolder) == SplitSettings.trainFolder,
                  (split.testDir ?? SplitSettings.testFolder) == SplitSettings.testFolder else {
                throw RunnerError.data("data.split: folder splits read `train/` and `test/` (and optional `val/`) sub-folders; rename the folders or drop train_dir/test_dir")
            }
            return .init(strategy: .folders)
        }
    }

    var loadOptions: ImageLoadOptions {
        ImageLoadOptions(size: size, maxPixels: maxPixels ?? ImageDecoder.defaultMaxPixels)
    }

    func augmentation(seed: UInt64) -> AugmentationConfig? {
        let crop = augment.randomResizedCrop
        if !augment.hflip && crop == nil && augment.brightness == 0 && augment.contrast == 0 { return nil }
        return AugmentationConfig(horizontalFlipProbability: augment.hflip ? 0.5 : 0, cropScale: crop?.scale,
                                  cropRatio: crop?.ratio ?? RandomResizedCrop.standardRatio, brightness: augment.brightness,
                                  contrast: augment.contrast, seed: seed)
    }

    var normalization: Normalization {
        Normalization(mean: normalize.mean.map(Float.init), std: normalize.std.map(Float.init))
    }
}

extension GroupKey {
    /// The Datasets rule that does the grouping (one implementation of `photo`, `patient` and regexes).
    public func rule() throws -> GroupKeyRule {
        switch self {
        case .photo: return .photo
        case .patient: return .patient
        case .regex(let pattern): return try GroupKeyRule.named(pattern)
        }
    }
}

public enum RunnerError: Error, CustomStringConvertible {
    case data(String)
    case model(String)
    /// A file operation failed: the message names the path and what to do.
    case io(String)

    public var description: String {
        switch self {
        case .data(let m), .model(let m), .io(let m): return m
        }
    }
}

/// Prepared datasets by (folder, split, load options): decoding happens once per `ablate run`.
public final class DatasetCache {
    private var entries: [String: PreparedDataset] = [:]
    public init() {}

    /// The prepared dataset for a run, synthesising the folder first when the configuration asks for it.
    public func prepared(_ data: DataConfig, directory: String) throws -> (PreparedDataset, synthesized: Bool, isNew: Bool) {
        let split = try data.datasetSplit()
        let key = "\(directory)|\(split)|\(data.loadOptions)"
        if let hit = entries[key] { return (hit, false, false) }
        var synthesized = false
        if let synth = data.synthesize {
            // Generated whole or not at all, by one process at a time; an existing synthetic folder is checked.
            synthesized = try SyntheticData.materialize(at: directory, classes: synth.classes, perClass: synth.perClass,
                                                        size: synth.size, seed: 0).created
        }
        guard FileManager.default.fileExists(atPath: directory) else {
            throw RunnerError.data("data folder '\(directory)' does not exist: pass --data PATH or fix data.path")
        }
        let prepared = try PreparedDataset(root: directory, split: split, options: data.loadOptions)
        entries[key] = prepared
        return (prepared, synthesized, true)
    }
}

/// The trainer's view of a prepared dataset: training batches shuffled and augmented from (run seed, epoch),
/// test batches in file order. Tensors are allocated once and refilled.
public final class LoaderEpochData: EpochData {
    let train: BatchLoader, test: BatchLoader
    let size: Int

    public init(_ dataset: PreparedDataset, data: DataConfig, batchSize: Int, seed: UInt64) throws {
        train = try dataset.trainLoader(batchSize: batchSize, augmentation: data.augmentation(seed: seed), seed: seed,
                                        normalization: data.normalization)
        test = try dataset.testLoader(batchSize: batchSize, normalization: data.normalization)
        size = data.size
    }

    public var trainCount: Int { train.batchesPerEpoch * train.batchSize }
    public var testCount: Int { test.indices.count }

    public func trainBatches(epoch: Int, batchSize: Int) -> AnySequence<Batch> {
        train.startEpoch(epoch)
        return batches(train)
    }

    public func testBatches(batchSize: Int) -> AnySequence<Batch> {
        test.startEpoch(0)
        return batches(test)
    }

    private func batches(_ loader: BatchLoader) -> AnySequence<Batch> {
        let full = Tensor([loader.batchSize, size, size, 3])
        var labels = [Int32](repeating: 0, count: loader.batchSize)
        var batchIndex = 0
        return AnySequence(AnyIterator { () -> Batch? in
            let members = batchIndex < loader.batchesPerEpoch ? Array(loader.batchIndices(batchIndex)) : []
            guard let n = labels.withUnsafeMutableBufferPointer({ loader.next(images: full.data, labels: $0.baseAddress!) }) else {
                return nil
            }
            batchIndex += 1
            let input: Tensor
            if n == loader.batchSize {
                input = full
            } else {
                input = Tensor([n, self.size, self.size, 3])
                input.data.update(from: full.data, count: input.count)
            }
            return Batch(input: input, labels: Array(labels.prefix(n)), indices: members)
        })
    }
}
