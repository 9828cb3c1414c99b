// Errors of the unpickler, without a file name: the format readers add the path (CheckpointError).

public enum PickleError: Error, CustomStringConvertible {
    /// The data ends inside a pickle (a truncated file).
    case truncated(at: Int)
    /// A global outside `AllowedGlobal`: the class or function a full `torch.load` would import and call.
    case forbiddenGlobal(String)
    /// A typed storage of an element type ablate does not convert (complex, quantized, float8).
    case unsupportedStorage(String)
    /// An opcode state_dict pickles never use (object construction, extensions, out-of-band buffers).
    case unsupportedOpcode(UInt8, at: Int)
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated(let at): return "the data ends at byte \(at), inside a pickle (truncated file?)"
        case .forbiddenGlobal(let name):
            return "it names the Python global '\(name)', which a state_dict does not hold; ablate loads only "
                + "state_dicts (tensors, numbers, strings and containers) and never imports or runs what a pickle "
                + "names — save `model.state_dict()` instead"
        case .unsupportedStorage(let name):
            return "it holds a \(name), an element type ablate does not read (it reads float32, float64, float16, "
                + "bfloat16 and integer counters)"
        case let .unsupportedOpcode(op, at):
            return "pickle opcode 0x\(String(op, radix: 16)) at byte \(at) is not one a state_dict uses"
        case .malformed(let why): return "malformed pickle: \(why)"
        }
    }
}
