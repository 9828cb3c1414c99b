// What loading pretrained weights did, as a value the runner can store (JSON) and print.

/// The outcome of loading a weight file into a network: which tensors came from the file, which kept their fresh
/// initialisation and why, which of the file's tensors the model does not use.
public struct LoadReport: Codable, Equatable, Sendable {
    /// Why a group of the model's tensors kept its initialisation.
    public enum FreshReason: String, Codable, Sendable {
        /// The file's classifier has another number of classes.
        case classCount = "class-count"
        /// The file has no classifier (a backbone-only file).
        case classifierNotInFile = "classifier-not-in-file"
        /// The model has Squeeze-and-Excitation layers the file lacks (a plain network's weights).
        case seNotInFile = "se-not-in-file"
    }

    public struct Fresh: Codable, Equatable, Sendable {
        public var reason: FreshReason
        /// The model's tensor names, in the model's order.
        public var tensors: [String]
        /// The reason in words ("the file's classifier has 10 classes, this model 2").
        public var detail: String
    }

    public var file: String
    public var sha256: String
    public var format: CheckpointFormat
    /// The model's name (`densenet121-se16`, …).
    public var model: String
    /// Where the state_dict was in the file: nil at the top, else its key ('state_dict', 'model', …).
    public var stateDictKey: String?
    /// Name changes made to the file's names (DataParallel prefix, torchvision's legacy DenseNet names).
    public var renames: [String]
    /// Element types as stored ("float32", "float16", …; "safetensors" for that format), all loaded as float32.
    public var storedTypes: [String]
    /// The model's tensors set from the file, in the model's order.
    public var loaded: [String]
    /// Scalars set from the file.
    public var loadedValues: Int
    public var fresh: [Fresh]
    /// The file's tensors (after renaming) that the model has no place for, in the file's order.
    public var unused: [String]
    /// The training step count taken from the file's `num_batches_tracked`, when it has one.
    public var batchesTracked: Int64?

    enum CodingKeys: String, CodingKey {
        case file, sha256, format, model, stateDictKey = "state_dict_key", renames, storedTypes = "stored_types", loaded
        case loadedValues = "loaded_values", fresh, unused, batchesTracked = "batches_tracked"
    }

    /// Every tensor of the model that kept its initialisation.
    public var freshTensors: [String] { fresh.flatMap(\.tensors) }

    /// The report for a terminal: a headline, then one line per group.
    public var lines: [String] {
        let total = loaded.count + freshTensors.count
        var out = ["loaded \(loaded.count) of \(model)'s \(total) tensors (\(Self.grouped(loadedValues)) values) from \(file)"]
        let location = stateDictKey.map { "the state_dict under '\($0)'" } ?? "a bare state_dict"
        out.append("  file: \(format.label), \(location), stored as \(storedTypes.joined(separator: ", ")); sha256 \(sha256)")
        for note in renames { out.append("  names: \(note)") }
        for group in fresh {
            out.append("  fresh \(group.tensors.count): \(Self.list(group.tensors)) — \(group.detail)")
        }
        out.append(unused.isEmpty ? "  unused: none (every tensor in the file was loaded)"
                                  : "  unused \(unused.count): \(Self.list(unused)) — in the file, not in the model")
        if let b = batchesTracked { out.append("  num_batches_tracked: \(b)") }
        return out
    }

    /// 7037504 → "7,037,504".
    static func grouped(_ n: Int) -> String {
        var digits = Array(String(n)), out = ""
        while digits.count > 3 { out = "," + String(digits.suffix(3)) + out; digits.removeLast(3) }
        return String(digits) + out
    }

    /// Up to four names, then how many more.
    static func list(_ names: [String]) -> String {
        names.prefix(4).joined(separator: ", ") + (names.count > 4 ? ", … (\(names.count - 4) more)" : "")
    }
}
