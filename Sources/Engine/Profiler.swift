// Per-operation timing for `ablate bench --profile`: wall time by op type and phase, so the next bottleneck
// is visible. Off by default; when off, `measure` is a direct call.
import Dispatch

public enum Phase: String, Codable, Sendable { case forward, backward, update }

public final class Profiler {
    nonisolated(unsafe) public static let shared = Profiler()
    public var enabled = false
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var calls: [String: Int] = [:]

    public func reset() { seconds = [:]; calls = [:] }

    @inline(__always)
    public func measure<T>(_ op: String, _ phase: Phase, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        let key = "\(op)|\(phase.rawValue)"
        seconds[key, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        calls[key, default: 0] += 1
        return r
    }

    /// Rows of (op, phase, seconds, calls), largest first.
    public var rows: [(op: String, phase: String, seconds: Double, calls: Int)] {
        seconds.map { key, s in
            let parts = key.split(separator: "|").map(String.init)
            return (parts[0], parts[1], s, calls[key] ?? 0)
        }.sorted { $0.seconds > $1.seconds }
    }
}
