// A weight file read into named float tensors: the format found from its first bytes, the state_dict found in
// the object it holds, names mapped to the engine's, every tensor converted to Float in row-major order.
import AblateCore
import Engine
import Foundation

/// The tensors of one weight file, by the engine's names, with what reading them involved.
public struct CheckpointFile {
    public let path: String
    public let format: CheckpointFormat
    /// SHA-256 of the file's bytes (lower-case hex), for a run's configuration hash.
    public let sha256: String
    /// Where the state_dict was in the file's object: nil at the top, else the key ('state_dict', 'model', …).
    public let stateDictKey: String?
    /// Name changes made (DataParallel prefix, torchvision's legacy DenseNet names).
    public let renames: [String]
    /// The element types of the tensors as stored (float16, …), before conversion to Float.
    public let storedTypes: [String]
    public let tensors: [String: TorchTensor]
    /// The names in the file's order (after renaming).
    public let names: [String]

    /// The keys under which training scripts commonly keep the state_dict beside 'epoch', 'optimizer', ….
    public static let stateDictKeys = ["state_dict", "model", "model_state_dict"]

    public init(contentsOf url: URL) throws {
        let path = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError.unreadable(path: path, reason: ErrorText.reason(error))
        }
        if data.isEmpty { throw CheckpointError.empty(path: path) }
        let bytes = [UInt8](data)
        self.path = path
        sha256 = SHA256.hex(bytes: bytes)

        let raw: [(name: String, tensor: TorchTensor, type: String)]
        if TorchZipFormat.matches(bytes) {
            format = .torchZip
            (raw, stateDictKey) = try Self.tensors(TorchZipFormat.read(data, path: path), path: path, format: format)
        } else if TorchLegacyFormat.matches(bytes) {
            format = .torchLegacy
            (raw, stateDictKey) = try Self.tensors(TorchLegacyFormat.read(bytes, path: path), path: path, format: format)
        } else if Self.looksLikeSafetensors(bytes) {
            format = .safetensors
            stateDictKey = nil
            let read: [String: TorchTensor]
            do { read = try Safetensors.read(data: data, path: path).tensors } catch {
                throw CheckpointError.corrupt(path: path, format: .safetensors, reason: "\(error)")
            }
            let types = Self.safetensorsTypes(data)
            raw = read.keys.sorted().map { ($0, read[$0]!, types[$0] ?? "float32") }
        } else {
            let start = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw CheckpointError.unknownFormat(path: path, start: "bytes \(start)")
        }
        let (mapping, notes) = StateDictNames.normalise(raw.map(\.name))
        renames = notes
        names = raw.map { mapping[$0.name]! }
        tensors = Dictionary(raw.map { (mapping[$0.name]!, $0.tensor) }, uniquingKeysWith: { first, _ in first })
        storedTypes = Array(Set(raw.map(\.type))).sorted()
    }

    /// safetensors: an 8-byte little-endian header length that fits the file, then a JSON object.
    static func looksLikeSafetensors(_ bytes: [UInt8]) -> Bool {
        guard bytes.count > 9 else { return false }
        let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return length <= UInt64(bytes.count - 8) && bytes[8] == UInt8(ascii: "{")
    }

    /// Each safetensors entry's element type under torch's name (F16 → float16, …); the header was checked by
    /// `Safetensors.read`.
    static func safetensorsTypes(_ data: Data) -> [String: String] {
        let length = data.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any] else { return [:] }
        let torchNames = ["F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64"]
        return header.compactMapValues { (($0 as? [String: Any])?["dtype"] as? String).map { torchNames[$0] ?? $0 } }
    }

    /// The state_dict's tensors (file names, file order) from a torch file's object, and where it was.
    static func tensors(_ file: TorchPickle, path: String, format: CheckpointFormat) throws
        -> ([(name: String, tensor: TorchTensor, type: String)], String?) {
        guard case .dict(let top) = file.root else {
            throw CheckpointError.noStateDict(path: path, found: "the file holds a \(file.root.typeName)")
        }
        var found: (dict: PickleDict, key: String?)?
        if isStateDict(top) { found = (top, nil) }
        for key in stateDictKeys where found == nil {
            if case .dict(let inner)? = top[key], isStateDict(inner) { found = (inner, key) }
        }
        guard let (dict, key) = found else {
            let keys = top.stringKeys.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
            throw CheckpointError.noStateDict(path: path, found: top.entries.isEmpty ? "an empty dict" : "a dict with keys \(keys)")
        }
        var out: [(String, TorchTensor, String)] = []
        for (k, v) in dict.entries {
            guard let name = k.asString, case .tensor(let t) = v else { continue }
            guard let bytes = file.storages[t.storage.key] else {
                throw CheckpointError.corrupt(path: path, format: format, reason: "tensor '\(name)' uses storage '\(t.storage.key)', which the file lacks")
            }
            do { out.append((name, try t.values(from: bytes, bigEndian: file.bigEndian), t.storage.dtype.rawValue)) } catch let e as PickleError {
                throw CheckpointError.corrupt(path: path, format: format, reason: "tensor '\(name)': \(e)")
            }
        }
        return (out, key)
    }

    /// A dict whose values are tensors (at least one; state_dicts hold nothing else).
    static func isStateDict(_ d: PickleDict) -> Bool {
        !d.entries.isEmpty && d.entries.allSatisfy { if case .tensor = $0.value { return $0.key.asString != nil } else { return false } }
    }
}
