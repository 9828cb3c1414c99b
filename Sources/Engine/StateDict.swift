// PyTorch-compatible state dicts: every parameter and buffer under its `state_dict` name, in PyTorch's layout
// (conv OIHW). The conversion to the engine's HWIO layout happens here and nowhere else.

/// A tensor as PyTorch sees it: its shape and row-major float values.
public struct TorchTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    public var count: Int { shape.reduce(1, *) }
}

public enum StateDictError: Error, CustomStringConvertible, Equatable {
    case missing([String])
    case unexpected([String])
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missing(let names):
            return "missing \(names.count) tensor(s): \(names.prefix(5).joined(separator: ", "))\(names.count > 5 ? ", …" : "") — was the file saved from the same model (name, SE reduction, classes)?"
        case .unexpected(let names):
            return "unexpected \(names.count) tensor(s): \(names.prefix(5).joined(separator: ", "))\(names.count > 5 ? ", …" : "") — the file holds a different model"
        case let .shapeMismatch(name, expected, found):
            return "tensor '\(name)' has shape \(found), the model expects \(expected) — check the model name and number of classes"
        }
    }
}

extension Param {
    /// Values in PyTorch's layout.
    public var torchValues: [Float] {
        switch layout {
        case .same: return Array(UnsafeBufferPointer(start: value, count: count))
        case .convHWIO:
            let (kh, kw, ci, co) = (shape[0], shape[1], shape[2], shape[3])
            var out = [Float](repeating: 0, count: count)
            for o in 0..<co { for i in 0..<ci { for y in 0..<kh { for x in 0..<kw {
                out[((o * ci + i) * kh + y) * kw + x] = value[((y * kw + x) * ci + i) * co + o]
            } } } }
            return out
        }
    }

    /// Gradient in PyTorch's layout.
    public var torchGrad: [Float] {
        let saved = value
        value = grad
        defer { value = saved }
        return torchValues
    }

    /// Sets the values from PyTorch's layout.
    public func setTorchValues(_ v: [Float]) {
        precondition(v.count == count)
        switch layout {
        case .same: v.withUnsafeBufferPointer { value.update(from: $0.baseAddress!, count: count) }
        case .convHWIO:
            let (kh, kw, ci, co) = (shape[0], shape[1], shape[2], shape[3])
            for o in 0..<co { for i in 0..<ci { for y in 0..<kh { for x in 0..<kw {
                value[((y * kw + x) * ci + i) * co + o] = v[((o * ci + i) * kh + y) * kw + x]
            } } } }
        }
    }
}

/// Suffix PyTorch gives each BatchNorm's step counter; ablate keeps one counter per model.
public let batchesTrackedSuffix = ".num_batches_tracked"

extension ParameterStore {
    /// Every parameter and buffer by PyTorch name, in PyTorch layout.
    public func stateDict() -> [String: TorchTensor] {
        var d: [String: TorchTensor] = [:]
        for p in parameters + buffers { d[p.name] = TorchTensor(shape: p.torchShape, values: p.torchValues) }
        return d
    }

    /// Names of the BatchNorm layers (those with a `running_mean` buffer), for `num_batches_tracked`.
    public var batchNormNames: [String] {
        buffers.compactMap { $0.name.hasSuffix(".running_mean") ? String($0.name.dropLast(".running_mean".count)) : nil }
    }

    /// Loads every parameter and buffer. Strict: a missing, unexpected or wrongly shaped tensor is an error
    /// (and nothing is changed). `num_batches_tracked` entries are accepted and restore the step counter.
    public func load(stateDict d: [String: TorchTensor]) throws {
        let all = parameters + buffers
        let known = Set(all.map(\.name))
        let counters = Set(batchNormNames.map { $0 + batchesTrackedSuffix })
        let missing = all.map(\.name).filter { d[$0] == nil }
        if !missing.isEmpty { throw StateDictError.missing(missing) }
        let unexpected = d.keys.filter { !known.contains($0) && !counters.contains($0) }.sorted()
        if !unexpected.isEmpty { throw StateDictError.unexpected(unexpected) }
        for p in all {
            let t = d[p.name]!
            if t.shape != p.torchShape || t.values.count != p.count {
                throw StateDictError.shapeMismatch(name: p.name, expected: p.torchShape, found: t.shape)
            }
        }
        for p in all { p.setTorchValues(d[p.name]!.values) }
        if let c = counters.sorted().first, let t = d[c], let v = t.values.first { batchesTracked = Int64(v) }
    }
}
