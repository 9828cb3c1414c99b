// What training, checkpoints, verification, `ablate model` and `ablate bench` need from a network, whatever its
// family (DenseNet, ResNet): one forward/backward pair over NHWC batches and a ParameterStore with PyTorch names.
import AblateCore
import Engine

public protocol Network: AnyObject {
    /// Every parameter and buffer, with PyTorch state_dict names.
    var store: ParameterStore { get }
    /// Generator of the training-time randomness inside the network (dropout masks); part of a checkpoint.
    var rng: SeededGenerator { get set }
    var classes: Int { get }
    /// The state_dict prefix of the classifier, the layer whose shape follows `classes` (`classifier`, `fc`):
    /// pretrained weights for another number of classes leave it freshly initialised.
    var headName: String { get }
    /// The architecture it was built from.
    var spec: ModelSpec { get }
    /// A name a user could type back (`densenet121-se16-layer`, `resnet50-se16`), or a description.
    var displayName: String { get }
    /// Bytes of activations and scratch currently held.
    var activationBytes: Int { get }

    /// Logits `[N, classes]` for an NHWC input `[N, H, W, 3]`. Training mode uses batch statistics (and updates
    /// the running ones) and keeps what backward needs; eval mode uses running statistics.
    @discardableResult
    func forward(_ input: Tensor, training: Bool) throws -> Tensor

    /// Backward of the last training forward for `dLogits` `[N, classes]`: accumulates every parameter gradient
    /// into `store.grads` and writes ∂L/∂input when `inputGrad` is given.
    func backward(_ input: Tensor, dLogits: Tensor, inputGrad: Tensor?) throws

    /// Parameter count, multiply-adds and shapes for a 1×3×S×S input.
    func summary(inputSize: Int) throws -> ModelSummary

    /// The layer tree in the shape of PyTorch's `print(model)`, each stage annotated with its output shape.
    func layerTree(inputSize: Int) throws -> String
}

extension Network {
    public func backward(_ input: Tensor, dLogits: Tensor) throws { try backward(input, dLogits: dLogits, inputGrad: nil) }

    /// Freezes the parameters (and the BatchNorm layers) that `prefixes` cover and unfreezes every other
    /// (`training.freeze`, see `ParameterStore.freeze`). Throws `FreezeError` for a prefix that covers no
    /// parameter, naming it and the top-level modules, or when nothing would be left to train.
    public func freeze(_ prefixes: [String]) throws {
        let list = FreezeList(prefixes)
        for p in prefixes where !store.parameters.contains(where: { FreezeList.covers(p, $0.name) }) {
            throw FreezeError.unknownPrefix(p, model: displayName, modules: spec.topLevelModules)
        }
        if !prefixes.isEmpty, store.parameters.allSatisfy({ list.covers($0.name) }) {
            throw FreezeError.nothingTrains(model: displayName)
        }
        store.freeze(where: list.covers)
    }

    /// The optimiser's parameter groups: every parameter that trains, the classifier's (`headName`) at
    /// `headLRMultiplier` × the learning rate when given.
    public func parameterGroups(headLRMultiplier: Float?) -> [ParameterGroup] {
        guard let multiplier = headLRMultiplier else { return store.parameterGroups() }
        return store.parameterGroups { FreezeList.covers(headName, $0.name) ? multiplier : 1 }
    }
}

extension DenseNet: Network {
    public var classes: Int { config.classes }
    public var headName: String { "classifier" }
    public var displayName: String { config.displayName }
    public var spec: ModelSpec { .denseNet(config) }
}

/// Times `body` as one op of the per-op profile (`ablate bench --profile`); shared by every network.
@inline(__always) func prof(_ op: String, _ phase: Phase, _ body: () -> Void) { Profiler.shared.measure(op, phase, body) }

/// Stops with a clear message unless the activations a layer saved for backward (`savedBatch` images, 0 when
/// none) come from a training forward on `x`'s batch; `what` names the layer. Shared by every network's layers.
func requireTrainingForward(_ savedBatch: Int, _ x: FeatureMap, _ what: String) {
    precondition(savedBatch == x.n && savedBatch > 0, "\(what) backward without a training forward of this batch (\(x.n) images)")
}

/// Stops with a clear message unless `input` is an NHWC batch of RGB images `[N, H, W, 3]`.
func requireImageBatch(_ input: Tensor) {
    precondition(input.shape.count == 4 && input.shape[3] == 3, "input must be [N, H, W, 3], got \(input.shape)")
}

/// The first `n` rows of a `[rows, …]` buffer: the buffer itself when `n` is all of them, else a copy (what a
/// network's forward returns for a batch smaller than its activations were sized for).
func firstRows(_ buffer: Tensor, _ n: Int) -> Tensor {
    if n == buffer.shape[0] { return buffer }
    let rows = Tensor([n] + buffer.shape.dropFirst())
    rows.data.update(from: buffer.data, count: rows.count)
    return rows
}

/// The generator of a network's training-time randomness (dropout masks), derived from its initialisation seed
/// the same way for every network.
func trainingGenerator(seed: UInt64) -> SeededGenerator { SeededGenerator(seed: seed ^ 0xD5A6_1266_F0C9_392F) }
