// The globals a state_dict pickle names, and what REDUCE makes of each. This list is the security boundary:
// `torch.load` without `weights_only` imports and calls whatever a pickle names (`os.system` included); here any
// name outside the list is an error, and the ones inside are reimplemented as plain value constructors.

enum AllowedGlobal: Equatable {
    case orderedDict, set, frozenset
    /// `_codecs.encode(text, 'latin1')`: how protocol 2 writes Python 3 `bytes`.
    case codecsEncode
    /// `torch._utils._rebuild_tensor` (before PyTorch 0.4) and `_rebuild_tensor_v2`.
    case rebuildTensor, rebuildTensorV2
    /// `torch._utils._rebuild_parameter(data, requires_grad, hooks)` and its `_with_state` form: the tensor.
    case rebuildParameter, rebuildParameterWithState
    /// `torch.FloatStorage` and the other typed storages (also `torch.cuda.…` from GPU-saved files): only named
    /// in persistent ids, never called.
    case storageClass(TorchDType, name: String)

    /// The allowed global `module.name`, or nil.
    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("builtins", "set"), ("__builtin__", "set"): self = .set
        case ("builtins", "frozenset"), ("__builtin__", "frozenset"): self = .frozenset
        case ("_codecs", "encode"): self = .codecsEncode
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch", _), ("torch.cuda", _):
            guard let dtype = TorchDType(storageClass: name) else { return nil }
            self = .storageClass(dtype, name: "\(module).\(name)")
        default: return nil
        }
    }

    var pythonName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .set: return "set"
        case .frozenset: return "frozenset"
        case .codecsEncode: return "_codecs.encode"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .storageClass(_, let name): return name
        }
    }

    /// The value `global(*args)` would be, built without running anything.
    func apply(_ args: [PickleValue]) throws -> PickleValue {
        func bad(_ why: String) -> PickleError { .malformed("\(pythonName)\(why)") }
        switch self {
        case .orderedDict:
            let dict = PickleDict()
            if let pairs = args.first?.asTuple {
                for pair in pairs {
                    guard let kv = pair.asTuple, kv.count == 2 else { throw bad(" expects (key, value) pairs") }
                    dict.set(kv[0], kv[1])
                }
            }
            return .dict(dict)
        case .set, .frozenset:
            return .list(PickleList(args.first?.asTuple ?? []))
        case .codecsEncode:
            guard let text = args.first?.asString else { throw bad(" expects a string") }
            // latin-1: every code point below 256 is one byte.
            let bytes = text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
            guard text.unicodeScalars.allSatisfy({ $0.value < 256 }) else { throw bad(" of text outside latin-1") }
            return .bytes(bytes)
        case .rebuildTensor, .rebuildTensorV2:
            guard args.count >= 4, case .storage(let storage) = args[0], let offset = args[1].asInt,
                  let shape = args[2].asTuple?.compactMap(\.asInt), let strides = args[3].asTuple?.compactMap(\.asInt),
                  shape.count == args[2].asTuple?.count, strides.count == shape.count else {
                throw bad(" expects (storage, offset, size, stride, …)")
            }
            return .tensor(TensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter, .rebuildParameterWithState:
            guard case .tensor? = args.first else { throw bad(" expects a tensor") }
            return args[0]
        case .storageClass:
            throw bad(" is called: a storage is only ever named in a persistent id")
        }
    }
}
