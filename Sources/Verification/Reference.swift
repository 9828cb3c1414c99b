// Reading PyTorch golden files (`../shared/reference/*.json`): tensors are {"shape": [...], "data": [...]} in
// PyTorch layouts (NCHW activations, OIHW conv weights, [out, in] linear weights).
import Engine
import AblateCore
import Foundation

public enum ReferenceError: Error, CustomStringConvertible {
    case unreadable(String, String)
    case format(String, String)

    public var description: String {
        switch self {
        case let .unreadable(path, why): return "cannot read reference file '\(path)': \(why)"
        case let .format(path, why): return "'\(path)' is not a reference file ablate understands: \(why)"
        }
    }
}

/// A parsed JSON reference document with typed accessors that throw naming the missing key.
public struct ReferenceDocument {
    public let path: String
    public let root: [String: Any]

    public init(path: String) throws {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ReferenceError.unreadable(path, ErrorText.reason(error))
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReferenceError.format(path, "not a JSON object")
        }
        root = obj
    }

    public enum Kind { case ops, network }

    public var kind: Kind? {
        if root["cases"] is [Any] { return .ops }
        if root["config"] is [String: Any] { return .network }
        return nil
    }

    static func tensor(_ any: Any?, _ key: String, in path: String) throws -> TorchTensor {
        guard let d = any as? [String: Any], let shape = d["shape"] as? [Int], let data = d["data"] as? [Any] else {
            throw ReferenceError.format(path, "'\(key)' is not a {shape, data} tensor")
        }
        let values = data.map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) }
        guard values.count == shape.reduce(1, *) else {
            throw ReferenceError.format(path, "'\(key)' has \(values.count) values for shape \(shape)")
        }
        return TorchTensor(shape: shape, values: values)
    }

    static func tensors(_ any: Any?, _ key: String, in path: String) throws -> [String: TorchTensor] {
        guard let d = any as? [String: Any] else { throw ReferenceError.format(path, "'\(key)' is not a map of tensors") }
        var out: [String: TorchTensor] = [:]
        for (k, v) in d { out[k] = try tensor(v, "\(key).\(k)", in: path) }
        return out
    }
}

/// NCHW (PyTorch) ↔ NHWC (engine) conversions.
public enum Layout {
    public static func nhwc(_ t: TorchTensor) -> Tensor {
        precondition(t.shape.count == 4)
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let out = Tensor([n, h, w, c])
        for i in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            out[((i * h + y) * w + x) * c + ch] = t.values[((i * c + ch) * h + y) * w + x]
        } } } }
        return out
    }

    public static func nchw(_ m: FeatureMap) -> TorchTensor {
        var v = [Float](repeating: 0, count: m.n * m.c * m.h * m.w)
        for i in 0..<m.n { for ch in 0..<m.c { for y in 0..<m.h { for x in 0..<m.w {
            v[((i * m.c + ch) * m.h + y) * m.w + x] = m.base[((i * m.h + y) * m.w + x) * m.stride + ch]
        } } } }
        return TorchTensor(shape: [m.n, m.c, m.h, m.w], values: v)
    }
}
