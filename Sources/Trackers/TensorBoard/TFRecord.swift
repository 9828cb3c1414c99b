// TFRecord framing, the container of TensorBoard's event files: per record, the data length (UInt64, little
// endian), the masked CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data (UInt32s little endian).

public enum TFRecord {
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndian(UInt64(data.count))
        return length + littleEndian(CRC32C.maskedChecksum(length)) + data + littleEndian(CRC32C.maskedChecksum(data))
    }

    /// The records of a file, in order. A truncated last record (a writer killed mid-write) ends the list without
    /// an error, as TensorBoard reads it; a record whose checksum does not match is an error.
    public static func records(in bytes: [UInt8]) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i + 12 <= bytes.count {
            let lengthBytes = Array(bytes[i..<i + 8])
            guard readUInt32(bytes, at: i + 8) == CRC32C.maskedChecksum(lengthBytes) else {
                throw TrackerError.corruptEventFile("record at byte \(i): length checksum mismatch")
            }
            let length = Int(lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            let start = i + 12
            guard length <= bytes.count - start, start + length + 4 <= bytes.count else { break }
            let data = Array(bytes[start..<start + length])
            guard readUInt32(bytes, at: start + length) == CRC32C.maskedChecksum(data) else {
                throw TrackerError.corruptEventFile("record at byte \(i): data checksum mismatch")
            }
            out.append(data)
            i = start + length + 4
        }
        return out
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    static func readUInt32(_ bytes: [UInt8], at i: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[i + $1]) << ($1 * 8) }
    }
}
