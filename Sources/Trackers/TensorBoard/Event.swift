// TensorBoard's `Event` message (tensorflow/core/util/event.proto), the subset a scalar log needs:
//   Event   { double wall_time = 1; int64 step = 2; oneof { string file_version = 3; Summary summary = 5; } }
//   Summary { repeated Value value = 1; }     Value { string tag = 1; float simple_value = 2; }

public struct Event: Equatable, Sendable {
    public enum Content: Equatable, Sendable {
        /// The first record of every file: "brain.Event:2" tells readers the file's event semantics.
        case fileVersion(String)
        /// Scalars as (tag, value); TensorBoard's scalar summaries hold 32-bit floats.
        case scalars([Scalar])
    }

    public struct Scalar: Equatable, Sendable {
        public var tag: String
        public var value: Float
        public init(tag: String, value: Float) { self.tag = tag; self.value = value }
    }

    public var wallTime: Double
    public var step: Int64
    public var content: Content

    public init(wallTime: Double, step: Int64, content: Content) {
        self.wallTime = wallTime; self.step = step; self.content = content
    }

    public static let fileVersion = "brain.Event:2"

    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        w.double(1, wallTime)
        if step != 0 { w.int64(2, step) }
        switch content {
        case .fileVersion(let version): w.string(3, version)
        case .scalars(let scalars):
            var summary = ProtobufWriter()
            for s in scalars {
                var value = ProtobufWriter()
                value.string(1, s.tag)
                value.float(2, s.value)
                summary.bytes(1, value.bytes)
            }
            w.bytes(5, summary.bytes)
        }
        return w.bytes
    }

    /// Reads what `encoded` writes; fields other events carry (graphs, images, …) are skipped.
    public init(decoding bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes)
        wallTime = 0; step = 0; content = .scalars([])
        var scalars: [Scalar] = []
        for field in try reader.fields() {
            switch field {
            case .fixed64(1, let bits): wallTime = Double(bitPattern: bits)
            case .varint(2, let v): step = Int64(bitPattern: v)
            case .bytes(3, let text): content = .fileVersion(String(decoding: text, as: UTF8.self))
            case .bytes(5, let summary):
                var summaryReader = ProtobufReader(summary)
                for case .bytes(1, let value) in try summaryReader.fields() {
                    var valueReader = ProtobufReader(value)
                    var scalar = Scalar(tag: "", value: .nan)
                    var hasValue = false
                    for f in try valueReader.fields() {
                        if case .bytes(1, let tag) = f { scalar.tag = String(decoding: tag, as: UTF8.self) }
                        if case .fixed32(2, let bits) = f { scalar.value = Float(bitPattern: bits); hasValue = true }
                    }
                    if hasValue { scalars.append(scalar) }
                }
                content = .scalars(scalars)
            default: continue
            }
        }
    }
}
