// The few protocol-buffer wire rules an `Event` needs (varint, 64-bit, 32-bit, length-delimited), written and
// read by hand: three message types do not justify a code generator and its runtime.

struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, wireType: 1)
        bytes += TFRecord.littleEndian(value.bitPattern)
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, wireType: 5)
        bytes += TFRecord.littleEndian(value.bitPattern)
    }

    /// int64 fields are varints of the two's-complement value (ten bytes when negative).
    mutating func int64(_ field: Int, _ value: Int64) {
        key(field, wireType: 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }
}

/// One field as read: its number and its value by wire type.
enum ProtobufField {
    case varint(Int, UInt64)
    case fixed64(Int, UInt64)
    case fixed32(Int, UInt32)
    case bytes(Int, [UInt8])
}

struct ProtobufReader {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func fields() throws -> [ProtobufField] {
        var out: [ProtobufField] = []
        while index < bytes.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: out.append(.varint(field, try varint()))
            case 1: out.append(.fixed64(field, try fixed(8)))
            case 5: out.append(.fixed32(field, UInt32(try fixed(4))))
            case 2:
                let length = Int(try varint())
                guard length <= bytes.count - index else { throw TrackerError.corruptEventFile("field \(field) runs past its message") }
                out.append(.bytes(field, Array(bytes[index..<index + length])))
                index += length
            default: throw TrackerError.corruptEventFile("wire type \(key & 7) is not one an Event uses")
            }
        }
        return out
    }

    private mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let b = bytes[index]
            index += 1
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
        throw TrackerError.corruptEventFile("truncated varint")
    }

    private mutating func fixed(_ n: Int) throws -> UInt64 {
        guard n <= bytes.count - index else { throw TrackerError.corruptEventFile("truncated fixed-width field") }
        defer { index += n }
        return (0..<n).reduce(UInt64(0)) { $0 | UInt64(bytes[index + $1]) << ($1 * 8) }
    }
}
