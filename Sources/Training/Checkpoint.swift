// A checkpoint holds everything an exact resume needs (nanoGPT style): model parameters and buffers under their
// PyTorch names, the optimiser state, the generator states, the number of finished epochs, and the run's
// configuration. One safetensors file, written atomically (temporary file, fsync, rename), so a crash
// mid-write leaves the previous checkpoint intact.
import Engine
import Foundation
import Models

/// The run a checkpoint was written for: its store's random id, the run's id in that store and its config hash.
/// Run ids restart at 1 in every new store, so the id alone cannot tell this store's run 1 from another's.
public struct CheckpointOwner: Codable, Equatable, Sendable, CustomStringConvertible {
    public var storeID: String
    public var runID: Int64
    public var configHash: String

    public init(storeID: String, runID: Int64, configHash: String) {
        self.storeID = storeID; self.runID = runID; self.configHash = configHash
    }

    public var description: String { "store \(storeID), run \(runID), config \(configHash.prefix(12))" }
}

public struct CheckpointState: Codable, Equatable, Sendable {
    /// Epochs fully finished (training and evaluation); resume starts at this epoch (0-based).
    public var epochsDone: Int
    public var optimizerStep: Int
    public var modelRNG: SeededGenerator
    public var batchesTracked: Int64
    /// The run's configuration as JSON (opaque to the trainer; the runner checks it on resume).
    public var configJSON: String
    public var bestTestAccuracy: Double?
    public var bestEpoch: Int?
    /// Nil in checkpoints written before checkpoints named their owner.
    public var owner: CheckpointOwner?
    /// The selected epoch so far (`training.select`) and its validation value (nil with `last`).
    public var selectedEpoch: Int?
    public var selectedScore: Double?
    /// Early stopping: the best value of the watched metric, the epochs since it improved, and the epoch after
    /// which training stopped (nil while it goes on).
    public var watchedBest: Double?
    public var epochsWithoutImprovement: Int?
    public var stoppedEarlyAt: Int?

    public init(epochsDone: Int, optimizerStep: Int, modelRNG: SeededGenerator, batchesTracked: Int64, configJSON: String,
                bestTestAccuracy: Double? = nil, bestEpoch: Int? = nil, owner: CheckpointOwner? = nil) {
        self.epochsDone = epochsDone; self.optimizerStep = optimizerStep; self.modelRNG = modelRNG
        self.batchesTracked = batchesTracked; self.configJSON = configJSON
        self.bestTestAccuracy = bestTestAccuracy; self.bestEpoch = bestEpoch; self.owner = owner
    }
}

public enum CheckpointError: Error, CustomStringConvertible {
    case incompatible(path: String, reason: String)

    public var description: String {
        switch self {
        case let .incompatible(path, reason): return "checkpoint '\(path)' cannot be resumed: \(reason)"
        }
    }
}

/// The files in one run's folder, named here only: the resumable checkpoint (last epoch's model, optimiser and
/// training state), the best epoch's weights on test and the selected epoch's (model only, with the epoch in their
/// metadata).
public enum RunFiles {
    public static let checkpoint = "checkpoint.safetensors"
    public static let bestWeights = "best.safetensors"
    /// The selected epoch's weights when `training.select` follows validation (with `last`: the checkpoint's).
    public static let selectedWeights = "selected.safetensors"

    /// The best-weights file in the folder of `checkpoint`.
    public static func bestWeights(besideCheckpoint checkpoint: String) -> URL {
        URL(fileURLWithPath: checkpoint).deletingLastPathComponent().appendingPathComponent(bestWeights)
    }
}

public enum Checkpoint {
    static let stateKey = "ablate.checkpoint"
    static let optimizerPrefix = "optimizer."

    /// Writes model, optimiser and training state.
    public static func save(_ net: any Network, _ optimizer: Optimizer, _ state: CheckpointState, to url: URL) throws {
        var tensors = net.store.stateDict()
        tensors[optimizerPrefix + "state1"] = TorchTensor(shape: [optimizer.state1.count], values: optimizer.state1.array)
        tensors[optimizerPrefix + "state2"] = TorchTensor(shape: [optimizer.state2.count], values: optimizer.state2.array)
        let counters = Dictionary(uniqueKeysWithValues: net.store.batchNormNames.map { ($0 + batchesTrackedSuffix, net.store.batchesTracked) })
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        try Safetensors.write(tensors, counters: counters, metadata: [stateKey: json], to: url)
    }

    /// The training state of a checkpoint, without touching any model (to check whose it is before using it).
    public static func readState(from url: URL) throws -> CheckpointState {
        let (_, metadata) = try Safetensors.read(url)
        return try state(in: metadata, path: url.path)
    }

    static func state(in metadata: [String: String], path: String) throws -> CheckpointState {
        guard let json = metadata[stateKey], let state = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)) else {
            throw CheckpointError.incompatible(path: path, reason: "no ablate training state in its metadata (a weights-only file?)")
        }
        return state
    }

    /// The model's weights of a checkpoint as a weights file of their own (the bytes `ParameterStore.save` writes,
    /// with the epoch in the metadata as the best and selected weights have it), and its training state: what
    /// `export --artifacts` uploads for a run that keeps its last epoch.
    public static func weightsFile(from url: URL) throws -> (data: Data, state: CheckpointState) {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw SafetensorsError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        var state: CheckpointState?
        let weights = try Safetensors.subset(of: data, path: url.path, keeping: { !$0.hasPrefix(optimizerPrefix) }) {
            let found = try Self.state(in: $0, path: url.path)
            state = found
            return ["epoch": "\(found.epochsDone)"]
        }
        return (weights, state!)
    }

    /// Loads only the model's parameters and buffers (the last finished epoch's weights); returns the training
    /// state, whose `epochsDone` is the epoch the weights come from.
    public static func loadWeights(_ net: any Network, from url: URL) throws -> CheckpointState {
        var (tensors, metadata) = try Safetensors.read(url)
        let state = try state(in: metadata, path: url.path)
        for key in tensors.keys where key.hasPrefix(optimizerPrefix) { tensors.removeValue(forKey: key) }
        try net.store.load(stateDict: tensors)
        return state
    }

    /// Restores model, optimiser and generator state; returns the training state.
    public static func load(_ net: any Network, _ optimizer: Optimizer, from url: URL) throws -> CheckpointState {
        var (tensors, metadata) = try Safetensors.read(url)
        let state = try state(in: metadata, path: url.path)
        let s1 = tensors.removeValue(forKey: optimizerPrefix + "state1")
        let s2 = tensors.removeValue(forKey: optimizerPrefix + "state2")
        guard let s1, let s2, s1.count == optimizer.state1.count, s2.count == optimizer.state2.count else {
            throw CheckpointError.incompatible(path: url.path, reason: "its optimiser state does not match the configured optimiser")
        }
        try net.store.load(stateDict: tensors)
        s1.values.withUnsafeBufferPointer { optimizer.state1.data.update(from: $0.baseAddress!, count: s1.count) }
        s2.values.withUnsafeBufferPointer { if s2.count > 0 { optimizer.state2.data.update(from: $0.baseAddress!, count: s2.count) } }
        optimizer.restore(step: state.optimizerStep)
        net.rng = state.modelRNG
        net.store.batchesTracked = state.batchesTracked
        return state
    }
}
