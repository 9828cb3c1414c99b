import AblateCore
import Foundation

// The export document: one writer and one reader, so what `export` writes `merge` reads back exactly (doubles
// in shortest round-trip form, dates with milliseconds as stored, configuration texts verbatim).

extension RunArchive {
    /// The archive as an export document (pretty-printed; predictions one row per line).
    public var json: String {
        let experiments: [JSONValue] = experiments.map { e in
            .object(["name": .string(e.name), "file_text": .string(e.fileText),
                     "file_path": e.filePath.map(JSONValue.string) ?? .null,
                     "created": .string(RunStore.iso(e.created)), "updated": .string(RunStore.iso(e.updated))])
        }
        let runs: [JSONValue] = runs.map { run in
            let summary = RunSummary(run.record, experiment: run.experimentName, epochs: run.epochs)
            var object = RunRecord.exportFields.object(run.record, summary, statusOnly: false)
            object["epochs"] = .array(run.epochs.map(RunStore.epochJSON))
            var byKind: [String: JSONValue] = [:]
            for kind in PredictionKind.allCases {
                let rows = run.predictions.filter { $0.kind == kind }
                guard let epoch = rows.first?.epoch else { continue }
                byKind[kind.rawValue] = .object([
                    "epoch": .int(epoch),
                    "rows": .array(rows.map { row in
                        .raw(JSONValue.array([.string(row.prediction.file), .int(row.prediction.label),
                                              .array(row.prediction.probabilities.map(JSONValue.double))]).canonical)
                    }),
                ])
            }
            object["predictions"] = .object(byKind)
            if !run.externalTests.isEmpty {
                object["external_tests"] = .array(run.externalTests.map(RunArchive.externalTestJSON))
            }
            return .object(object)
        }
        let doc: JSONValue = .object(["format": .string(RunArchive.format),
                                      "schema_version": .int(RunStore.schemaVersion),
                                      "experiments": .array(experiments), "runs": .array(runs)])
        return doc.pretty + "\n"
    }

