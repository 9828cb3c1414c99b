// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header mapping each name
// to {dtype, shape, data_offsets}, then the raw little-endian tensor bytes. F32 for parameters and buffers, I64
// for BatchNorm's `num_batches_tracked`, so `torch.load`-free round trips with `safetensors.torch` just work.
// Reading also accepts F16 and BF16 (half-precision pretrained weights), widened to Float.
import Foundation

public enum SafetensorsError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupportedDType(path: String, name: String, dtype: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read '\(path)': \(reason)"
        case let .unwritable(path, reason): return "cannot write '\(path)': \(reason)"
        case let .malformed(path, reason): return "'\(path)' is not a valid safetensors file: \(reason)"
        case let .unsupportedDType(path, name, dtype):
            return "'\(path)': tensor '\(name)' has dtype \(dtype); ablate reads F32, F16 and BF16 (and I64 counters) — convert with tensor.float()"
        }
    }
}

public enum Safetensors {
    /// Writes tensors (F32) plus optional I64 scalars (`counters`) and string metadata, atomically
    /// (temporary file, fsync, rename).
    public static func write(_ tensors: [String: TorchTensor], counters: [String: Int64] = [:],
                             metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var body = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let start = body.count
            t.values.withUnsafeBufferPointer { body.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [start, body.count]]
        }
        for name in counters.keys.sorted() {
            let start = body.count
            var v = counters[name]!.littleEndian
            withUnsafeBytes(of: &v) { body.append(contentsOf: $0) }
            header[name] = ["dtype": "I64", "shape": [Int](), "data_offsets": [start, body.count]]
        }
        try AtomicFile.write(try file(header: header, body: body), to: url)
    }

    /// A file's bytes: the header's length, the header (sorted keys, padded with spaces so the data starts 8-byte
    /// aligned), the data.
    static func file(header: [String: Any], body: Data) throws -> Data {
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        return out
    }

    /// The entries of a file (its bytes, `data`) that `keep` accepts, each with its dtype, shape and bytes as they
    /// are and in the file's order, under the metadata `metadata` makes of the file's: e.g. a checkpoint's model
    /// without its optimiser state, the same bytes `write` gives for those tensors. `path` names the file in errors.
    public static func subset(of data: Data, path: String, keeping keep: (String) -> Bool,
                              metadata: ([String: String]) throws -> [String: String]) throws -> Data {
        guard data.count >= 8 else { throw SafetensorsError.malformed(path: path, reason: "file is \(data.count) bytes, shorter than the 8-byte header length") }
        let len = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard len <= UInt64(data.count - 8),
              let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(len)))) as? [String: Any] else {
            throw SafetensorsError.malformed(path: path, reason: "no JSON header of \(len) bytes")
        }
        let base = 8 + Int(len)
        var kept: [(name: String, info: [String: Any], start: Int, end: Int)] = []
        for (name, value) in header where name != "__metadata__" && keep(name) {
            guard let info = value as? [String: Any], let offsets = info["data_offsets"] as? [Int], offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], base + offsets[1] <= data.count else {
                throw SafetensorsError.malformed(path: path, reason: "entry '\(name)' lacks data_offsets inside the file")
            }
            kept.append((name, info, base + offsets[0], base + offsets[1]))
        }
        var out: [String: Any] = [:]
        let newMetadata = try metadata(header["__metadata__"] as? [String: String] ?? [:])
        if !newMetadata.isEmpty { out["__metadata__"] = newMetadata }
        var body = Data()
        for entry in kept.sorted(by: { ($0.start, $0.name) < ($1.start, $1.name) }) {
            var info = entry.info
            info["data_offsets"] = [body.count, body.count + entry.end - entry.start]
            body.append(data.subdata(in: entry.start..<entry.end))
            out[entry.name] = info
        }
        return try file(header: out, body: body)
    }

    /// Reads F32 tensors (F16 and BF16 widened to Float) and I64 scalars (returned as floats in `tensors` too,
    /// for `num_batches_tracked`).
    public static func read(_ url: URL) throws -> (tensors: [String: TorchTensor], metadata: [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SafetensorsError.unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        return try read(data: data, path: url.path)
    }

    /// The same from a file's bytes already in memory; `path` names it in errors.
    public static func read(data: Data, path: String) throws -> (tensors: [String: TorchTensor], metadata: [String: String]) {
        guard data.count >= 8 else { throw SafetensorsError.malformed(path: path, reason: "file is \(data.count) bytes, shorter than the 8-byte header length") }
        let len = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard len <= UInt64(data.count - 8) else { throw SafetensorsError.malformed(path: path, reason: "header length \(len) exceeds the file size") }
        let headerData = data.subdata(in: 8..<(8 + Int(len)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw SafetensorsError.malformed(path: path, reason: "header is not a JSON object")
        }
        let base = 8 + Int(len)
        var tensors: [String: TorchTensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw SafetensorsError.malformed(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            let count = shape.reduce(1, *)
            let (start, end) = (base + offsets[0], base + offsets[1])
            guard offsets[0] >= 0, start <= end, end <= data.count else {
                throw SafetensorsError.malformed(path: path, reason: "entry '\(name)' points outside the file")
            }
            switch dtype {
            case "F32":
                guard end - start == count * 4 else { throw SafetensorsError.malformed(path: path, reason: "entry '\(name)' has \(end - start) bytes for shape \(shape)") }
                var values = [Float](repeating: 0, count: count)
                values.withUnsafeMutableBytes { dst in data.copyBytes(to: dst.bindMemory(to: UInt8.self), from: start..<end) }
                tensors[name] = TorchTensor(shape: shape, values: values.map { Float(bitPattern: $0.bitPattern.littleEndian) })
            case "I64":
                guard end - start == count * 8 else { throw SafetensorsError.malformed(path: path, reason: "entry '\(name)' has \(end - start) bytes for shape \(shape)") }
                let ints = data.subdata(in: start..<end).withUnsafeBytes { raw in
                    (0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
                }
                tensors[name] = TorchTensor(shape: shape, values: ints.map { Float($0) })
            case "F16", "BF16":
                guard end - start == count * 2 else { throw SafetensorsError.malformed(path: path, reason: "entry '\(name)' has \(end - start) bytes for shape \(shape)") }
                let values = data.subdata(in: start..<end).withUnsafeBytes { raw in
                    (0..<count).map { i -> Float in
                        let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                        return dtype == "F16" ? Float(float16Bits: bits) : Float(bfloat16Bits: bits)
                    }
                }
                tensors[name] = TorchTensor(shape: shape, values: values)
            default:
                throw SafetensorsError.unsupportedDType(path: path, name: name, dtype: dtype)
            }
        }
        return (tensors, metadata)
    }
}

extension ParameterStore {
    /// Saves every parameter and buffer (PyTorch names and layouts) plus each BN's `num_batches_tracked`.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        let counters = Dictionary(uniqueKeysWithValues: batchNormNames.map { ($0 + batchesTrackedSuffix, batchesTracked) })
        try Safetensors.write(stateDict(), counters: counters, metadata: metadata, to: url)
    }

    /// Loads a safetensors file saved by ablate or from a PyTorch state_dict of the same model.
    public func load(from url: URL) throws {
        try load(stateDict: Safetensors.read(url).tensors)
    }
}

/// Crash-safe file writes: a temporary file in the same directory, flushed to disk, then renamed over the target.
public enum AtomicFile {
    /// The operating system's reason for a Foundation file error ("No space left on device").
    static func reason(_ error: Error) -> String {
        var ns = error as NSError
        while let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError { ns = underlying }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }

    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw SafetensorsError.unwritable(path: url.path, reason: "cannot create a file in \(dir.path) (is it writable?)")
        }
        do {
            let handle = try FileHandle(forWritingTo: tmp)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
            if rename(tmp.path, url.path) != 0 {
                throw SafetensorsError.unwritable(path: url.path, reason: String(cString: strerror(errno)))
            }
        } catch let error as SafetensorsError {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        } catch {
            // A full disk or an I/O error: say which file and why, not Foundation's error dump.
            try? FileManager.default.removeItem(at: tmp)
            throw SafetensorsError.unwritable(path: url.path, reason: AtomicFile.reason(error))
        }
    }
}
