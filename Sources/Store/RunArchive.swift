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

extension RunArchive {
    /// Checks what `merge` copies as it is: each run's configuration decodes and its config hash is the hash of
    /// that configuration, and the stored JSON texts (data audit, external tests' audits) parse. An edited or
    /// damaged export would otherwise file a run under a configuration it is not (so `ablate run` trains it again)
    /// or leave text in the store that `report` and `export` fail on later, far from its cause.
    public func validate(source: String) throws {
        for run in runs {
            let record = run.record
            func refuse(_ problem: String) -> StoreError {
                .invalidArchive(path: source, reason: "its run \(record.id) ('\(record.label)') \(problem); export "
                                + "the run again from the store that trained it")
            }
            let canonical: String
            do {
                canonical = try JSONValue.parse(record.configJSON).canonical
                _ = try RunConfig.decode(json: record.configJSON)
            } catch {
                throw refuse("has a configuration that does not decode (\(error))")
            }
            let hash = SHA256.hex(canonical)
            guard hash == record.configHash else {
                throw refuse("has the config hash \(record.configHash.prefix(12)), but its configuration hashes to "
                             + "\(hash.prefix(12))")
            }
            if let audit = record.dataAuditJSON, (try? JSONValue.parse(audit)) == nil {
                throw refuse("has a data audit that is not JSON")
            }
            if let test = run.externalTests.first(where: { (try? JSONValue.parse($0.auditJSON)) == nil }) {
                throw refuse("has an external test '\(test.name)' whose audit is not JSON")
            }
        }
    }
}
