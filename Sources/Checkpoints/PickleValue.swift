// What the restricted unpickler builds: Python's plain data and the few torch objects a state_dict holds, as inert
// values. Nothing in a pickle is imported or called: a global is either one of `AllowedGlobal`'s names, turned
// into a value here, or an error.

/// A value of a pickle. Lists and dicts are classes because pickles mutate them after memoizing them (EMPTY_DICT,
/// BINPUT, then SETITEMS on the same object), as Python's are.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer wider than 64 bits, as little-endian two's-complement bytes (LONG1/LONG4; the legacy format's
    /// magic number is one).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// An allowed global, before REDUCE applies it.
    case global(AllowedGlobal)
    case storage(StorageRef)
    case tensor(TensorRef)

    /// Python's name for the kind of value, for error messages.
    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let g): return g.pythonName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }

    var asInt: Int? { if case .int(let v) = self { return Int(v) } else { return nil } }
    var asString: String? { if case .string(let s) = self { return s } else { return nil } }
    var asTuple: [PickleValue]? {
        switch self {
        case .tuple(let items): return items
        case .list(let list): return list.items
        default: return nil
        }
    }
}

final class PickleList {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// A dict in insertion order (a state_dict is an OrderedDict). Keys that are strings replace an earlier value of
/// the same key, as in Python; other keys are kept as they come (state_dicts have string keys only).
final class PickleDict {
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if let k = key.asString {
            if let i = index[k] { entries[i].value = value; return }
            index[k] = entries.count
        }
        entries.append((key, value))
    }

    subscript(key: String) -> PickleValue? { index[key].map { entries[$0].value } }

    var stringKeys: [String] { entries.compactMap { $0.key.asString } }
}

/// One storage a checkpoint's tensors view: its key (the zip entry `data/<key>`, or the legacy format's key), its
/// element type and length. A legacy view of a storage starts `elementOffset` elements into its root storage.
struct StorageRef {
    let key: String
    let dtype: TorchDType
    let count: Int
    var elementOffset = 0
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: element (i₀, …, iₙ₋₁) of `shape` is storage
/// element `offset + Σ iₖ · strides[k]`.
struct TensorRef {
    let storage: StorageRef
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}
