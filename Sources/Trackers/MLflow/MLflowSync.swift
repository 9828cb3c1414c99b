// One ablate run made equal to its MLflow run, whatever MLflow already holds: the experiment named after the
// ablate experiment (found or created), the run found by its config-hash tag (or created), then only the params,
// tags, metric steps and status MLflow lacks. Export calls it for every run of a store; the live tracker for a
// run after each of its epochs. What was learnt from the server is kept between calls and dropped for a run
// whose sync failed, so the next call asks the server again instead of trusting a half-done step.
import AblateCore
import Foundation
import Store

/// What one sync sent.
public struct MLflowSyncResult: Equatable, Sendable {
    /// The MLflow run's id.
    public var runID = ""
    public var created = false
    public var params = 0
    public var tags = 0
    public var metrics = 0
    public var statusChanged = false

    public var changedNothing: Bool { !created && params == 0 && tags == 0 && metrics == 0 && !statusChanged }
}

public final class MLflowSync {
    /// The tag that identifies an ablate run in its MLflow experiment.
    public static let configHashTag = "ablate.config_hash"
    /// The epoch `training.select` picked on validation so far, and the epoch after which early stopping ended the run.
    public static let selectedEpochTag = "ablate.selected_epoch"
    public static let stoppedEarlyTag = "ablate.stopped_early_at"
    /// Marks an MLflow run that is not an ablate run: `report` for the one holding the experiment's report.
    public static let kindTag = "ablate.kind"
    public static let reportKind = "report"
    /// MLflow's limits per runs/log-batch call.
    static let maxMetricsPerBatch = 1000
    static let maxParamsPerBatch = 100
    static let maxTagsPerBatch = 100
    /// MLflow refuses longer tag values (5000 characters in older servers).
    static let maxTagLength = 5000

    public let client: MLflowClient
    private var experimentIDs: [String: String] = [:]
    private var known: [String: KnownRun] = [:]

    /// What MLflow holds of one run, as far as this process knows.
    struct KnownRun {
        var id: String
        var status: String
        var params: [String: String]
        var tags: [String: String]
        /// Steps logged per metric key; nil until read (metrics/get-history) or known to be none (a new run).
        var steps: [String: Set<Int64>]?
    }

    public init(client: MLflowClient) { self.client = client }

    /// Brings the MLflow run of `run` (of the ablate experiment `experiment`) up to date with the store's
    /// epochs; `storePath` becomes a tag.
    @discardableResult
    public func sync(_ run: RunRecord, experiment: String, epochs: [EpochRecord], storePath: String) throws -> MLflowSyncResult {
        let key = "\(experiment)\u{0}\(run.configHash)"
        do {
            return try sync(run, key: key, experiment: experiment, epochs: epochs, storePath: storePath)
        } catch {
            known[key] = nil
            throw error
        }
    }

    private func sync(_ run: RunRecord, key: String, experiment: String, epochs: [EpochRecord],
                      storePath: String) throws -> MLflowSyncResult {
        var result = MLflowSyncResult()
        let experimentID = try experimentIDs[experiment] ?? experimentID(named: experiment)
        experimentIDs[experiment] = experimentID
        var mlflowRun: KnownRun
        if let cached = known[key] {
            mlflowRun = cached
        } else if let found = try find(run.configHash, in: experimentID) {
            mlflowRun = found
        } else {
            mlflowRun = try create(run, in: experimentID)
            result.created = true
        }
        known[key] = mlflowRun
        result.runID = mlflowRun.id

        let params = try ConfigParams.flatten(configJSON: run.configJSON).filter { mlflowRun.params[$0.key] == nil }
        for chunk in params.chunked(Self.maxParamsPerBatch) {
            try logBatch(mlflowRun.id, params: chunk.map { Self.pair($0.key, $0.value) })
            for p in chunk { mlflowRun.params[p.key] = p.value }
        }
        result.params = params.count

        let tags = try Self.tags(run, epochs: epochs.map(\.metrics), storePath: storePath)
            .filter { mlflowRun.tags[$0.key] != $0.value }
        for chunk in tags.chunked(Self.maxTagsPerBatch) {
            try logBatch(mlflowRun.id, tags: chunk.map { Self.pair($0.key, $0.value) })
            for t in chunk { mlflowRun.tags[t.key] = t.value }
        }
        result.tags = tags.count
        known[key] = mlflowRun

        var steps = try mlflowRun.steps ?? history(mlflowRun.id)
        var missing: [(key: String, value: Double, timestamp: Int64, step: Int64)] = []
        for e in epochs {
            let step = Int64(e.metrics.epoch)
            for (metric, value) in TrackedMetrics.values(e.metrics) where !(steps[metric]?.contains(step) ?? false) {
                missing.append((metric, value, Self.milliseconds(e.recordedAt), step))
            }
        }
        for chunk in missing.chunked(Self.maxMetricsPerBatch) {
            try logBatch(mlflowRun.id, metrics: chunk.map {
                .object(["key": .string($0.key), "value": Self.json($0.value), "timestamp": .int(Int($0.timestamp)),
                         "step": .int(Int($0.step))])
            })
            for m in chunk { steps[m.key, default: []].insert(m.step) }
        }
        mlflowRun.steps = steps
        result.metrics = missing.count
        known[key] = mlflowRun

        let status = Self.status(run.status)
        if mlflowRun.status != status {
            var body: [String: JSONValue] = ["run_id": .string(mlflowRun.id), "status": .string(status)]
            if let ended = run.endedAt, [.finished, .failed, .interrupted].contains(run.status) {
                body["end_time"] = .int(Int(Self.milliseconds(ended)))
            }
            _ = try client.post("runs/update", .object(body))
            mlflowRun.status = status
            result.statusChanged = true
        }
        known[key] = mlflowRun
        return result
    }

