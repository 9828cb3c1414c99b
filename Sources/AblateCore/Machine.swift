// The machine a run trained on. Training is bit-reproducible on one processor model and library build, not across
// them (oneDNN picks other kernels on another ISA, and the summation order follows), so a run records where it ran
// beside its numbers; a run resumed elsewhere records every machine it trained on, in order.
import Foundation

/// One machine as a run records it (`runs.hardware_json`, `status --json`, exports, the report's cost table).
public struct Machine: Equatable, Sendable, Codable {
    /// The processor's model name (`/proc/cpuinfo`), e.g. "AMD EPYC 7B13"; "unknown" where the system does not say.
    public var cpu: String
    /// The widest vector ISA the processor offers: `avx512+bf16`, `avx512`, `avx2`, `x86-64` (neither),
    /// `neon` (arm64), or the architecture's name elsewhere.
    public var isa: String
    /// Logical CPUs the operating system offers.
    public var logicalCPUs: Int
    /// Threads the run's arithmetic used.
    public var threads: Int
    /// Physical memory in GiB, rounded to a tenth.
    public var memoryGiB: Double
    /// The oneDNN library that ran, e.g. "2.6.3", with its ISA cap when one is set ("2.6.3, max ISA AVX2").
    public var onednn: String?
    /// The OpenBLAS library, e.g. "0.3.21 Zen".
    public var openblas: String?
    /// What ran the arithmetic (`Backend.description`: openblas, onednn, onednn+winograd).
    public var backend: String

    public init(cpu: String, isa: String, logicalCPUs: Int, threads: Int, memoryGiB: Double, onednn: String?,
                openblas: String?, backend: String) {
        self.cpu = cpu; self.isa = isa; self.logicalCPUs = logicalCPUs; self.threads = threads
        self.memoryGiB = memoryGiB; self.onednn = onednn; self.openblas = openblas; self.backend = backend
    }

    /// One line for tables and logs: "AMD EPYC 7B13 (avx2), 2 of 2 CPUs, 23.4 GiB, oneDNN 2.6.3".
    public var summary: String {
        var text = "\(cpu) (\(isa)), \(threads) of \(logicalCPUs) CPUs, \(Machine.gib(memoryGiB)) GiB"
        if let onednn, backend.hasPrefix("onednn") { text += ", oneDNN \(onednn)" }
        if backend == "openblas", let openblas { text += ", OpenBLAS \(openblas)" }
        return text
    }

    /// The processor alone, "AMD EPYC 7B13 (avx2)": what a matrix that ran on several machines differs in.
    public var processor: String { "\(cpu) (\(isa))" }

    static func gib(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    // MARK: JSON (the store's column and the export's field)

    enum CodingKeys: String, CodingKey {
        case cpu, isa, logicalCPUs = "logical_cpus", threads, memoryGiB = "memory_gib", onednn, openblas, backend
    }

    /// The canonical JSON object (keys as `CodingKeys` spell them).
    public var json: JSONValue {
        .object([
            CodingKeys.cpu.rawValue: .string(cpu), CodingKeys.isa.rawValue: .string(isa),
            CodingKeys.logicalCPUs.rawValue: .int(logicalCPUs), CodingKeys.threads.rawValue: .int(threads),
            CodingKeys.memoryGiB.rawValue: .double(memoryGiB),
            CodingKeys.onednn.rawValue: onednn.map(JSONValue.string) ?? .null,
            CodingKeys.openblas.rawValue: openblas.map(JSONValue.string) ?? .null,
            CodingKeys.backend.rawValue: .string(backend),
        ])
    }

    /// The stored list: a canonical JSON array of machine objects, in the order the run trained on them.
    public static func encode(_ machines: [Machine]) -> String { JSONValue.array(machines.map(\.json)).canonical }

    /// Machines from the stored text; nil text (a store written before machines were recorded) is an empty list.
    public static func decode(_ text: String?) throws -> [Machine] {
        guard let text else { return [] }
        do { return try JSONDecoder().decode([Machine].self, from: Data(text.utf8)) } catch {
            throw MachineDecodingError(text: text)
        }
    }

    /// `list` with `machine` appended unless it is already the last one (a resume on the same machine).
    public static func appending(_ machine: Machine, to list: [Machine]) -> [Machine] {
        list.last == machine ? list : list + [machine]
    }
}

public struct MachineDecodingError: Error, CustomStringConvertible {
    public let text: String
    public var description: String {
        "the recorded machines are not a JSON array of {cpu, isa, logical_cpus, threads, memory_gib, backend} objects: "
            + String(text.prefix(200))
    }
}

// MARK: - This processor

/// What the operating system says about this processor (Linux: /proc/cpuinfo, /proc/meminfo).
public enum ProcessorInfo {
    /// The processor's model name.
    public static let modelName: String = {
        for line in cpuinfoLines {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            // x86-64: "model name"; arm64 kernels print no model name, some print "Hardware" or "CPU part".
            if key == "model name" || key == "Hardware" {
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { return value }
            }
        }
        return "unknown"
    }()

    /// The feature flags of the first processor (x86 `flags`, arm64 `Features`).
    public static let flags: Set<String> = {
        for line in cpuinfoLines where line.hasPrefix("flags") || line.hasPrefix("Features") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { return Set(parts[1].split(separator: " ").map(String.init)) }
        }
        return []
    }()

    /// The widest vector ISA the processor offers (see `Machine.isa`).
    public static var isa: String { isaLevel(flags: flags) }

    /// `isa` from a flag set: AVX-512 counts when the core subset oneDNN's AVX-512 kernels need (F, BW, VL, DQ)
    /// is there.
    public static func isaLevel(flags: Set<String>) -> String {
        #if arch(x86_64)
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return "avx512+bf16" }
        if avx512 { return "avx512" }
        if flags.contains("avx2") && flags.contains("fma") { return "avx2" }
        return "x86-64"
        #elseif arch(arm64)
        return "neon"
        #else
        return "unknown"
        #endif
    }

    /// Physical memory in GiB (one decimal), 0 where /proc/meminfo is missing.
    public static let memoryGiB: Double = {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0
            return (kib / 1_048_576 * 10).rounded() / 10
        }
        return 0
    }()

    private static let cpuinfoLines: [Substring] = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n")
    }()
}

/// oneDNN's own cap on the ISA it dispatches to (`ONEDNN_MAX_CPU_ISA`, older releases `DNNL_MAX_CPU_ISA`), as
/// the environment sets it; nil when neither is set.
public enum OneDNNISACap {
    public static var value: String? {
        let env = ProcessInfo.processInfo.environment
        for key in ["ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"] {
            if let v = env[key]?.trimmingCharacters(in: .whitespaces), !v.isEmpty { return v.uppercased() }
        }
        return nil
    }

    /// Whether the cap (if any) lets oneDNN use AVX-512 kernels: `SSE41`, `AVX`, `AVX2` and the `AVX2_*` levels
    /// do not; `AVX512_*`, `AMX`-levels, `ALL` and `DEFAULT` do.
    public static var allowsAVX512: Bool {
        guard let v = value else { return true }
        return !(v.hasPrefix("SSE") || v == "AVX" || v.hasPrefix("AVX2"))
    }
}
