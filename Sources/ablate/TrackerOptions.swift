// The tracker options of `ablate run` and the printing around live tracking (the Trackers module never prints).
import ArgumentParser
import Foundation
import Store
import Trackers

enum TrackerOptions {
    /// The MLflow server of `--mlflow`, else of the experiment file's `tracking.mlflow` (`file`), else of
    /// MLFLOW_TRACKING_URI, with where it came from. A bad `--mlflow` or `tracking.mlflow` is an error naming it;
    /// an environment variable meant for MLflow's Python client (a file store, a database) is left alone with a
    /// warning.
    static func mlflowClient(_ flag: String?, file: String? = nil,
                             timeout: TimeInterval) throws -> (client: MLflowClient, choice: MLflowChoice)? {
        let environment = ProcessInfo.processInfo.environment["MLFLOW_TRACKING_URI"]
        guard let choice = MLflowChoice.resolve(flag: flag, file: file, environment: environment) else { return nil }
        do { return (try MLflowClient(uri: choice.uri, timeout: timeout), choice) } catch {
            switch choice.source {
            case .flag: throw ValidationError("--mlflow: \(error)")
            case .file: throw ValidationError("tracking.mlflow of the experiment file: \(error)")
            case .environment:
                print("warning: MLFLOW_TRACKING_URI ignored: \(error)")
                return nil
            }
        }
    }

    /// What `run` asked the trackers for: live tracking starts once the store is open (`start`).
    struct Live {
        var tensorBoard: String?
        var mlflow: MLflowClient?
        /// Where the MLflow address came from (said in the run's first lines).
        var mlflowChoice: MLflowChoice?

        /// Live tracking through the training's own store connection, or nil when no tracker is asked for.
        func start(_ store: RunStore, interactive: Bool) throws -> LiveTracking? {
            guard tensorBoard != nil || mlflow != nil else { return nil }
            if let mlflow {
                print("MLflow: logging to \(mlflow.base.absoluteString)"
                      + (mlflowChoice.map { " (from \($0.explanation))" } ?? ""))
            }
            if let tensorBoard { print("TensorBoard: writing events under \(tensorBoard)") }
            return try LiveTracking(store: store, tensorBoardDirectory: tensorBoard, mlflow: mlflow, warn: { line in
                // On a terminal the line replaces the progress bar it interrupts.
                let text = (interactive ? "\r\u{1B}[K" : "") + line + "\n"
                FileHandle.standardOutput.write(Data(text.utf8))
            })
        }
    }

    /// The trackers of `run`'s options and the experiment file's `tracking:`; short MLflow time-outs, since a
    /// server that does not answer is retried later and the run's end waits little for it.
    static func live(tensorBoard: String?, mlflow: String?, file: String?) throws -> Live {
        let chosen = try mlflowClient(mlflow, file: file, timeout: 5)
        return Live(tensorBoard: tensorBoard, mlflow: chosen?.client, mlflowChoice: chosen?.choice)
    }
}
