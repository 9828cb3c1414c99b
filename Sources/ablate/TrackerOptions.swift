// The tracker options of `ablate run` and the printing around live tracking (the Trackers module never prints).
import ArgumentParser
import Foundation
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

    /// Live tracking for `run`, or nil when neither tracker is asked for.
    static func live(db: String, tensorBoard: String?, mlflow: String?, interactive: Bool) throws -> LiveTracking? {
        // Short time-outs: a server that does not answer is retried later, and the run's end waits little for it.
        let client = try mlflowClient(mlflow, timeout: 5)
        guard tensorBoard != nil || client != nil else { return nil }
        if let client { print("MLflow: logging to \(client.base.absoluteString)") }
        if let tensorBoard { print("TensorBoard: writing events under \(tensorBoard)") }
        return try LiveTracking(storePath: db, tensorBoardDirectory: tensorBoard, mlflow: client, warn: { line in
            // On a terminal the line replaces the progress bar it interrupts.
            let text = (interactive ? "\r\u{1B}[K" : "") + line + "\n"
            FileHandle.standardOutput.write(Data(text.utf8))
        })
    }
}
