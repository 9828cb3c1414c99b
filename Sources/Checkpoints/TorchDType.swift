// Element types of torch storages and their conversion to Float, the engine's only type.
import Engine

/// The element type of a torch storage, named by its legacy typed-storage class (`torch.FloatStorage`, …), which
/// `torch.save` still writes in every persistent id.
enum TorchDType: String, CaseIterable, Sendable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// `FloatStorage` → float32, and so on; nil for other names (complex, quantized, float8 storages).
    init?(storageClass name: String) {
        let table: [String: TorchDType] = [
            "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16,
            "BFloat16Storage": .bfloat16, "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16,
            "CharStorage": .int8, "ByteStorage": .uint8, "BoolStorage": .bool,
        ]
        guard let t = table[name] else { return nil }
        self = t
    }

    var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Whether values are floating point (the weights), as opposed to counters and masks.
    var isFloatingPoint: Bool { [.float32, .float64, .float16, .bfloat16].contains(self) }

    /// Element `i` of `bytes` as a Float (64-bit values rounded to nearest), in the file's byte order.
    @inline(__always)
    func value(_ bytes: UnsafeRawBufferPointer, _ i: Int, bigEndian: Bool) -> Float {
        let at = i * size
        func u16() -> UInt16 {
            let v = bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
        }
        func u32() -> UInt32 {
            let v = bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)
            return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
        }
        func u64() -> UInt64 {
            let v = bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            return bigEndian ? UInt64(bigEndian: v) : UInt64(littleEndian: v)
        }
        switch self {
        case .float32: return Float(bitPattern: u32())
        case .float64: return Float(Double(bitPattern: u64()))
        case .float16: return Float(float16Bits: u16())
        case .bfloat16: return Float(bfloat16Bits: u16())
        case .int64: return Float(Int64(bitPattern: u64()))
        case .int32: return Float(Int32(bitPattern: u32()))
        case .int16: return Float(Int16(bitPattern: u16()))
        case .int8: return Float(Int8(bitPattern: bytes[at]))
        case .uint8, .bool: return Float(bytes[at])
        }
    }
}
