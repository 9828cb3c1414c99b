import AblateCore
import ArgumentParser
import ExperimentFile
import Foundation
import Runner
import Store

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an experiment: expand its matrix, train every run not yet finished, record everything in the run store.",
        discussion: """
            Relative paths in the file (data.path) are resolved against the current directory: run ablate from \
            the project root. --only KEY=VALUE keeps the runs whose setting KEY (a dotted key path such as model, \
            seed or training.optimizer.lr) equals VALUE; repeat it to combine (same key: either value; different \
            keys: both). Finished configurations are skipped; an interrupted or killed run resumes from its last \
            checkpoint. Several `ablate run` processes may share one database. Ctrl-C stops at the next batch \
            boundary, keeps the last checkpoint and marks the run interrupted. --shard I/N runs every N-th entry \
            of the matrix starting at entry I+1, so N processes (or N sittings) with shards 0/N … (N-1)/N cover it \
            exactly once; give each its own --db and gather them with `ablate merge`.
            """)

    @Argument(help: "Experiment file (YAML), e.g. experiments/demo.yaml.") var file: String
    @Flag(help: "List the runs the matrix expands to, with their config hashes, and do nothing else.")
    var dryRun = false
    @Option(name: .customLong("only"), help: ArgumentHelp("Keep runs whose setting KEY equals VALUE.", valueName: "KEY=VALUE"))
    var only: [String] = []
    @Option(parsing: .unconditional, help: ArgumentHelp("Run only shard I of N: the entries numbered I+1, I+1+N, … by --dry-run (0 ≤ I < N).",
                               valueName: "I/N"))
    var shard: String?
    @Option(help: "Data folder, replacing data.path of the file.") var data: String?
    @Option(help: "Run store file (dry run: shows which runs it already has).") var db: String = RunStore.defaultPath
    @Flag(help: "Dry run: print the runs with their full configurations as JSON.") var json = false
    @Option(help: "Folder for checkpoints and best weights (one sub-folder per run).") var runsDir = "runs"
    @Option(parsing: .unconditional, help: "Threads for training, 1–1024 (default: training.threads of the file, else all cores).")
    var threads: Int?
    @Option(parsing: .unconditional,
            help: "Seconds (≥ 60) without a heartbeat after which a running run of another machine counts as killed and is resumed.")
    var staleAfter: Double = 600
    @Flag(help: "Queue failed runs again.") var retryFailed = false
    @Option(help: ArgumentHelp("Write each epoch as it finishes to TensorBoard event files under DIR (one folder per run: <config label>/seed=N).",
                               valueName: "DIR"))
    var tensorboard: String?
    @Option(help: ArgumentHelp("Log each run to this MLflow tracking server, e.g. http://127.0.0.1:5000 (default: tracking.mlflow of the file, else MLFLOW_TRACKING_URI).",
                               valueName: "URI"))
    var mlflow: String?

    func validate() throws {
        try OptionChecks.threads(threads, otherwise: "training.threads of the experiment file, else every core")
        try OptionChecks.staleAfter(staleAfter)
    }

    func run() throws {
        let experiment = try Experiment.load(file: file, options: .init(dataOverride: data))
        let shard = try shard.map(Shard.init(parsing:))
        let runs = try experiment.runs(matching: only, shard: shard)
        guard dryRun else {
            try train(experiment, runs)
            return
        }
        // What the run store already knows (only if it exists: a dry run creates nothing).
        var known: [String: RunSummary] = [:]
        if FileManager.default.fileExists(atPath: db) {
            let store = try RunStore.forReading(db)
            for s in try store.listRuns(experiment: experiment.name) { known[s.run.configHash] = s }
        }
        if json {
            let items: [JSONValue] = runs.map { r in
                var o: [String: JSONValue] = ["index": .int(r.index), "label": .string(r.label),
                                              "config_hash": .string(r.configHash), "config": .raw(r.canonicalJSON),
                                              "data_directory": .string(r.dataDirectory)]
                if let s = known[r.configHash] {
                    o["stored"] = .object(["id": .int(Int(s.run.id)), "status": .string(s.run.status.rawValue),
                                           "epochs_done": .int(s.epochsDone)])
                }
                return .object(o)
            }
            print(JSONValue.object(["experiment": .string(experiment.name), "runs": .array(items)]).pretty)
            return
        }
        let axes = experiment.axes.map(\.keyPath).joined(separator: " × ")
        let sizes = experiment.axes.map { String($0.values.count) }.joined(separator: " × ")
        print("experiment \(experiment.name) (\(file)): \(experiment.runs.count) runs"
              + (experiment.axes.isEmpty ? "" : " = \(axes) = \(sizes)")
              + ", target \(experiment.target)")
        if !only.isEmpty { print("--only \(only.joined(separator: " ")): \(runs.count) runs") }
        if let shard { print("shard \(shard): \(runs.count) runs") }
        for w in experiment.warnings { print("warning: \(w)") }
        let rows = runs.map { r -> [String] in
            let stored = known[r.configHash].map { "\($0.run.status.rawValue) \($0.epochsDone)/\($0.run.epochsTotal)" } ?? "new"
            return [String(r.index), String(r.configHash.prefix(12)), stored, String(r.config.training.epochs),
                    r.config.model.name, r.label]
        }
        printTable(header: ["#", "CONFIG HASH", "IN STORE", "EPOCHS", "MODEL", "RUN"], rows: rows)
        let dirs = Set(runs.map(\.dataDirectory)).sorted()
        print("data: \(dirs.joined(separator: ", "))"
              + (runs.contains { $0.config.data.synthesize != nil } ? " (synthesised when missing)" : ""))
    }
}

