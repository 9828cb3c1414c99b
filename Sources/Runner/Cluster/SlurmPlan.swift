import ExperimentFile
import AblateCore
import Foundation
import Store

/// A matrix frozen for a cluster: one array task per run, each with its own run store and checkpoint folder.
///
/// `plan.json` keeps the experiment file's text and every task's config hash as they were when the plan was
/// written, so editing the experiment file later cannot reshuffle tasks that are queued or running; a task
/// re-reads the frozen text, not the file. Layout under the plan folder:
///
///     plan.json            this plan
///     array.sbatch         the job array (task i trains run i of the plan)
///     merge.sbatch         gathers the task stores into merged.sqlite after the array
///     tasks/<i>.sqlite     task i's run store (one writer per SQLite file: never shared between hosts)
///     tasks/<i>/           task i's checkpoints and best weights
///     tasks/<i>.job        the Slurm job id that last ran task i
///     logs/task-<i>.log    task i's output, appended across requeues
///     merged.sqlite        written by the merge job (`ablate merge --dir DIR`)
public struct SlurmPlan: Codable, Equatable, Sendable {
    public struct Task: Codable, Equatable, Sendable {
        public var index: Int
        public var label: String
        public var configHash: String
        enum CodingKeys: String, CodingKey { case index, label, configHash = "config_hash" }
    }

    public static let formatName = "ablate-slurm-plan"
    public var format = SlurmPlan.formatName
    public var experiment: String
    /// The experiment file, for people; tasks read `experimentText`.
    public var experimentFile: String
    public var experimentText: String
    /// Folder relative data paths were resolved against when the plan was written.
    public var baseDirectory: String
    public var dataOverride: String?
    public var tasks: [Task]

    enum CodingKeys: String, CodingKey {
        case format, experiment, experimentFile = "experiment_file", experimentText = "experiment_text",
             baseDirectory = "base_directory", dataOverride = "data_override", tasks
    }

    public init(experiment: Experiment, runs: [ResolvedRun], baseDirectory: String, dataOverride: String?) {
        self.experiment = experiment.name
        experimentFile = experiment.filePath.map { Experiment.resolve($0, against: baseDirectory) } ?? experiment.name
        experimentText = experiment.fileText
        self.baseDirectory = baseDirectory
        self.dataOverride = dataOverride
        tasks = runs.enumerated().map { Task(index: $0.offset, label: $0.element.label, configHash: $0.element.configHash) }
    }

    /// The experiment as the plan froze it.
    public func frozenExperiment() throws -> Experiment {
        try Experiment.parse(text: experimentText, file: experimentFile,
                             options: .init(dataOverride: dataOverride, baseDirectory: baseDirectory))
    }

    /// The run task `index` trains, checked against the frozen config hash.
    public func run(forTask index: Int, in folder: String) throws -> ResolvedRun {
        guard tasks.indices.contains(index) else {
            throw ClusterError.noSuchTask(index: index, count: tasks.count, plan: SlurmPlan.planPath(folder))
        }
        let task = tasks[index]
        guard let run = try frozenExperiment().runs.first(where: { $0.configHash == task.configHash }) else {
            throw ClusterError.hashMismatch(task: index, label: task.label, plan: SlurmPlan.planPath(folder))
        }
        return run
    }

    // MARK: - Files

    public static func planPath(_ folder: String) -> String { (folder as NSString).appendingPathComponent("plan.json") }
    public static func taskDatabase(_ folder: String, _ index: Int) -> String {
        (folder as NSString).appendingPathComponent("tasks/\(index).sqlite")
    }
    public static func taskRunsDirectory(_ folder: String, _ index: Int) -> String {
        (folder as NSString).appendingPathComponent("tasks/\(index)")
    }
    public static func taskJobFile(_ folder: String, _ index: Int) -> String {
        (folder as NSString).appendingPathComponent("tasks/\(index).job")
    }
    public static func mergedDatabase(_ folder: String) -> String {
        (folder as NSString).appendingPathComponent("merged.sqlite")
    }

    public func write(to folder: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try ClusterError.writing(SlurmPlan.planPath(folder)) {
            try FileManager.default.createDirectory(atPath: (folder as NSString).appendingPathComponent("tasks"),
                                                    withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: (folder as NSString).appendingPathComponent("logs"),
                                                    withIntermediateDirectories: true)
            try encoder.encode(self).write(to: URL(fileURLWithPath: SlurmPlan.planPath(folder)), options: .atomic)
        }
    }

    public static func read(from folder: String) throws -> SlurmPlan {
        let path = planPath(folder)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterError.noPlan(folder: folder)
        }
        guard let plan = try? JSONDecoder().decode(SlurmPlan.self, from: data), plan.format == formatName else {
            throw ClusterError.badPlan(path: path)
        }
        return plan
    }
}

/// The task index of this process: `--index`, else Slurm's `SLURM_ARRAY_TASK_ID`, else Kubernetes indexed Jobs'
/// `JOB_COMPLETION_INDEX`.
public func clusterTaskIndex(explicit: Int?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
    if let explicit { return explicit }
    for name in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
        if let text = environment[name] {
            guard let value = Int(text), value >= 0 else { throw ClusterError.badIndex(variable: name, value: text) }
            return value
        }
    }
    throw ClusterError.noIndex
}

public enum ClusterError: Error, CustomStringConvertible {
    case noPlan(folder: String)
    case badPlan(path: String)
    case noSuchTask(index: Int, count: Int, plan: String)
    case hashMismatch(task: Int, label: String, plan: String)
    case noIndex
    case badIndex(variable: String, value: String)
    case write(path: String, reason: String)
    case sbatch(String)

    public var description: String {
        switch self {
        case .noPlan(let folder):
            return "no plan.json in \(folder): write one with `ablate slurm FILE --dir \(folder)`"
        case .badPlan(let path):
            return "\(path) is not a plan written by `ablate slurm` (or it is damaged): write it again with `ablate slurm FILE`"
        case let .noSuchTask(index, count, plan):
            return "task \(index) does not exist: \(plan) has \(count) tasks (0 to \(count - 1))"
        case let .hashMismatch(task, label, plan):
            return "task \(task) (\(label)) of \(plan) no longer expands to the configuration it was planned with "
                + "(this ablate computes another config hash): write a new plan with `ablate slurm FILE --dir NEWDIR`"
        case .noIndex:
            return "no task index: pass --index I, or run inside a Slurm array (SLURM_ARRAY_TASK_ID) or a Kubernetes "
                + "indexed Job (JOB_COMPLETION_INDEX)"
        case let .badIndex(variable, value):
            return "\(variable) is '\(value)', not a task index (a whole number ≥ 0)"
        case let .write(path, reason):
            return "cannot write \(path): \(reason)"
        case .sbatch(let message):
            return message
        }
    }

    static func writing(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch {
            throw ClusterError.write(path: path, reason: ErrorText.obstacle(creatingFolder: (path as NSString).deletingLastPathComponent)
                                                  ?? ErrorText.reason(error))
        }
    }
}
