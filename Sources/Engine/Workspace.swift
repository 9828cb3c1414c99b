// Scratch memory reused across layers and steps: a training step allocates nothing once the first step has
// sized the buffers (no page faults from fresh mmaps every step).

/// A set of named, growable, 64-byte aligned scratch buffers. Contents are not preserved between users.
public final class Workspace {
    private var slots: [String: Tensor] = [:]

    public init() {}

    /// A scratch buffer of at least `count` floats under `key` (grown, never shrunk).
    public func scratch(_ key: String, _ count: Int) -> UnsafeMutablePointer<Float> {
        if let t = slots[key], t.count >= count { return t.data }
        let t = Tensor([max(count, 16)])
        slots[key] = t
        return t.data
    }

    /// Bytes held by all scratch buffers.
    public var bytes: Int { slots.values.reduce(0) { $0 + $1.count * 4 } }
}
