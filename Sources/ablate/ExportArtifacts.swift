// `export --format mlflow --artifacts`: which file of a run's folder goes to MLflow. A run that selects its epoch
// on validation keeps that epoch's weights in selected.safetensors; one that keeps its last epoch has them only in
// its checkpoint, next to the optimiser state, so the weights are taken out of it into a file of their own (the
// checkpoint is two to three times larger and only `ablate run` can use the rest).
import AblateCore
import Foundation
import Store
import Trackers
import Training

struct ExportArtifacts {
    /// Where weights taken out of checkpoints are written before their upload.
    let scratch: URL

    func files(_ s: RunSummary) -> TrackerExport.RunArtifacts {
        let run = s.run
        guard run.status == .finished else {
            return .none("\(run.status.rawValue), not finished (its weights are uploaded once it is)")
        }
        guard let checkpoint = run.checkpointPath else { return .none("the store records no run folder") }
        let folder = URL(fileURLWithPath: checkpoint).deletingLastPathComponent()
        guard let selection = TrackedMetrics.selection(run) else {
            return .none("its configuration cannot be read by this ablate")
        }
        if selection != .last {
            let selected = folder.appendingPathComponent(RunFiles.selectedWeights)
            guard FileManager.default.fileExists(atPath: selected.path) else { return .none("no \(selected.path)") }
            return .files([ArtifactFile(path: "weights/" + RunFiles.selectedWeights, local: selected)])
        }
        guard FileManager.default.fileExists(atPath: checkpoint) else { return .none("no \(checkpoint)") }
        do {
            let (data, state) = try Checkpoint.weightsFile(from: URL(fileURLWithPath: checkpoint))
            if let owner = state.owner, owner.runID != run.id || owner.configHash != run.configHash {
                return .none("\(checkpoint) is the checkpoint of another run (\(owner))")
            }
            guard state.epochsDone == s.epochsDone else {
                return .none("\(checkpoint) holds epoch \(state.epochsDone), the store \(s.epochsDone) epoch(s)")
            }
            let file = scratch.appendingPathComponent("run-\(run.id)").appendingPathComponent(Self.lastWeights)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file)
            return .files([ArtifactFile(path: "weights/" + Self.lastWeights, local: file)])
        } catch {
            return .none("cannot take the weights out of \(checkpoint): \(ErrorText.describe(error))")
        }
    }

    /// The last epoch's weights as uploaded (the epoch in their metadata, as in best and selected weights).
    static let lastWeights = "last.safetensors"
}
