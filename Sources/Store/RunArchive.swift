import AblateCore
import Foundation

/// Runs with everything stored about them (configuration, provenance, data audit, epochs, predictions, external
/// test results) and the
/// experiment definitions they belong to, detached from any one database. It is what
/// `ablate export --format json` writes and what `ablate merge` reads, from a JSON file or from another run
/// store, so finished runs can be committed as text and gathered again anywhere.
public struct RunArchive: Sendable {
    public struct Experiment: Equatable, Sendable {
        public var name: String
        public var fileText: String
        public var filePath: String?
        public var created: Date
        public var updated: Date

        public init(name: String, fileText: String, filePath: String?, created: Date, updated: Date) {
            self.name = name; self.fileText = fileText; self.filePath = filePath
            self.created = created; self.updated = updated
        }
    }

    public struct StoredPrediction: Equatable, Sendable {
        public var kind: PredictionKind
        public var epoch: Int
        public var prediction: Prediction
    }

    public struct Run: Equatable, Sendable {
        public var experimentName: String
        /// The run as stored where it came from (`id` and `experimentID` are that store's).
        public var record: RunRecord
        public var epochs: [EpochRecord]
        public var predictions: [StoredPrediction]
        /// Results of `ablate evaluate` on folders outside the run's split.
        public var externalTests: [ExternalTest] = []
    }

    public var experiments: [Experiment]
    public var runs: [Run]

    public init(experiments: [Experiment], runs: [Run]) {
        self.experiments = experiments; self.runs = runs
    }

    /// The value of `format` in an export document.
    public static let format = "ablate-export"
}

extension RunStore {
    /// Every run of `experiment` (all experiments when nil) with its epochs and predictions, in queue order.
    public func archive(experiment: String? = nil) throws -> RunArchive {
        let summaries = try listRuns(experiment: experiment)
        let names = Set(summaries.map(\.experimentName))
        let experiments = try self.experiments().filter { experiment == nil ? names.contains($0.name) : $0.name == experiment }
        var runs: [RunArchive.Run] = []
        for s in summaries {
            var predictions: [RunArchive.StoredPrediction] = []
            for kind in PredictionKind.allCases {
                predictions += try self.predictions(runID: s.run.id, kind: kind).map {
                    RunArchive.StoredPrediction(kind: kind, epoch: $0.epoch, prediction: $0.prediction)
                }
            }
            runs.append(RunArchive.Run(experimentName: s.experimentName, record: s.run,
                                       epochs: try epochs(runID: s.run.id), predictions: predictions,
                                       externalTests: try externalTests(runID: s.run.id)))
        }
        return RunArchive(
            experiments: experiments.map {
                RunArchive.Experiment(name: $0.name, fileText: $0.fileText, filePath: $0.filePath,
                                      created: $0.created, updated: $0.updated)
            },
            runs: runs)
    }
}
