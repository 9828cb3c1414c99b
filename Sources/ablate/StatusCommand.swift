import AblateCore
import ArgumentParser
import Foundation
import Runner
import Store

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List every run in the run store with its status, epoch k/N, best test accuracy and ETA.",
        discussion: "ETA: remaining epochs × the mean seconds per epoch of the run (or, before its first epoch, of its experiment's runs).")

    @Option(help: "Run store file.") var db: String = RunStore.defaultPath
    @Option(help: "Only runs of this experiment.") var experiment: String?
    @Flag(help: "Print JSON: {\"db\": PATH, \"runs\": [{id, status, config, epochs_done, best_test_acc, …}]}.")
    var json = false
    @Option(help: "Plan folder of `ablate slurm`: show every task from its own run store (read-only).") var dir: String?

    func run() throws {
        if let dir { return try showTasks(dir) }
        let store = try RunStore.forReading(db)
        if let experiment { try store.experiment(named: experiment) }
        let runs = try store.listRuns(experiment: experiment)
        let etas = try ETA.secondsLeft(runs, in: store)
        if json {
            let doc: JSONValue = .object(["db": .string(store.path),
                                          "runs": .array(runs.map { s in
                                              var o = RunStore.summaryJSON(s)
                                              o["eta_seconds"] = etas[s.run.id].map { .double($0) } ?? .null
                                              return .object(o)
                                          })])
            print(doc.pretty)
            return
        }
        if runs.isEmpty {
            print("No runs in \(store.path)\(experiment.map { " for experiment \($0)" } ?? ""). "
                  + "Queue some with `ablate run FILE`.")
            return
        }
        let now = Date()
        let rows: [[String]] = runs.map { s in
            let r = s.run
            var status = r.status.rawValue
            if r.holderHasExited(seenFrom: Provenance.host) {
                status += " (its process exited; the next `ablate run` resumes it)"
            } else if r.status == .finished, let stop = r.stoppedEarlyAt {
                status += " (stopped early after epoch \(stop))"
            } else if r.status == .running, let beat = r.heartbeat {
                status += " (\(Int(now.timeIntervalSince(beat)))s ago, \(r.host ?? "?"))"
            }
            return [String(r.id), s.experimentName, status, "\(s.epochsDone)/\(r.epochsTotal)",
                    s.bestTestAcc.map { String(format: "%.4f", $0) } ?? "-", etas[r.id].map(ETA.format) ?? "-",
                    String(r.configHash.prefix(12)), r.label]
        }
        printTable(header: ["ID", "EXPERIMENT", "STATUS", "EPOCH", "BEST TEST ACC", "ETA", "CONFIG", "RUN"], rows: rows)
        let counts = RunStatus.allCases.compactMap { st -> String? in
            let n = runs.filter { $0.run.status == st }.count
            return n > 0 ? "\(n) \(st.rawValue)" : nil
        }
        print("\(runs.count) runs: \(counts.joined(separator: ", "))")
        for s in runs where s.run.status == .failed {
            print("run \(s.run.id) failed: \(s.run.errorMessage ?? "no message")")
        }
    }
}

extension StatusCommand {
    /// One line per array task: pending until its store holds its run, then the run's status and progress.
    func showTasks(_ dir: String) throws {
        let plan = try SlurmPlan.read(from: dir)
        let statuses = plan.taskStatuses(folder: dir)
        if json {
            let doc: JSONValue = .object(["plan": .string(SlurmPlan.planPath(dir)), "tasks": .array(statuses.map { t in
                var o: [String: JSONValue] = ["task": .int(t.task.index), "label": .string(t.task.label),
                                              "config_hash": .string(t.task.configHash), "state": .string(t.state),
                                              "job_id": t.jobID.map(JSONValue.string) ?? .null]
                if let r = t.run { o["run"] = .object(RunStore.summaryJSON(r)) }
                if let p = t.problem { o["problem"] = .string(p) }
                return .object(o)
            })])
            print(doc.pretty)
            return
        }
        let rows: [[String]] = statuses.map { t in
            [String(t.task.index), t.state, t.run.map { "\($0.epochsDone)/\($0.run.epochsTotal)" } ?? "-",
             t.run?.bestTestAcc.map { String(format: "%.4f", $0) } ?? "-", t.jobID ?? "-", t.task.label]
        }
        printTable(header: ["TASK", "STATE", "EPOCH", "BEST TEST ACC", "SLURM JOB", "RUN"], rows: rows)
        let counts = Dictionary(grouping: statuses, by: \.state).map { "\($0.value.count) \($0.key)" }.sorted()
        print("\(statuses.count) tasks of \(plan.experiment): \(counts.joined(separator: ", "))")
        for t in statuses { if let p = t.problem { print("task \(t.task.index): \(p)") } }
    }
}

/// Left-aligned columns separated by two spaces.
func printTable(header: [String], rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in
            i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}
