// Parameters and buffers live in two flat float arrays (values and gradients), so an optimiser step is one pass
// over contiguous memory and a checkpoint is two memcpys. Each tensor is a named slice with its PyTorch
// state_dict name and the layout conversion needed at load/save.

/// How an engine tensor maps to its PyTorch counterpart.
public enum TorchLayout: String, Codable, Sendable {
    /// Same shape, same order (BN vectors, linear weights `[out, in]`, biases).
    case same
    /// Engine `[KH, KW, Cin, Cout]` (HWIO, so a convolution is `im2col · W`) ↔ PyTorch `[Cout, Cin, KH, KW]`.
    case convHWIO
}

/// How a parameter is initialised (the course's PyTorch code's scheme: Kaiming-normal convolutions, BN 1/0,
/// Linear bias 0, Linear weight as PyTorch's default).
public enum Initializer: Sendable {
    case zeros, ones
    /// N(0, 2 / fan_in): `nn.init.kaiming_normal_` with its defaults (fan_in, ReLU gain).
    case kaimingNormal(fanIn: Int)
    /// U(−1/√fan_in, 1/√fan_in): `nn.Linear`'s default `kaiming_uniform_(a=√5)`.
    case linearDefault(fanIn: Int)
}

/// A named slice of a `ParameterStore`.
public final class Param {
    public let name: String
    /// Engine shape.
    public let shape: [Int]
    public let layout: TorchLayout
    public let initializer: Initializer
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public internal(set) var value: UnsafeMutablePointer<Float>
    public internal(set) var grad: UnsafeMutablePointer<Float>
    /// Left out of training (`ParameterStore.freeze`): no backward pass computes its gradient (which stays zero)
    /// and no optimiser step touches it. A buffer is frozen with its layer: a frozen BatchNorm normalises with its
    /// running statistics and never updates them.
    public internal(set) var frozen = false

    init(name: String, shape: [Int], layout: TorchLayout, initializer: Initializer, offset: Int) {
        self.name = name; self.shape = shape; self.layout = layout; self.initializer = initializer
        self.offset = offset
        value = .allocate(capacity: 0); grad = value // replaced by `ParameterStore.finalize`
    }

    /// PyTorch's shape for this tensor.
    public var torchShape: [Int] {
        switch layout {
        case .same: return shape
        case .convHWIO: return [shape[3], shape[2], shape[0], shape[1]]
        }
    }
}

/// Owns every parameter (trainable, with gradients) and buffer (BN running statistics) of a model.
public final class ParameterStore {
    public private(set) var parameters: [Param] = []
    public private(set) var buffers: [Param] = []
    public private(set) var values = Tensor([0])
    public private(set) var grads = Tensor([0])
    public private(set) var bufferValues = Tensor([0])
    private var parameterCount = 0
    private var bufferCount = 0
    private var finalized = false
    /// Offset of the first parameter that trains (`parameterScalars` when none does).
    private var firstTrainable = 0
    /// Training forward passes seen, written as each BN's `num_batches_tracked` for PyTorch compatibility.
    public var batchesTracked: Int64 = 0

    public init() {}

    /// Declares a trainable tensor; memory comes with `finalize`.
    public func parameter(_ name: String, _ shape: [Int], layout: TorchLayout = .same, init initializer: Initializer) -> Param {
        precondition(!finalized, "parameters declared after finalize")
        let p = Param(name: name, shape: shape, layout: layout, initializer: initializer, offset: parameterCount)
        parameterCount += p.count
        parameters.append(p)
        return p
    }

    /// Declares a non-trainable buffer (e.g. `running_mean`).
    public func buffer(_ name: String, _ shape: [Int], init initializer: Initializer) -> Param {
        precondition(!finalized, "buffers declared after finalize")
        let p = Param(name: name, shape: shape, layout: .same, initializer: initializer, offset: bufferCount)
        bufferCount += p.count
        buffers.append(p)
        return p
    }

    /// Allocates the flat arrays and initialises every tensor in declaration order from `rng`.
    public func finalize(rng: inout SeededGenerator) {
        precondition(!finalized)
        finalized = true
        values = Tensor([parameterCount]); grads = Tensor([parameterCount]); bufferValues = Tensor([bufferCount])
        for p in parameters {
            p.value = values.data + p.offset; p.grad = grads.data + p.offset
            Self.initialise(p, &rng)
        }
        for b in buffers {
            b.value = bufferValues.data + b.offset; b.grad = b.value
            Self.initialise(b, &rng)
        }
    }