    /// Reads an export document; `source` names it in errors.
    public init(json data: Data, source: String) throws {
        let doc: ExportDocument
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[ExportDocument.sourceKey] = source
            doc = try decoder.decode(ExportDocument.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw StoreError.invalidArchive(path: source, reason: "it is not valid JSON (\(context.debugDescription))")
        } catch let DecodingError.keyNotFound(key, context) {
            throw StoreError.invalidArchive(path: source, reason: "'\(RunArchive.path(context.codingPath + [key]))' is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw StoreError.invalidArchive(path: source, reason: "'\(RunArchive.path(context.codingPath))' has the wrong type")
        }
        guard doc.format == RunArchive.format else {
            throw StoreError.invalidArchive(path: source, reason: "its format is '\(doc.format)', not '\(RunArchive.format)'")
        }
        guard doc.schema_version <= RunStore.schemaVersion else {
            throw StoreError.newerSchema(path: source, found: doc.schema_version, supported: RunStore.schemaVersion)
        }
        func date(_ text: String?, _ field: String) throws -> Date? {
            guard let text, !text.isEmpty else { return nil }
            guard let d = RunStore.parseISO(text) else {
                throw StoreError.invalidArchive(path: source, reason: "\(field) '\(text)' is not an ISO 8601 time")
            }
            return d
        }
        guard let experimentsInDoc = doc.experiments else {
            throw StoreError.invalidArchive(path: source, reason: "it has no experiment definitions (written by an "
                + "older ablate); export it again with this version")
        }
        experiments = try experimentsInDoc.map { e in
            Experiment(name: e.name, fileText: e.file_text, filePath: e.file_path,
                       created: try date(e.created, "created")!, updated: try date(e.updated, "updated")!)
        }
        let known = Set(experiments.map(\.name))
        runs = try doc.runs.enumerated().map { index, r in
            guard known.contains(r.experiment) else {
                throw StoreError.invalidArchive(path: source, reason: "run \(index + 1) belongs to experiment "
                    + "'\(r.experiment)', which the file does not define")
            }
            var record = r.record
            record.experimentID = 0
            let epochs = r.epochs.map { e -> EpochRecord in
                var epoch = e.record
                epoch.runID = record.id
                return epoch
            }
            var predictions: [StoredPrediction] = []
            for (kindName, block) in (r.predictions ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let kind = PredictionKind(rawValue: kindName) else {
                    throw StoreError.invalidArchive(path: source, reason: "run \(index + 1) has predictions of an "
                        + "unknown kind '\(kindName)' (known: \(PredictionKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                predictions += block.rows.map {
                    StoredPrediction(kind: kind, epoch: block.epoch,
                                     prediction: Prediction(file: $0.file, label: $0.label, probabilities: $0.probabilities))
                }
            }
            let externalTests = try (r.external_tests ?? []).enumerated().map { n, t in
                guard let weights = PredictionKind(rawValue: t.weights) else {
                    throw StoreError.invalidArchive(path: source, reason: "run \(index + 1), external test \(n + 1) has "
                        + "unknown weights '\(t.weights)' (known: \(PredictionKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return ExternalTest(name: t.name, weights: weights, epoch: t.epoch, directory: t.directory,
                                    accuracy: t.accuracy, positiveClass: t.positive_class, sensitivity: t.sensitivity,
                                    specificity: t.specificity, rocAUC: t.roc_auc, auditJSON: t.audit_json,
                                    evaluatedAt: try date(t.evaluated_at, "evaluated_at") ?? Date(timeIntervalSince1970: 0),
                                    predictions: t.rows.map { Prediction(file: $0.file, label: $0.label, probabilities: $0.probabilities) })
            }
            return Run(experimentName: r.experiment, record: record, epochs: epochs, predictions: predictions,
                       externalTests: externalTests)
        }
    }

    /// One external test result in the export document (predictions as compact rows, like the run's own).
    static func externalTestJSON(_ t: ExternalTest) -> JSONValue {
        func num(_ v: Double?) -> JSONValue { v.map(JSONValue.double) ?? .null }
        return .object([
            "name": .string(t.name), "weights": .string(t.weights.rawValue), "epoch": .int(t.epoch),
            "directory": .string(t.directory), "images": .int(t.images), "accuracy": .double(t.accuracy),
            "positive_class": t.positiveClass.map(JSONValue.string) ?? .null, "sensitivity": num(t.sensitivity),
            "specificity": num(t.specificity), "roc_auc": num(t.rocAUC), "audit_json": .string(t.auditJSON),
            "evaluated_at": .string(RunStore.iso(t.evaluatedAt)),
            "rows": .array(t.predictions.map { p in
                .raw(JSONValue.array([.string(p.file), .int(p.label), .array(p.probabilities.map(JSONValue.double))]).canonical)
            }),
        ])
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop(while: { $0 == "." }).description
    }
}

extension RunSummary {
    /// The summary of an archived run (progress from its epochs).
    init(_ run: RunRecord, experiment: String, epochs: [EpochRecord]) {
        let evaluated = epochs.filter { $0.metrics.testAccuracy != nil }
        let best = evaluated.max { a, b in
            a.metrics.testAccuracy! < b.metrics.testAccuracy! || (a.metrics.testAccuracy! == b.metrics.testAccuracy! && a.metrics.epoch > b.metrics.epoch)
        }
        self.init(run: run, experimentName: experiment, epochsDone: epochs.count, bestTestAcc: best?.metrics.testAccuracy,
                  bestEpoch: best?.metrics.epoch, lastTestAcc: evaluated.last?.metrics.testAccuracy)
    }
}

extension RunStore {
    /// Reads what `iso(_:)` writes (with or without fractional seconds).
    static func parseISO(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }
}

/// The export document's shape, as decoded (field names are the document's).
private struct ExportDocument: Decodable {
    struct ExperimentEntry: Decodable {
        var name: String
        var file_text: String
        var file_path: String?
        var created: String
        var updated: String
    }
    /// The key under which the decoder holds the document's name (for messages).
    static let sourceKey = CodingUserInfoKey(rawValue: "ablate.export.source")!

    /// An epoch: the fields `EpochMetrics.exportFields` declares.
    struct EpochEntry: Decodable {
        var record: EpochRecord
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: FieldKey.self)
            record = EpochRecord(runID: 0, metrics: EpochMetrics(epoch: 0, trainLoss: 0, trainAccuracy: 0, testLoss: nil,
                                                                 testAccuracy: nil, learningRate: 0, seconds: 0,
                                                                 imagesPerSecond: 0),
                                 recordedAt: Date(timeIntervalSince1970: 0))
            try EpochMetrics.exportFields.read(into: &record, from: c, source: decoder.userInfo[sourceKey] as? String ?? "")
        }
    }
    struct PredictionEntry: Decodable {
        var file: String
        var label: Int
        var probabilities: [Double]
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            file = try c.decode(String.self)
            label = try c.decode(Int.self)
            probabilities = try c.decode([Double].self)
        }
    }
    struct PredictionBlock: Decodable {
        var epoch: Int
        var rows: [PredictionEntry]
    }
    struct ExternalTestEntry: Decodable {
        var name: String
        var weights: String
        var epoch: Int
        var directory: String
        var accuracy: Double
        var positive_class: String?
        var sensitivity: Double?
        var specificity: Double?
        var roc_auc: Double?
        var audit_json: String
        var evaluated_at: String?
        var rows: [PredictionEntry]
    }
    /// A run: the fields `RunRecord.exportFields` declares, its experiment, epochs, predictions and external tests.
    struct RunEntry: Decodable {
        var record: RunRecord
        var experiment: String
        var epochs: [EpochEntry]
        var predictions: [String: PredictionBlock]?
        var external_tests: [ExternalTestEntry]?

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: FieldKey.self)
            experiment = try c.decode(String.self, forKey: FieldKey("experiment"))
            record = .blank
            try RunRecord.exportFields.read(into: &record, from: c, source: decoder.userInfo[sourceKey] as? String ?? "")
            epochs = try c.decode([EpochEntry].self, forKey: FieldKey("epochs"))
            predictions = try c.decodeIfPresent([String: PredictionBlock].self, forKey: FieldKey("predictions"))
            external_tests = try c.decodeIfPresent([ExternalTestEntry].self, forKey: FieldKey("external_tests"))
        }
    }
    var format: String
    var schema_version: Int
    var experiments: [ExperimentEntry]?
    var runs: [RunEntry]
}
