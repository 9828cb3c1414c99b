// The tracker options of `ablate run` and the printing around live tracking (the Trackers module never prints).
import ArgumentParser
import Foundation
import Store
import Trackers

enum TrackerOptions {
    /// The MLflow server of `--mlflow`, else of MLFLOW_TRACKING_URI. A bad `--mlflow` is an error; an environment
    /// variable meant for MLflow's Python client (a file store, a database) is left alone with a warning.
    static func mlflowClient(_ flag: String?, timeout: TimeInterval) throws -> MLflowClient? {
        if let flag {
            do { return try MLflowClient(uri: flag, timeout: timeout) } catch {
                throw ValidationError("--mlflow: \(error)")
            }
        }
        guard let env = ProcessInfo.processInfo.environment["MLFLOW_TRACKING_URI"], !env.isEmpty else { return nil }
        do { return try MLflowClient(uri: env, timeout: timeout) } catch {
            print("warning: MLFLOW_TRACKING_URI ignored: \(error)")
            return nil
        }
    }

    /// What `run` asked the trackers for: live tracking starts once the store is open (`start`).
    struct Live {
        var tensorBoard: String?
        var mlflow: MLflowClient?

        /// Live tracking through the training's own store connection, or nil when no tracker is asked for.
        func start(_ store: RunStore, interactive: Bool) throws -> LiveTracking? {
            guard tensorBoard != nil || mlflow != nil else { return nil }
            if let mlflow { print("MLflow: logging to \(mlflow.base.absoluteString)") }
            if let tensorBoard { print("TensorBoard: writing events under \(tensorBoard)") }
            return try LiveTracking(store: store, tensorBoardDirectory: tensorBoard, mlflow: mlflow, warn: { line in
                // On a terminal the line replaces the progress bar it interrupts.
                let text = (interactive ? "\r\u{1B}[K" : "") + line + "\n"
                FileHandle.standardOutput.write(Data(text.utf8))
            })
        }
    }

    /// The trackers of `run`'s options; short MLflow time-outs, since a server that does not answer is retried
    /// later and the run's end waits little for it.
    static func live(tensorBoard: String?, mlflow: String?) throws -> Live {
        Live(tensorBoard: tensorBoard, mlflow: try mlflowClient(mlflow, timeout: 5))
    }
}
