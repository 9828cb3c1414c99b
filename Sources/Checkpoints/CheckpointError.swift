// Every way a weight file can fail to load, each naming the file and saying what to do.

public enum CheckpointFormat: String, Codable, Sendable {
    case torchZip = "torch-zip"
    case torchLegacy = "torch-legacy"
    case safetensors

    public var label: String {
        switch self {
        case .torchZip: return "torch.save zip format"
        case .torchLegacy: return "torch.save legacy format of PyTorch < 1.6"
        case .safetensors: return "safetensors"
        }
    }
}

public enum CheckpointError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    /// Neither a torch.save file nor safetensors.
    case unknownFormat(path: String, start: String)
    case corrupt(path: String, format: CheckpointFormat, reason: String)
    case pickle(path: String, format: CheckpointFormat, PickleError)
    /// The object in the file is no state_dict, nor one under a known key.
    case noStateDict(path: String, found: String)
    /// A tensor the model needs is missing or shaped differently (not the classifier, not SE).
    case architectureMismatch(path: String, model: String, tensor: String, problem: String, others: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read '\(path)': \(reason)"
        case .empty(let path): return "'\(path)' is empty (0 bytes): not a weight file"
        case let .unknownFormat(path, start):
            return "'\(path)' is not a PyTorch checkpoint (torch.save, zip or legacy format) nor a safetensors file (it starts with \(start))"
        case let .corrupt(path, format, reason): return "'\(path)' (\(format.label)) cannot be read: \(reason)"
        case let .pickle(path, format, error):
            switch error {
            case .forbiddenGlobal, .unsupportedStorage: return "'\(path)' (\(format.label)) is refused: \(error)"
            case .truncated, .unsupportedOpcode, .malformed: return "'\(path)' (\(format.label)) cannot be read: \(error)"
            }
        case let .noStateDict(path, found):
            return "'\(path)' holds no state_dict: \(found); expected a dict of tensors, or one under 'state_dict', 'model' or 'model_state_dict'"
        case let .architectureMismatch(path, model, tensor, problem, others):
            return "'\(path)' does not fit \(model): tensor '\(tensor)' \(problem)"
                + (others > 0 ? " (and \(others) more tensor(s) do not fit)" : "")
                + " — the file holds a different architecture; choose the model it was saved from"
        }
    }
}
