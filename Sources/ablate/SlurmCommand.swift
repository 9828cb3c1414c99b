import ArgumentParser
import ExperimentFile
import Foundation
import Runner
import Store

struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write (and with --submit, submit) a Slurm job array that runs an experiment, one task per run.",
        discussion: """
            Writes DIR/plan.json (the matrix frozen with its config hashes: later edits of FILE cannot reshuffle \
            tasks), DIR/array.sbatch (one task per run, its own run store DIR/tasks/I.sqlite and checkpoint folder, \
            --requeue, a SIGUSR1 ahead of the time limit on which the task checkpoints and requeues itself, one \
            log per task in DIR/logs/) and DIR/merge.sbatch (gathers the task stores into DIR/merged.sqlite after \
            the array). --missing submits only the tasks whose runs are not finished (for clusters that cancel \
            instead of requeueing). Watch with `ablate status --dir DIR`; report with \
            `ablate report --db DIR/merged.sqlite`.
            """)

    @Argument(help: "Experiment file (YAML).") var file: String
    @Option(help: "Slurm partition.") var partition: String?
    @Option(help: "Wall-time limit per task, e.g. 04:00:00.") var time: String?
    @Option(help: "CPUs per task (default: the runs' training.threads, else 2); also the task's thread count.")
    var cpusPerTask: Int?
    @Option(help: "Memory per task, e.g. 8G.") var mem: String?
    @Option(help: "At most this many tasks at once.") var maxParallel: Int?
    @Option(help: "Slurm account.") var account: String?
    @Option(parsing: .unconditional, help: "Extra sbatch options, e.g. '--qos=long --constraint=avx512'.")
    var extraSbatch: String?
    @Option(help: "Plan folder (default: runs/<experiment>/slurm).") var dir: String?
    @Option(name: .customLong("only"), help: ArgumentHelp("Keep runs whose setting KEY equals VALUE.", valueName: "KEY=VALUE"))
    var only: [String] = []
    @Option(help: "Data folder, replacing data.path of the file.") var data: String?
    @Flag(help: "Submit the array and the merge job with sbatch and print their job ids.") var submit = false
    @Flag(help: "Submit only the tasks whose runs are not finished (implies --submit).") var missing = false

    func validate() throws {
        let problems = SlurmOptions(partition: partition, time: time, cpusPerTask: cpusPerTask ?? 1, memory: mem,
                                    maxParallel: maxParallel, account: account, extraSbatch: extraSbatchWords).problems
        guard problems.isEmpty else { throw ValidationError(problems.joined(separator: "\n")) }
    }

    /// --extra-sbatch split into its options (on spaces and tabs; a line break stays in a word and is refused).
    var extraSbatchWords: [String] {
        extraSbatch.map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) } ?? []
    }

    func run() throws {
        let cwd = FileManager.default.currentDirectoryPath
        let experiment = try Experiment.load(file: file, options: .init(dataOverride: data))
        let runs = try experiment.runs(matching: only)
        let folder = Experiment.resolve(dir ?? "runs/\(experiment.name)/slurm", against: cwd)
        var plan = SlurmPlan(experiment: experiment, runs: runs, baseDirectory: cwd, dataOverride: data)
        if FileManager.default.fileExists(atPath: SlurmPlan.planPath(folder)) {
            let frozen = try SlurmPlan.read(from: folder)
            if frozen.tasks != plan.tasks {
                guard missing else {
                    throw CommandFailure("\(SlurmPlan.planPath(folder)) holds a plan for another matrix (\(frozen.tasks.count) "
                        + "tasks; \(file) now expands to \(runs.count)). Resubmit the frozen plan with --missing, or "
                        + "write a new one with --dir NEWDIR.")
                }
                print("note: \(file) changed since the plan was written; resubmitting the frozen plan")
            }
            plan = frozen
        }
        let options = SlurmOptions(partition: partition, time: time,
                                   cpusPerTask: cpusPerTask ?? runs.compactMap(\.config.training.threads).max() ?? 2,
                                   memory: mem, maxParallel: maxParallel, account: account,
                                   extraSbatch: extraSbatchWords)
        let pathProblems = SlurmOptions.pathProblems([("the plan folder (--dir)", folder),
                                                      ("the current directory", plan.baseDirectory)])
        guard pathProblems.isEmpty else { throw CommandFailure(pathProblems.joined(separator: "\n")) }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        try plan.write(to: folder)
        let arrayPath = (folder as NSString).appendingPathComponent("array.sbatch")
        let mergePath = (folder as NSString).appendingPathComponent("merge.sbatch")
        for (path, text) in [(arrayPath, plan.arrayScript(folder: folder, executable: executable, options: options)),
                             (mergePath, plan.mergeScript(folder: folder, executable: executable, options: options))] {
            try OutputFile.write(text, to: path)
        }
        print("plan \(SlurmPlan.planPath(folder)): \(plan.tasks.count) tasks of experiment \(plan.experiment)")
        print("wrote \(arrayPath) and \(mergePath)")
        guard submit || missing else {
            print("submit with: ablate slurm \(file) --dir \(folder) --submit   (or sbatch the two files yourself)")
            return
        }
        var selected = plan.tasks.map(\.index)
        if missing {
            selected = plan.taskStatuses(folder: folder).filter { !$0.isFinished }.map(\.task.index)
            guard !selected.isEmpty else {
                print("every task is finished; nothing submitted. Gather them with: ablate merge --dir \(folder)")
                return
            }
        }
        let arrayJob = try Slurm.sbatch(["--array=\(SlurmPlan.arraySpec(selected, maxParallel: maxParallel))", arrayPath])
        let mergeJob = try Slurm.sbatch(["--dependency=afterany:\(arrayJob)", mergePath])
        print("submitted array job \(arrayJob) (tasks \(SlurmPlan.arraySpec(selected, maxParallel: nil))) and merge job \(mergeJob)")
        print("watch with: ablate status --dir \(folder)")
    }
}

