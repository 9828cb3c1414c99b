import Foundation

/// The process that holds a run's lease, recorded with the claim so that another process can tell at once that
/// the holder is gone instead of waiting for its heartbeat to go stale.
///
/// Why: a run whose process was killed (`kill -9`, the machine or session stopped, a Slurm job preempted) stays
/// `running` in the store. The heartbeat rule (`staleAfter`, 10 minutes by default) is the only test that works
/// across machines, but on the same machine it leaves a run untouched for those minutes: a restarted
/// `ablate run` skipped it and trained the rest, and the matrix looked done while one run sat half-trained.
///
/// A process id means something only on its machine, within its process-id namespace, until the next boot. So
/// the holder is recorded as host + boot id + pid namespace + pid, and judged gone only when that is certain:
/// - same host, same boot, same namespace, and no process with that pid exists (`kill(pid, 0)` fails with
///   ESRCH); a pid that was reused by another process looks alive, so the heartbeat rule still decides, or
/// - same host name but another boot: the machine restarted since, and every process of the old boot died.
/// Anything else (another host, or facts that cannot be read, e.g. without /proc) is left to the heartbeat rule.
public struct LeaseHolder: Equatable, Sendable {
    public var host: String
    /// `/proc/sys/kernel/random/boot_id`: changes at every boot.
    public var bootID: String
    /// `/proc/self/ns/pid`, e.g. `pid:[4026531836]`: containers on one kernel have their own pid numbering.
    public var pidNamespace: String
    public var pid: Int32

    public init(host: String, bootID: String, pidNamespace: String, pid: Int32) {
        self.host = host; self.bootID = bootID; self.pidNamespace = pidNamespace; self.pid = pid
    }

    /// This process on `host`, or nil where the boot id or pid namespace cannot be read.
    public static func current(host: String) -> LeaseHolder? {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines), !boot.isEmpty,
              let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"),
              !namespace.isEmpty else { return nil }
        return LeaseHolder(host: host, bootID: boot, pidNamespace: namespace, pid: getpid())
    }

    /// True when this holder has certainly exited, judged from `observer` (the current process); false when it
    /// may still run.
    public func isGone(seenFrom observer: LeaseHolder) -> Bool {
        guard host == observer.host else { return false }
        if bootID != observer.bootID { return true }
        guard pidNamespace == observer.pidNamespace else { return false }
        if pid == observer.pid { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }

    /// The column form, `<boot id> <pid namespace> <pid>` (the host has its own column).
    var recorded: String { "\(bootID) \(pidNamespace) \(pid)" }

    /// Parses `recorded`; nil for anything else (e.g. a row written before holders were recorded).
    init?(host: String?, recorded: String?) {
        guard let host, let parts = recorded?.split(separator: " ").map(String.init), parts.count == 3,
              let pid = Int32(parts[2]) else { return nil }
        self.init(host: host, bootID: parts[0], pidNamespace: parts[1], pid: pid)
    }
}
