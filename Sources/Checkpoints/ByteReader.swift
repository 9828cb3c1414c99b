// A cursor over a file's bytes, for the unpickler and the legacy format's framing.

struct ByteReader {
    let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], at position: Int = 0) { self.bytes = bytes; self.position = position }

    var remaining: Int { bytes.count - position }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw PickleError.truncated(at: position) }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next `n` bytes (n checked against what is left before anything is allocated).
    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw PickleError.truncated(at: bytes.count) }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    /// An unsigned little-endian integer of `n` ≤ 8 bytes.
    mutating func unsigned(_ n: Int) throws -> UInt64 {
        try take(n).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A length prefix of `n` bytes, as an Int that `take` can check.
    mutating func length(_ n: Int) throws -> Int {
        let v = try unsigned(n)
        guard v <= UInt64(Int.max) else { throw PickleError.truncated(at: bytes.count) }
        return Int(v)
    }

    /// The bytes up to the next newline (which is consumed, not returned): protocol 0's text arguments.
    mutating func line() throws -> ArraySlice<UInt8> {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw PickleError.truncated(at: bytes.count) }
        defer { position = end + 1 }
        return bytes[position..<end]
    }
}

extension ArraySlice<UInt8> {
    /// UTF-8, or latin-1 where the bytes are not UTF-8 (Python 2's `str`).
    var text: String {
        String(validating: self, as: UTF8.self) ?? String(self.map { Character(Unicode.Scalar($0)) })
    }
}
