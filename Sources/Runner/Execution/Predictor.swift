// `ablate predict`: class probabilities for new images from a run's selected weights (`training.select`: the
// epoch chosen on validation, else the last epoch; never the best epoch on test, which was chosen by looking at
// the test set), with exactly the preprocessing of evaluation (same decode, resize and normalisation as the run's
// test split).
import AblateCore
import Datasets
import Engine
import Foundation
import Models
import Store
import Training

public struct ImagePrediction: Sendable, Codable {
    public let file: String
    public let probabilities: [String: Double]
    public let predicted: String
}

public enum PredictError: Error, CustomStringConvertible {
    /// `path` nil: the store recorded no checkpoint for the run.
    case noWeights(runID: Int64, path: String?)
    case unreadable([SkippedFile])

    public var description: String {
        switch self {
        case let .noWeights(id, path):
            return "run \(id) has no selected weights" + (path.map { " at \($0)" } ?? " (no checkpoint recorded)")
                + ": it has not finished an epoch yet (see `ablate status`), or it was merged from another machine, "
                + "whose runs folder holds its weights"
        case .unreadable(let files):
            return "cannot read: " + files.map { "\($0.path) (\($0.reason))" }.joined(separator: "; ")
        }
    }
}

public enum Predictor {
    /// `maxPixels`: the pixel limit for these images (default: the run's `data.max_pixels`, else the decoder's).
    public static func predict(store: RunStore, runID: Int64, images: [String], maxPixels: Int? = nil) throws -> [ImagePrediction] {
        let run = try store.run(id: runID)
        let config = try RunConfig.decode(json: run.configJSON)
        // Class names: the class folders of the images the run was evaluated on.
        var names: [Int: String] = [:]
        for p in try store.predictions(runID: runID, kind: .last) where names[p.prediction.label] == nil {
            names[p.prediction.label] = URL(fileURLWithPath: p.prediction.file).deletingLastPathComponent().lastPathComponent
        }
        let classes = config.model.classes ?? max(2, (names.keys.max() ?? 1) + 1)
        let classNames = (0..<classes).map { names[$0] ?? "class \($0)" }
        let plan = try RunPlan(config)
        // The one loader of a run's weights by kind (`selected` is the last epoch's when the run keeps its last).
        let net: any Network
        do {
            (net, _) = try ExternalEvaluation.loadWeights(run, store: store, config: config, classes: classes, kind: .selected)
        } catch ExternalEvaluationError.noWeights(_, _, let path) {
            throw PredictError.noWeights(runID: runID, path: run.checkpointPath == nil ? nil : path)
        }

        let files = images.map { ImageFile(path: $0, label: 0) }
        var options = plan.load
        if let maxPixels { options.maxPixels = maxPixels }
        let cache = try ImageCache(files: files, classNames: classNames, options: options, minimumClasses: 0)
        if !cache.skipped.isEmpty { throw PredictError.unreadable(cache.skipped) }
        // The same batched evaluation pass as `ablate evaluate`, so many images never need one huge batch.
        let probs = try ExternalEvaluation.predict(net, cache: cache, plan: plan).map(\.probabilities)
        return zip(cache.files, probs).map { file, p in
            let best = p.indices.max { p[$0] < p[$1] }!
            return ImagePrediction(file: file.path,
                                   probabilities: Dictionary(uniqueKeysWithValues: zip(classNames, p)),
                                   predicted: classNames[best])
        }
    }
}