    // MARK: finding and creating

    func experimentID(named name: String) throws -> String {
        do {
            let reply = try client.get("experiments/get-by-name", [("experiment_name", name)])
            guard let experiment = reply["experiment"], let id = experiment["experiment_id"]?.text else {
                throw TrackerError.unexpectedResponse(endpoint: "experiments/get-by-name", "no experiment_id")
            }
            if experiment["lifecycle_stage"]?.text == "deleted" {
                throw TrackerError.server(status: 400, endpoint: "experiments/get-by-name", message: "the MLflow "
                    + "experiment '\(name)' is deleted; restore it (`mlflow experiments restore`) or delete it for good")
            }
            return id
        } catch TrackerError.server(404, _, _) {
            do {
                let reply = try client.post("experiments/create", .object(["name": .string(name)]))
                guard let id = reply["experiment_id"]?.text else {
                    throw TrackerError.unexpectedResponse(endpoint: "experiments/create", "no experiment_id")
                }
                return id
            } catch TrackerError.server(_, _, let message) where message.contains("RESOURCE_ALREADY_EXISTS") {
                // Another process created it between our two calls.
                return try experimentID(named: name)
            }
        }
    }

    /// The MLflow run that holds an experiment's report (`export --artifacts --report-dir`): found by its tag
    /// `ablate.kind = report`, else created (FINISHED at once: it trains nothing). The experiment is found or
    /// created as for the runs.
    public func reportRun(experiment: String) throws -> (id: String, created: Bool) {
        let experimentID = try experimentIDs[experiment] ?? experimentID(named: experiment)
        experimentIDs[experiment] = experimentID
        let reply = try client.post("runs/search", .object([
            "experiment_ids": .array([.string(experimentID)]),
            "filter": .string("tags.`\(Self.kindTag)` = '\(Self.reportKind)'"),
            "max_results": .int(2),
        ]))
        let runs = reply["runs"]?.arrayValue ?? []
        guard runs.count <= 1 else {
            throw TrackerError.unexpectedResponse(endpoint: "runs/search", "several MLflow runs carry "
                + "\(Self.kindTag) = \(Self.reportKind) in experiment \(experimentID); delete all but one")
        }
        if let id = runs.first?["info"]?["run_id"]?.text { return (id, false) }
        let now = Int(Self.milliseconds(Date()))
        let created = try client.post("runs/create", .object([
            "experiment_id": .string(experimentID), "run_name": .string("report"), "start_time": .int(now),
            "tags": .array([Self.pair(Self.kindTag, Self.reportKind)]),
        ]))
        guard let id = created["run"]?["info"]?["run_id"]?.text else {
            throw TrackerError.unexpectedResponse(endpoint: "runs/create", "no run_id")
        }
        _ = try client.post("runs/update", .object(["run_id": .string(id), "status": .string("FINISHED"),
                                                    "end_time": .int(now)]))
        return (id, true)
    }

    func find(_ configHash: String, in experimentID: String) throws -> KnownRun? {
        let reply = try client.post("runs/search", .object([
            "experiment_ids": .array([.string(experimentID)]),
            "filter": .string("tags.`\(Self.configHashTag)` = '\(configHash)'"),
            "max_results": .int(2),
        ]))
        let runs = reply["runs"]?.arrayValue ?? []
        guard let run = runs.first else { return nil }
        guard runs.count == 1 else {
            throw TrackerError.unexpectedResponse(endpoint: "runs/search", "several MLflow runs carry "
                + "\(Self.configHashTag) = \(configHash) in experiment \(experimentID); delete all but one")
        }
        guard let id = run["info"]?["run_id"]?.text else {
            throw TrackerError.unexpectedResponse(endpoint: "runs/search", "a run without run_id")
        }
        func pairs(_ name: String) -> [String: String] {
            var out: [String: String] = [:]
            for p in run["data"]?[name]?.arrayValue ?? [] {
                if let k = p["key"]?.text { out[k] = p["value"]?.text ?? "" }
            }
            return out
        }
        return KnownRun(id: id, status: run["info"]?["status"]?.text ?? "", params: pairs("params"),
                        tags: pairs("tags"), steps: nil)
    }

