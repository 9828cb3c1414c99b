// From a run's plan to the engine's batches (`RunPlan` made the Datasets split, load options, augmentation and
// normalisation): a prepared dataset (decoded once) is shared by every run that reads the same folder the same
// way; `LoaderEpochData` hands the loaders' NHWC floats to the trainer as engine tensors.
import AblateCore
import Datasets
import Engine
import Foundation
import Training

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
    public func prepared(_ plan: RunPlan, directory: String) throws -> (PreparedDataset, synthesized: Bool, isNew: Bool) {
        let key = "\(directory)|\(plan.split)|\(plan.load)"
        if let hit = entries[key] { return (hit, false, false) }
        var synthesized = false
        if let synth = plan.synthesize {
            // Generated whole or not at all, by one process at a time; an existing synthetic folder is checked.
            synthesized = try SyntheticData.materialize(at: directory, classes: synth.classes, perClass: synth.perClass,
                                                        size: synth.size, seed: 0).created
        }
        guard FileManager.default.fileExists(atPath: directory) else {
            throw RunnerError.data("data folder '\(directory)' does not exist: pass --data PATH or fix data.path")
        }
        let prepared = try PreparedDataset(root: directory, split: plan.split, options: plan.load)
        entries[key] = prepared
        return (prepared, synthesized, true)
    }
}

/// The trainer's view of a prepared dataset: training batches shuffled and augmented from (run seed, epoch),
/// validation and test batches in file order. Tensors are allocated once and refilled.
public final class LoaderEpochData: EpochData {
    let train: BatchLoader, test: BatchLoader
    let validation: BatchLoader?
    let size: Int

    public init(_ dataset: PreparedDataset, plan: RunPlan) throws {
        train = try dataset.trainLoader(batchSize: plan.training.batchSize, augmentation: plan.augmentation,
                                        seed: plan.seed, normalization: plan.normalization)
        test = try dataset.testLoader(batchSize: plan.training.batchSize, normalization: plan.normalization)
        validation = try dataset.validationLoader(batchSize: plan.training.batchSize, normalization: plan.normalization)
        size = plan.load.size
    }

    public var trainCount: Int { train.batchesPerEpoch * train.batchSize }
    public var testCount: Int { test.indices.count }
    public var validationCount: Int { validation?.indices.count ?? 0 }

    public func trainBatches(epoch: Int, batchSize: Int) -> AnySequence<Batch> {
        train.startEpoch(epoch)
        return batches(train)
    }

    public func testBatches(batchSize: Int) -> AnySequence<Batch> {
        test.startEpoch(0)
        return batches(test)
    }

    public func validationBatches(batchSize: Int) -> AnySequence<Batch> {
        guard let validation else { return AnySequence([]) }
        validation.startEpoch(0)
        return batches(validation)
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
