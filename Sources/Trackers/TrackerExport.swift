// `ablate export --format tensorboard|mlflow`: every selected run of a store synced to the tracker. Both are
// idempotent (see `TensorBoardLog` and `MLflowSync`), so a second export changes nothing and an export after an
// interrupted one, or after a live run that lost its server, completes what is missing.
import Foundation
import Store

public enum TrackerExport {
    public struct Totals: Equatable, Sendable {
        public var runs = 0
        /// Runs MLflow did not have before.
        public var created = 0
        /// Epochs (TensorBoard) or metric values (MLflow) written.
        public var written = 0
        public var params = 0
        public var tags = 0
        public var statusChanges = 0
        /// `--artifacts`: files uploaded or already there, and runs that had none to upload.
        public var artifacts = ArtifactTotals()
        public var runsWithoutArtifacts = 0
    }

    /// A run's files for `export --artifacts`, or why it has none.
    public enum RunArtifacts: Equatable, Sendable {
        case files([ArtifactFile])
        case none(String)
    }

    /// The epochs a tracker may be sent. A running run's last stored epoch may not have its checkpoint yet: if
    /// its process dies before writing it, the resumed run redoes that epoch with other timings, and trackers keep
    /// the first value they are sent. It goes with the next export, or live once its checkpoint is written.
    static func settledEpochs(_ s: RunSummary, _ store: RunStore) throws -> [EpochRecord] {
        let epochs = try store.epochs(runID: s.run.id)
        return s.run.status == .running ? Array(epochs.dropLast()) : epochs
    }

    /// Writes each run's epochs under `out/<config label>/seed=N`. One folder holds one experiment's runs, as
    /// `run --tensorboard` writes them: a store of several experiments needs `experiment`.
    public static func tensorBoard(_ store: RunStore, experiment: String?, out: String) throws -> Totals {
        let summaries = try store.listRuns(experiment: experiment)
        let names = Set(summaries.map(\.experimentName))
        guard names.count <= 1 else {
            throw TrackerError.io("the store holds the experiments \(names.sorted().joined(separator: ", ")): name one "
                + "with --experiment (each experiment gets a folder of its own, as `run --tensorboard` writes it)")
        }
        let log = try TensorBoardLog(root: out)
        var totals = Totals()
        for s in summaries {
            let written = try log.sync(s.run, experiment: s.experimentName, epochs: try settledEpochs(s, store))
            totals.runs += 1
            totals.written += written
        }
        return totals
    }

    /// Syncs every selected run to MLflow; `progress` hears one line per run that changed. With `artifacts`, each
    /// run's files (as it names them) go into its MLflow run's artifacts, and `report`, a report folder, into the
    /// experiment's `report` run (under "report/"): both only where MLflow lacks them.
    public static func mlflow(_ store: RunStore, experiment: String?, client: MLflowClient,
                              artifacts: ((RunSummary) throws -> RunArtifacts)? = nil, report: URL? = nil,
                              progress: (String) -> Void = { _ in }) throws -> Totals {
        let sync = MLflowSync(client: client)
        let uploader = MLflowArtifacts(client: client)
        // The report's experiment, checked before anything is sent.
        let reportExperiment = try report.map { _ in try experiment ?? onlyExperiment(store) }
        var totals = Totals()
        for s in try store.listRuns(experiment: experiment) {
            let r = try sync.sync(s.run, experiment: s.experimentName, epochs: try settledEpochs(s, store),
                                  storePath: store.path)
            totals.runs += 1
            totals.created += r.created ? 1 : 0
            totals.written += r.metrics
            totals.params += r.params
            totals.tags += r.tags
            totals.statusChanges += r.statusChanged ? 1 : 0
            var line: [String] = []
            if !r.changedNothing {
                line.append((r.created ? "created, " : "")
                            + "\(r.metrics) metric value(s), \(r.params) param(s), \(r.tags) tag(s)"
                            + (r.statusChanged ? ", status \(MLflowSync.status(s.run.status))" : ""))
            }
            switch try artifacts?(s) {
            case .files(let files)?:
                let sent = try uploader.upload(files, toRun: r.runID)
                totals.artifacts += sent
                if sent.uploaded > 0 {
                    let what = files.count == 1 ? files[0].path : "\(sent.uploaded) file(s)"
                    line.append("uploaded \(what) (\(bytesText(sent.bytes)))")
                }
            case .none(let why)?:
                totals.runsWithoutArtifacts += 1
                line.append("no artifacts: \(why)")
            case nil: break
            }
            if !line.isEmpty { progress("run \(s.run.id) \(s.run.label): " + line.joined(separator: "; ")) }
        }
        if let report, let reportExperiment {
            let files = try ArtifactFile.folder(report, under: "report")
            guard !files.isEmpty else { throw TrackerError.io("the report folder \(report.path) holds no files") }
            let run = try sync.reportRun(experiment: reportExperiment)
            let sent = try uploader.upload(files, toRun: run.id)
            totals.artifacts += sent
            progress("report \(report.path) → MLflow run 'report' of \(reportExperiment)" + (run.created ? " (created)" : "")
                     + ": \(sent.uploaded) file(s) uploaded (\(bytesText(sent.bytes))), \(sent.unchanged) already there")
        }
        return totals
    }

    /// The experiment a store holds, when it holds one.
    static func onlyExperiment(_ store: RunStore) throws -> String {
        let names = try store.experiments().map(\.name)
        guard names.count == 1 else {
            throw TrackerError.io(names.isEmpty ? "the store holds no experiment"
                : "the store holds the experiments \(names.sorted().joined(separator: ", ")): name the report's with --experiment")
        }
        return names[0]
    }

    public static func bytesText(_ bytes: Int64) -> String {
        bytes < 1 << 20 ? "\(bytes) bytes" : String(format: "%.1f MB", Double(bytes) / 1_048_576)
    }
}