    func create(_ run: RunRecord, in experimentID: String) throws -> KnownRun {
        let reply = try client.post("runs/create", .object([
            "experiment_id": .string(experimentID),
            "run_name": .string(run.label),
            "start_time": .int(Int(Self.milliseconds(run.startedAt ?? run.queuedAt))),
            // The hash tag comes with the run, so an export stopped right after this call finds the run next time.
            "tags": .array([.object(["key": .string(Self.configHashTag), "value": .string(run.configHash)])]),
        ]))
        guard let info = reply["run"]?["info"], let id = info["run_id"]?.text else {
            throw TrackerError.unexpectedResponse(endpoint: "runs/create", "no run_id")
        }
        return KnownRun(id: id, status: info["status"]?.text ?? "RUNNING", params: [:],
                        tags: [Self.configHashTag: run.configHash, "mlflow.runName": run.label], steps: [:])
    }

    /// Every logged step per metric key (metrics/get-history, page by page).
    func history(_ runID: String) throws -> [String: Set<Int64>] {
        var out: [String: Set<Int64>] = [:]
        for key in TrackedMetrics.keys {
            var token: String?
            repeat {
                var query = [("run_id", runID), ("metric_key", key), ("max_results", "25000")]
                if let token { query.append(("page_token", token)) }
                let reply = try client.get("metrics/get-history", query)
                for m in reply["metrics"]?.arrayValue ?? [] {
                    if let step = m["step"]?.int64Value { out[key, default: []].insert(step) }
                }
                token = reply["next_page_token"]?.text.flatMap { $0.isEmpty ? nil : $0 }
            } while token != nil
        }
        return out
    }

    private func logBatch(_ runID: String, metrics: [JSONValue] = [], params: [JSONValue] = [],
                          tags: [JSONValue] = []) throws {
        _ = try client.post("runs/log-batch", .object([
            "run_id": .string(runID), "metrics": .array(metrics), "params": .array(params), "tags": .array(tags),
        ]))
    }

    // MARK: values

    /// The run's tags: provenance, the hash that finds it again, and what it decided about its epochs (of
    /// `epochs`, those sent): the selected epoch when `training.select` follows validation (it may move on while
    /// the run trains; the tag follows it) and the epoch early stopping ended it after.
    static func tags(_ run: RunRecord, epochs: [EpochMetrics], storePath: String) throws -> [(key: String, value: String)] {
        let machines = try run.machines()
        var backends: [String] = []
        for m in machines where !backends.contains(m.backend) { backends.append(m.backend) }
        var tags: [(String, String?)] = [
            (configHashTag, run.configHash),
            ("ablate.run_id", String(run.id)),
            ("ablate.label", run.label),
            ("ablate.seed", run.seed.map(String.init)),
            ("ablate.status", run.status.rawValue),
            ("ablate.store", storePath),
            ("ablate.host", run.host),
            ("ablate.git_commit", run.gitCommit),
            ("ablate.version", run.ablateVersion),
            ("ablate.backend", backends.isEmpty ? nil : backends.joined(separator: ", ")),
            ("ablate.machines", machines.isEmpty ? nil : machines.map(\.summary).joined(separator: "; ")),
        ]
        if let epoch = TrackedMetrics.selection(run)?.selectedEpoch(in: epochs) {
            tags.append((selectedEpochTag, String(epoch)))
        }
        if let epoch = run.stoppedEarlyAt { tags.append((stoppedEarlyTag, String(epoch))) }
        if let error = run.errorMessage { tags.append(("ablate.error", error)) }
        return tags.compactMap { key, value in
            value.map { (key, $0.count > maxTagLength ? String($0.prefix(maxTagLength - 12)) + " …(cut)" : $0) }
        }
    }

    /// ablate's run status as MLflow's (`interrupted` is MLflow's KILLED: stopped, resumable).
    static func status(_ status: RunStatus) -> String {
        switch status {
        case .queued: return "SCHEDULED"
        case .running: return "RUNNING"
        case .finished: return "FINISHED"
        case .failed: return "FAILED"
        case .interrupted: return "KILLED"
        }
    }

    static func pair(_ key: String, _ value: String) -> JSONValue {
        .object(["key": .string(key), "value": .string(value)])
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// A metric value in MLflow's JSON: non-finite values as protobuf's JSON mapping spells them.
    static func json(_ value: Double) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value > 0 ? "Infinity" : "-Infinity") }
        return .double(value)
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
