// A tensor's values from its storage's bytes, in row-major order, for any shape, strides and offset that
// `torch._utils._rebuild_tensor_v2` describes (a transposed or sliced tensor saved as such keeps its strides).
import Engine

extension TensorRef {
    /// Element (i₀, …, iₙ₋₁) is storage element `storage.elementOffset + offset + Σ iₖ · strides[k]`; every such
    /// index is checked to lie inside the storage before any is read.
    func values(from bytes: [UInt8], bigEndian: Bool) throws -> TorchTensor {
        let count = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), offset >= 0 else { throw PickleError.malformed("tensor of shape \(shape) at offset \(offset)") }
        if count == 0 { return TorchTensor(shape: shape, values: []) }
        // The largest index reached; strides are never negative in torch.
        guard strides.allSatisfy({ $0 >= 0 }) else { throw PickleError.malformed("negative strides \(strides)") }
        let base = storage.elementOffset + offset
        let last = base + zip(shape, strides).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
        let available = bytes.count / storage.dtype.size
        guard last < available, storage.elementOffset + storage.count <= available else {
            throw PickleError.malformed("a tensor of shape \(shape), strides \(strides) and offset \(offset) reaches element \(last) of a storage of \(available)")
        }
        let dtype = storage.dtype
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            var rowMajor = [Int](repeating: 1, count: shape.count)
            for k in stride(from: shape.count - 2, through: 0, by: -1) { rowMajor[k] = rowMajor[k + 1] * shape[k + 1] }
            // Size-1 dimensions do not move through memory, whatever stride they carry.
            let contiguous = zip(zip(shape, strides), rowMajor).allSatisfy { $0.0.0 == 1 || $0.0.1 == $0.1 }
            if contiguous {
                for i in 0..<count { out[i] = dtype.value(raw, base + i, bigEndian: bigEndian) }
                return
            }
            // An odometer over the multi-index, moving the storage index by the strides.
            var index = [Int](repeating: 0, count: shape.count), at = base
            for i in 0..<count {
                out[i] = dtype.value(raw, at, bigEndian: bigEndian)
                var k = shape.count - 1
                while k >= 0 {
                    index[k] += 1; at += strides[k]
                    if index[k] < shape[k] { break }
                    at -= strides[k] * shape[k]; index[k] = 0; k -= 1
                }
            }
        }
        return TorchTensor(shape: shape, values: out)
    }
}
