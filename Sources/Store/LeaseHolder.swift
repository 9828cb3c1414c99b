import Foundation

/// The process that holds a run's lease, recorded with the claim so that another process can tell at once that
/// the holder is gone instead of waiting for its heartbeat to go stale.
///
/// Why: a run whose process was killed (`kill -9`, the machine or session stopped, a Slurm job preempted) stays
/// `running` in the store. The heartbeat rule (`staleAfter`, 10 minutes by default) is the only test that works
/// across machines, but on the same machine it leaves a run untouched for those minutes: a restarted
/// `ablate run` skipped it and trained the rest, and the matrix looked done while one run sat half-trained.
///
/// A process id means something only on its machine, within its process-id namespace, until the next boot, and
/// the kernel reuses it once the process has exited. So the holder is recorded as host + boot id + pid namespace +
/// pid + the process's start time, and judged by the process table only when its answer is certain:
/// - gone: same host, boot and namespace, and no process has that pid (`kill(pid, 0)` fails with ESRCH), or the
///   one that has it started at another time (the pid was reused) or is a zombie; or same host name but another boot (the
///   machine restarted since, and every process of the old boot died). Its run is resumed at once.
/// - alive: same host, boot and namespace, and the process with that pid started when the holder did and is not a
///   zombie (killed, not yet reaped by its parent). It keeps its run whatever its heartbeat says: it may be paused
///   (SIGSTOP, to free the cores for a benchmark) or busy in one long step, and a second process taking the run
///   would only make the first fail with a lost lease. A holder that hangs must be killed by hand.
/// Anything else (another host, or facts that cannot be read, e.g. without /proc, or a holder recorded without its
/// start time) is left to the heartbeat rule.
public struct LeaseHolder: Equatable, Sendable {
    public var host: String
    /// `/proc/sys/kernel/random/boot_id`: changes at every boot.
    public var bootID: String
    /// `/proc/self/ns/pid`, e.g. `pid:[4026531836]`: containers on one kernel have their own pid numbering.
    public var pidNamespace: String
    public var pid: Int32
    /// When the process started, in clock ticks after boot (`/proc/<pid>/stat`, field 22): with the pid it names
    /// one process for the whole boot. nil when the row does not hold it (written by an ablate that did not record it).
    public var startTime: UInt64?

    public init(host: String, bootID: String, pidNamespace: String, pid: Int32, startTime: UInt64?) {
        self.host = host; self.bootID = bootID; self.pidNamespace = pidNamespace; self.pid = pid
        self.startTime = startTime
    }

    /// This process on `host`, or nil where the boot id or pid namespace cannot be read.
    public static func current(host: String) -> LeaseHolder? {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines), !boot.isEmpty,
              let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"),
              !namespace.isEmpty else { return nil }
        let pid = getpid()
        return LeaseHolder(host: host, bootID: boot, pidNamespace: namespace, pid: pid, startTime: startTime(of: pid))
    }

    /// The process with `pid` in this namespace as `/proc/<pid>/stat` describes it: its start time, and whether it
    /// has exited and waits only to be reaped (state Z or X). nil when there is none or /proc cannot say.
    public static func process(_ pid: Int32) -> (startTime: UInt64, exited: Bool)? {
        guard let stat = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let endOfName = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // "pid (name) state ppid …": the name may hold spaces, parentheses and bytes that are not UTF-8, so count
        // from after its last ")", where field 3 (state) comes first and field 22 (starttime) is the 20th.
        let fields = stat[stat.index(after: endOfName)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 19, let start = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
        let state = String(decoding: fields[0], as: UTF8.self)
        return (start, state == "Z" || state == "X")
    }

    /// The start time of the process with `pid` in this namespace, nil when there is none or /proc cannot say.
    public static func startTime(of pid: Int32) -> UInt64? { process(pid)?.startTime }

    /// Same machine, boot and pid namespace: the process table here can speak for the holder.
    private func sharesProcessTable(with observer: LeaseHolder) -> Bool {
        host == observer.host && bootID == observer.bootID && pidNamespace == observer.pidNamespace
    }

    /// True when this holder has certainly exited, judged from `observer` (the current process); false when it
    /// may still run.
    public func isGone(seenFrom observer: LeaseHolder) -> Bool {
        guard host == observer.host else { return false }
        if bootID != observer.bootID { return true }
        guard sharesProcessTable(with: observer) else { return false }
        if kill(pid, 0) == -1 && errno == ESRCH { return true }
        // The pid is taken: by the holder (perhaps exited, not yet reaped), or by a later process that reused it.
        guard let startTime, let current = Self.process(pid) else { return false }
        return current.startTime != startTime || current.exited
    }

    /// True when this holder certainly still runs, judged from `observer`: see the type's comment.
    public func isAlive(seenFrom observer: LeaseHolder) -> Bool {
        guard sharesProcessTable(with: observer), let startTime, let current = Self.process(pid) else { return false }
        return current.startTime == startTime && !current.exited
    }

    /// The column form, `<boot id> <pid namespace> <pid> <start time>` (the host has its own column; rows
    /// written by an ablate that did not record the start time have three fields).
    var recorded: String { "\(bootID) \(pidNamespace) \(pid)" + (startTime.map { " \($0)" } ?? "") }

    /// Parses `recorded`; nil for anything else (e.g. a row written before holders were recorded).
    init?(host: String?, recorded: String?) {
        guard let host, let parts = recorded?.split(separator: " ").map(String.init), (3...4).contains(parts.count),
              let pid = Int32(parts[2]) else { return nil }
        let startTime = parts.count == 4 ? UInt64(parts[3]) : nil
        guard parts.count == 3 || startTime != nil else { return nil }
        self.init(host: host, bootID: parts[0], pidNamespace: parts[1], pid: pid, startTime: startTime)
    }
}
