import AblateCore
import Foundation

/// The `#SBATCH` settings a user chooses for a plan's job array.
public struct SlurmOptions: Equatable, Sendable {
    public var partition: String?
    /// Wall-time limit per task, `HH:MM:SS` (or any form sbatch accepts).
    public var time: String?
    public var cpusPerTask: Int
    public var memory: String?
    /// At most this many tasks at once (`--array=…%K`); nil = as many as the cluster allows.
    public var maxParallel: Int?
    public var account: String?
    /// Extra `#SBATCH` lines, e.g. `--qos=long --constraint=avx512`, split on whitespace.
    public var extraSbatch: [String]
    /// Seconds before the time limit at which Slurm sends SIGUSR1: the task checkpoints, stops and requeues.
    public var signalLeadSeconds: Int

    public init(partition: String? = nil, time: String? = nil, cpusPerTask: Int = 2, memory: String? = nil,
                maxParallel: Int? = nil, account: String? = nil, extraSbatch: [String] = [], signalLeadSeconds: Int = 300) {
        self.partition = partition; self.time = time; self.cpusPerTask = cpusPerTask; self.memory = memory
        self.maxParallel = maxParallel; self.account = account; self.extraSbatch = extraSbatch
        self.signalLeadSeconds = signalLeadSeconds
    }

    /// What is wrong with these settings, one line each (empty when nothing is). Each value becomes the text of
    /// an `#SBATCH` line of a shell script: a newline in it would end the directives there (sbatch stops reading
    /// them at the first command, so the later ones would be dropped without a word) or run as a command, so values
    /// are single words of the characters Slurm's own names, times and sizes use, and times and sizes have sbatch's
    /// forms. Slurm may still reject a partition or account that does not exist; that error comes from sbatch.
    public var problems: [String] {
        var found: [String] = []
        let word = #/[A-Za-z0-9_.,:+=@%\/-]+/#
        for (option, value) in [("--partition", partition), ("--account", account)] {
            if let value, value.wholeMatch(of: word) == nil {
                found.append("\(option) must be one word of letters, digits and _ . , : + = @ % / -, got '\(value)'")
            }
        }
        // sbatch --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes,
        // days-hours:minutes:seconds, or no limit (UNLIMITED, INFINITE, -1).
        if let time, time.wholeMatch(of: #/(\d+(:\d{1,2}){0,2})|(\d+-\d{1,2}(:\d{1,2}){0,2})|(?i:unlimited|infinite)|-1/#) == nil {
            found.append("--time must be in a form sbatch accepts (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or "
                         + "UNLIMITED), got '\(time)'")
        }
        // sbatch --mem: a whole number with an optional unit K, M, G or T, itself optionally followed by B.
        if let memory, memory.wholeMatch(of: #/\d+([KMGTkmgt][Bb]?)?/#) == nil {
            found.append("--mem must be a size such as 8G, 512MB or 16000 (megabytes), got '\(memory)'")
        }
        if !(1...Self.maxCPUsPerTask).contains(cpusPerTask) {
            found.append("--cpus-per-task must be between 1 and \(Self.maxCPUsPerTask) (it is also each task's thread "
                         + "count), got \(cpusPerTask)")
        }
        if let k = maxParallel, k < 1 { found.append("--max-parallel must be at least 1, got \(k)") }
        for option in extraSbatch where option.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 32 } == true }) {
            found.append("--extra-sbatch must not hold line breaks or control characters, got '\(option)'")
        }
        return found
    }

    /// What is wrong with the folders the scripts' `#SBATCH --output=…` and `--chdir=…` lines name: one
    /// `#SBATCH` value ends at a space, and a line break would start a new line of the script, so paths holding
    /// either (or another control character) are refused with the option that names them.
    public static func pathProblems(_ paths: [(what: String, path: String)]) -> [String] {
        paths.compactMap { what, path in
            path.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 32 } == true })
                ? "\(what) '\(path)' holds a space or a control character, which an #SBATCH line cannot hold; use a "
                    + "path without them" : nil
        }
    }

    /// The most threads a task can use: `training.threads`' limit.
    public static let maxCPUsPerTask = TrainingSection.maxThreads
}

extension SlurmPlan {
    /// `--array` value for `tasks` (all by default), e.g. `0-11%4` or `1,4,7%4`.
    public static func arraySpec(_ tasks: [Int], maxParallel: Int?) -> String {
        let sorted = tasks.sorted()
        var ranges: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            ranges.append(j > i ? "\(sorted[i])-\(sorted[j])" : "\(sorted[i])")
            i = j + 1
        }
        return ranges.joined(separator: ",") + (maxParallel.map { "%\($0)" } ?? "")
    }

    /// The job array: task i runs `ablate task DIR` (its index from SLURM_ARRAY_TASK_ID). `exec` makes ablate the
    /// batch step's process, so the early `--signal=B:USR1@…` reaches it.
    public func arrayScript(folder: String, executable: String, options: SlurmOptions) -> String {
        var lines = ["#!/bin/bash",
                     "# Written by `ablate slurm` for experiment \(experiment): task i trains run i of plan.json.",
                     "# Submit with `ablate slurm … --submit` (it also submits merge.sbatch after the array).",
                     "#SBATCH --job-name=ablate-\(experiment)",
                     "#SBATCH --array=\(SlurmPlan.arraySpec(Array(tasks.indices), maxParallel: options.maxParallel))",
                     "#SBATCH --output=\(folder)/logs/task-%a.log",
                     "#SBATCH --open-mode=append",
                     "#SBATCH --requeue",
                     "#SBATCH --signal=B:USR1@\(options.signalLeadSeconds)",
                     "#SBATCH --cpus-per-task=\(options.cpusPerTask)",
                     "#SBATCH --chdir=\(baseDirectory)"]
        lines += optionalLines(options)
        lines += ["", "exec \(SlurmPlan.quote(executable)) task \(SlurmPlan.quote(folder))", ""]
        return lines.joined(separator: "\n")
    }

    /// Gathers every task store into merged.sqlite; submitted with `--dependency=afterany:<array job>`.
    public func mergeScript(folder: String, executable: String, options: SlurmOptions) -> String {
        var lines = ["#!/bin/bash",
                     "# Written by `ablate slurm`: gathers the task stores of plan.json into merged.sqlite.",
                     "#SBATCH --job-name=ablate-\(experiment)-merge",
                     "#SBATCH --output=\(folder)/logs/merge.log",
                     "#SBATCH --open-mode=append",
                     "#SBATCH --cpus-per-task=1",
                     "#SBATCH --chdir=\(baseDirectory)"]
        var merge = options
        merge.time = nil
        merge.memory = nil
        lines += optionalLines(merge)
        lines += ["", "exec \(SlurmPlan.quote(executable)) merge --dir \(SlurmPlan.quote(folder))", ""]
        return lines.joined(separator: "\n")
    }

    private func optionalLines(_ o: SlurmOptions) -> [String] {
        var lines: [String] = []
        if let p = o.partition { lines.append("#SBATCH --partition=\(p)") }
        if let t = o.time { lines.append("#SBATCH --time=\(t)") }
        if let m = o.memory { lines.append("#SBATCH --mem=\(m)") }
        if let a = o.account { lines.append("#SBATCH --account=\(a)") }
        lines += o.extraSbatch.map { "#SBATCH \($0)" }
        return lines
    }

    /// Single-quoted for the shell when it holds anything but safe characters.
    static func quote(_ s: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@")
        if !s.isEmpty && s.unicodeScalars.allSatisfy(safe.contains) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
