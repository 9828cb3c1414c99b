import ArgumentParser
import Foundation
import Report
import Store
import Trackers

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export runs and their epochs as CSV or JSON, or to TensorBoard or MLflow.",
        discussion: """
            CSV writes one table (--table epochs, the default, or runs); JSON writes one document with every run, \
            its configuration and its epochs. tensorboard writes event files under --out DIR, one folder per run \
            (<config label>/seed=N). mlflow sends every run to the tracking server of --mlflow (or \
            MLFLOW_TRACKING_URI): one MLflow run per ablate run, in an MLflow experiment named after the ablate \
            experiment, found again by its config-hash tag. Both write only what the tracker lacks: exporting \
            twice changes nothing, and an export completes an interrupted one or a live run's missing epochs. \
            --artifacts also uploads each finished run's weights into its MLflow run's artifacts, through the \
            server's artifact proxy (`mlflow server` serves it unless started with --no-serve-artifacts): \
            weights/selected.safetensors for a run that selects its epoch on validation, else \
            weights/last.safetensors, the last epoch's weights taken out of its checkpoint (without the optimiser \
            state); with --report-dir DIR, the report folder too, under report/ in an MLflow run named 'report' \
            of the experiment. A file MLflow already has, the same, is not sent again.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json, tensorboard, mlflow }

    @Option(help: "Run store file.") var db: String = RunStore.defaultPath
    @Option(help: "csv, json, tensorboard or mlflow.") var format: Format
    @Option(help: "CSV table: epochs or runs.") var table: String = "epochs"
    @Option(help: "Only runs of this experiment.") var experiment: String?
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?
    @Option(help: ArgumentHelp("tensorboard: the folder of the event files.", valueName: "DIR")) var out: String?
    @Option(help: ArgumentHelp("mlflow: the tracking server, e.g. http://127.0.0.1:5000 (default: MLFLOW_TRACKING_URI).",
                               valueName: "URI"))
    var mlflow: String?
    @Flag(help: "mlflow: also upload each finished run's weights as artifacts of its MLflow run.") var artifacts = false
    @Option(help: ArgumentHelp("mlflow --artifacts: also upload this report folder (what `ablate report` wrote) to the experiment's 'report' run.",
                               valueName: "DIR"))
    var reportDir: String?

    func validate() throws {
        if format == .tensorboard && out == nil { throw ValidationError("--format tensorboard needs --out DIR") }
        if out != nil && format != .tensorboard { throw ValidationError("--out is for --format tensorboard (use -o for a file)") }
        if mlflow != nil && format != .mlflow { throw ValidationError("--mlflow is for --format mlflow") }
        if artifacts && format != .mlflow { throw ValidationError("--artifacts is for --format mlflow") }
        if reportDir != nil && !artifacts { throw ValidationError("--report-dir is for --format mlflow --artifacts") }
        if output != nil && [.tensorboard, .mlflow].contains(format) {
            throw ValidationError("-o writes CSV or JSON; --format \(format.rawValue) writes to its tracker")
        }
        guard ExportTable(rawValue: table) != nil else {
            throw ValidationError("--table must be one of \(ExportTable.allCases.map(\.rawValue).joined(separator: ", ")), got '\(table)'")
        }
    }

    func run() throws {
        let store = try RunStore.forReading(db)
        if let experiment { try store.experiment(named: experiment) }
        let text: String
        switch format {
        case .tensorboard:
            let totals = try TrackerExport.tensorBoard(store, experiment: experiment, out: out!)
            print("TensorBoard: \(totals.written) epoch(s) of \(totals.runs) run(s) written under \(out!)"
                  + " (see them with `tensorboard --logdir \(out!)`)")
            return
        case .mlflow:
            guard let client = try TrackerOptions.mlflowClient(mlflow, timeout: 30)?.client else {
                throw ValidationError("--format mlflow needs --mlflow URI (or MLFLOW_TRACKING_URI)")
            }
            var report: URL?
            if let reportDir {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: reportDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ValidationError("--report-dir: no folder \(reportDir) (write one with `ablate report --out DIR`)")
                }
                report = URL(fileURLWithPath: reportDir)
            }
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-artifacts-\(UUID())")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let files = artifacts ? ExportArtifacts(scratch: scratch).files : nil
            let totals = try TrackerExport.mlflow(store, experiment: experiment, client: client, artifacts: files,
                                                  report: report) { print("  " + $0) }
            print("MLflow \(client.base.absoluteString): \(totals.runs) run(s), \(totals.created) created; sent "
                  + "\(totals.written) metric value(s), \(totals.params) param(s), \(totals.tags) tag(s), "
                  + "\(totals.statusChanges) status change(s)")
            if artifacts {
                let a = totals.artifacts
                print("artifacts: \(a.uploaded) file(s) uploaded (\(TrackerExport.bytesText(a.bytes))), \(a.unchanged) "
                      + "already there; \(totals.runsWithoutArtifacts) run(s) without weights to upload")
            }
            return
        case .csv:
            let (header, rows) = try store.exportTable(ExportTable(rawValue: table)!, experiment: experiment)
            text = try CSV.render(header: header, rows: rows)
        case .json: text = try store.exportJSON(experiment: experiment)
        }
        if let output {
            try OutputFile.write(text, to: output)
        } else {
            print(text, terminator: "")
        }
    }
}