    private static func initialise(_ p: Param, _ rng: inout SeededGenerator) {
        switch p.initializer {
        case .zeros: p.value.update(repeating: 0, count: p.count)
        case .ones: p.value.update(repeating: 1, count: p.count)
        case .kaimingNormal(let fanIn):
            let std = (2.0 / Double(fanIn)).squareRoot()
            for i in 0..<p.count { p.value[i] = Float(rng.normal() * std) }
        case .linearDefault(let fanIn):
            let bound = 1.0 / Double(fanIn).squareRoot()
            for i in 0..<p.count { p.value[i] = Float((rng.uniformDouble() * 2 - 1) * bound) }
        }
    }

    /// Number of trainable scalars (what PyTorch's `sum(p.numel() for p in model.parameters())` counts).
    public var parameterScalars: Int { parameterCount }

    public func zeroGrad() { grads.zero() }

    public func parameter(named name: String) -> Param? { parameters.first { $0.name == name } }
    public func buffer(named name: String) -> Param? { buffers.first { $0.name == name } }

    // MARK: freezing

    /// Freezes the parameters and buffers whose names `isFrozen` accepts and unfreezes every other (see
    /// `Param.frozen`). Call it before making the optimiser, whose groups leave frozen parameters out.
    public func freeze(where isFrozen: (String) -> Bool) {
        for p in parameters { p.frozen = isFrozen(p.name) }
        for b in buffers { b.frozen = isFrozen(b.name) }
        firstTrainable = parameters.first { !$0.frozen }?.offset ?? parameterCount
    }

    /// Scalars that train (all of them unless some are frozen).
    public var trainableScalars: Int { parameters.reduce(0) { $0 + ($1.frozen ? 0 : $1.count) } }

    /// The parameters that train as contiguous ranges of the flat arrays, each with the learning-rate scale
    /// `lrScale` gives its parameters: neighbours with the same scale share a range, frozen parameters are in none.
    /// Without frozen parameters and with one scale: one group over everything.
    public func parameterGroups(lrScale: (Param) -> Float = { _ in 1 }) -> [ParameterGroup] {
        var groups: [ParameterGroup] = []
        for p in parameters where !p.frozen && p.count > 0 {
            let scale = lrScale(p)
            if let last = groups.last, last.range.upperBound == p.offset, last.lrScale == scale {
                groups[groups.count - 1].range = last.range.lowerBound..<(p.offset + p.count)
            } else {
                groups.append(ParameterGroup(range: p.offset..<(p.offset + p.count), lrScale: scale))
            }
        }
        return groups
    }

    /// How far back the next backward pass must send gradients: to the network's input when `inputGradient`,
    /// otherwise only as far as the first parameter that trains.
    public func backwardReach(inputGradient: Bool) -> BackwardReach {
        BackwardReach(firstNeeded: inputGradient ? -1 : firstTrainable)
    }
}

/// A contiguous range of a `ParameterStore`'s flat arrays that an optimiser updates at `lrScale` × its learning
/// rate (a PyTorch parameter group whose lr is a multiple of the base one).
public struct ParameterGroup: Equatable, Sendable {
    public var range: Range<Int>
    public var lrScale: Float
    public init(range: Range<Int>, lrScale: Float) { self.range = range; self.lrScale = lrScale }
}

/// Which gradients a backward pass must compute, from what trains. A network declares its parameters in forward
/// order (a layer's after those of every layer whose output it reads), so whether anything upstream of a layer
/// trains is a comparison of offsets: where everything before a point of the network is frozen (and the input
/// gradient is not wanted), no gradient needs to flow past that point and the backward pass stops there.
public struct BackwardReach: Sendable {
    /// Offset of the first parameter whose gradient is needed; −1 when the network's input gradient is.
    let firstNeeded: Int

    /// Whether the gradient must reach the input of the layer that declares `p` as its first parameter: a
    /// parameter declared before it trains (or the input gradient is wanted).
    public func input(of p: Param) -> Bool { firstNeeded < p.offset }

    /// Whether the layer that declares `p` as its last parameter has backward work at all: `p` or a parameter
    /// declared before it trains (or the input gradient is wanted).
    public func output(of p: Param) -> Bool { firstNeeded < p.offset + p.count }
}