struct TaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Run one task of a plan written by `ablate slurm` (what array.sbatch calls).",
        discussion: """
            The index comes from --index, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; threads from --threads or \
            SLURM_CPUS_PER_TASK. The task trains its run into DIR/tasks/I.sqlite with checkpoints in DIR/tasks/I/, \
            resuming from the last checkpoint when it was started before. On SIGUSR1 (Slurm's early warning before \
            the time limit) it stops at the next batch, keeps its checkpoint and requeues itself with \
            `scontrol requeue`; on SIGTERM or SIGINT it stops the same way and exits.
            """)

    @Argument(help: "Plan folder written by `ablate slurm`.") var dir: String
    @Option(help: "Task index (default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX).") var index: Int?
    @Option(help: "Threads (default: SLURM_CPUS_PER_TASK, else training.threads of the file).") var threads: Int?

    func validate() throws {
        try OptionChecks.threads(threads, otherwise: "SLURM_CPUS_PER_TASK, else the file's training.threads")
        if let i = index, i < 0 { throw ValidationError("--index must be 0 or more, got \(i)") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let folder = Experiment.resolve(dir, against: FileManager.default.currentDirectoryPath)
        let plan = try SlurmPlan.read(from: folder)
        let task = try clusterTaskIndex(explicit: index)
        let run = try plan.run(forTask: task, in: folder)
        let experiment = try plan.frozenExperiment()
        var slurmThreads: Int?
        if let text = environment["SLURM_CPUS_PER_TASK"] {
            slurmThreads = Int(text).flatMap { (1...OptionChecks.maxThreads).contains($0) ? $0 : nil }
            if slurmThreads == nil {
                FileHandle.standardError.write(Data(("warning: SLURM_CPUS_PER_TASK='\(text)' is not a whole number "
                    + "from 1 to \(OptionChecks.maxThreads); using the file's training.threads\n").utf8))
            }
        }
        let jobID = environment["SLURM_JOB_ID"]
        if let jobID {
            let shown = environment["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(task)" } ?? jobID
            try? (shown + "\n").write(toFile: SlurmPlan.taskJobFile(folder, task), atomically: true, encoding: .utf8)
        }
        // One writer per task store: a `running` run in it was left by a killed earlier attempt of this same task,
        // so it is resumed at once (a stale-after of 1 ms) instead of after the usual heartbeat timeout.
        let options = ExecutorOptions(databasePath: SlurmPlan.taskDatabase(folder, task),
                                      runsDirectory: SlurmPlan.taskRunsDirectory(folder, task), staleAfter: 0.001,
                                      threads: threads ?? slurmThreads, gitCommit: Provenance.gitCommit())
        let (summary, signal) = try trainWithProgress(experiment, [run], options: options,
                                                      resumeCommand: "ablate task \(folder) --index \(task)")
        if summary.interrupted != nil {
            guard signal == SIGUSR1, let jobID else { throw ExitCode(130) }
            try Slurm.requeue(jobID)
            print("requeued Slurm job \(jobID): the task resumes from its checkpoint when it starts again")
            return
        }
        if !summary.failed.isEmpty { throw ExitCode(1) }
    }
}
