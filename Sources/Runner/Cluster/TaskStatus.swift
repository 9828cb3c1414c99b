import Foundation
import Store

/// One array task as its own run store shows it (opened read-only: a running task keeps writing).
public struct TaskStatus: Equatable, Sendable {
    public var task: SlurmPlan.Task
    /// nil while the task has not started (no store, or its run not queued yet): pending.
    public var run: RunSummary?
    /// The Slurm job id that last ran the task (`<array job>_<index>`), if it started under Slurm.
    public var jobID: String?
    /// Why the store could not be read, if it could not.
    public var problem: String?

    public var state: String { problem != nil ? "unreadable" : run?.run.status.rawValue ?? "pending" }
    public var isFinished: Bool { run?.run.status == .finished }
}

extension SlurmPlan {
    public func taskStatuses(folder: String) -> [TaskStatus] {
        tasks.map { task in
            let jobFile = SlurmPlan.taskJobFile(folder, task.index)
            let jobID = (try? String(contentsOfFile: jobFile, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let path = SlurmPlan.taskDatabase(folder, task.index)
            guard FileManager.default.fileExists(atPath: path) else {
                return TaskStatus(task: task, run: nil, jobID: jobID, problem: nil)
            }
            do {
                let store = try RunStore(readingOnly: path)
                defer { try? store.close() }
                let run = try store.listRuns(experiment: experiment).first { $0.run.configHash == task.configHash }
                return TaskStatus(task: task, run: run, jobID: jobID, problem: nil)
            } catch {
                return TaskStatus(task: task, run: nil, jobID: jobID, problem: "\(error)")
            }
        }
    }

    /// Task stores that exist, in task order (the merge job's sources).
    public func taskDatabases(folder: String) -> [String] {
        tasks.map { SlurmPlan.taskDatabase(folder, $0.index) }.filter { FileManager.default.fileExists(atPath: $0) }
    }
}
