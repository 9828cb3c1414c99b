import AblateCore
import Foundation

/// Tables `export` can write as CSV.
public enum ExportTable: String, Sendable, CaseIterable {
    case runs, epochs
}

extension RunStore {
    /// One table as text cells, for a CSV writer (`Report.CSV`, the project's one CSV writer).
    /// `runs`: one row per run with progress; `epochs`: one row per recorded epoch with its run's label and seed.
    public func exportTable(_ table: ExportTable, experiment: String? = nil) throws -> (header: [String], rows: [[String]]) {
        let summaries = try listRuns(experiment: experiment)
        var lines: [[String]] = []
        switch table {
        case .runs:
            lines.append(["run_id", "experiment", "label", "seed", "status", "epochs_done", "epochs_total",
                          "best_test_acc", "best_epoch", "last_test_acc", "config_hash", "host", "git_commit",
                          "ablate_version", "threads", "started_at", "ended_at", "error_message", "config_json"])
            for s in summaries {
                let r = s.run
                lines.append([String(r.id), s.experimentName, r.label, opt(r.seed), r.status.rawValue,
                              String(s.epochsDone), String(r.epochsTotal), opt(s.bestTestAcc), opt(s.bestEpoch),
                              opt(s.lastTestAcc), r.configHash, r.host ?? "", r.gitCommit ?? "",
                              r.ablateVersion ?? "", opt(r.threads), RunStore.iso(r.startedAt),
                              RunStore.iso(r.endedAt), r.errorMessage ?? "", r.configJSON])
            }
        case .epochs:
            lines.append(["run_id", "experiment", "label", "seed", "config_hash", "epoch", "train_loss", "train_acc",
                          "test_loss", "test_acc", "learning_rate", "seconds", "images_per_second", "val_loss",
                          "val_acc"])
            for s in summaries {
                for e in try epochs(runID: s.run.id) {
                    let m = e.metrics
                    lines.append([String(s.run.id), s.experimentName, s.run.label, opt(s.run.seed),
                                  s.run.configHash, String(m.epoch), String(m.trainLoss), String(m.trainAccuracy),
                                  opt(m.testLoss), opt(m.testAccuracy), String(m.learningRate), String(m.seconds),
                                  String(m.imagesPerSecond), opt(m.validationLoss), opt(m.validationAccuracy)])
                }
            }
        }
        return (lines[0], Array(lines.dropFirst()))
    }

    /// One JSON document holding everything `ablate merge` and `ablate report` need (see `RunArchive`):
    /// `{"format": "ablate-export", "schema_version": N, "experiments": [...], "runs": [...]}`. Each run has the
    /// fields `ablate status --json` shows, its `config` object, the exact stored texts (`config_json`,
    /// `data_audit_json`), its `epochs`, and its `predictions` by kind as compact `[file, label, [p…]]` rows.
    public func exportJSON(experiment: String? = nil) throws -> String {
        try archive(experiment: experiment).json
    }

    /// The JSON fields of one run summary (what `ablate status --json` lists).
    public static func summaryJSON(_ s: RunSummary) -> [String: JSONValue] {
        let r = s.run
        func str(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        func num(_ v: Double?) -> JSONValue { v.map(JSONValue.double) ?? .null }
        func int(_ v: Int?) -> JSONValue { v.map(JSONValue.int) ?? .null }
        return [
            "id": .int(Int(r.id)),
            "experiment": .string(s.experimentName),
            "label": .string(r.label),
            "seed": int(r.seed),
            "status": .string(r.status.rawValue),
            "config_hash": .string(r.configHash),
            "config": .raw(r.configJSON),
            "epochs_done": .int(s.epochsDone),
            "epochs_total": .int(r.epochsTotal),
            "best_test_acc": num(s.bestTestAcc),
            "best_epoch": int(s.bestEpoch),
            "last_test_acc": num(s.lastTestAcc),
            "host": str(r.host),
            "git_commit": str(r.gitCommit),
            "ablate_version": str(r.ablateVersion),
            "threads": int(r.threads),
            "machines": r.hardwareJSON.map(JSONValue.raw) ?? .null,
            "attempts": .int(r.attempts),
            "queued_at": str(iso(r.queuedAt)),
            "started_at": str(r.startedAt.map(iso)),
            "ended_at": str(r.endedAt.map(iso)),
            "heartbeat": str(r.heartbeat.map(iso)),
            "error_message": str(r.errorMessage),
            "checkpoint_path": str(r.checkpointPath),
            "data_audit": r.dataAuditJSON.map(JSONValue.raw) ?? .null,
        ].merging(r.stoppedEarlyAt.map { ["stopped_early_at": JSONValue.int($0)] } ?? [:]) { a, _ in a }
         .merging(r.initReportJSON.map { ["init_report": JSONValue.raw($0)] } ?? [:]) { a, _ in a }
    }

    /// An epoch's fields; the validation ones only when it has them (exports of runs without a validation part
    /// stay as they were).
    static func epochJSON(_ e: EpochRecord) -> JSONValue {
        let m = e.metrics
        var object: [String: JSONValue] = [
            "epoch": .int(m.epoch), "train_loss": .double(m.trainLoss), "train_acc": .double(m.trainAccuracy),
            "test_loss": m.testLoss.map(JSONValue.double) ?? .null,
            "test_acc": m.testAccuracy.map(JSONValue.double) ?? .null,
            "learning_rate": .double(m.learningRate), "seconds": .double(m.seconds),
            "images_per_second": .double(m.imagesPerSecond), "recorded_at": .string(iso(e.recordedAt)),
        ]
        if let v = m.validationLoss { object["val_loss"] = .double(v) }
        if let v = m.validationAccuracy { object["val_acc"] = .double(v) }
        return .object(object)
    }

    /// ISO 8601 UTC with milliseconds, e.g. 2026-11-29T01:47:13.123Z.
    public static func iso(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    static func iso(_ date: Date?) -> String { date.map { iso($0) } ?? "" }
}

private func opt<T: LosslessStringConvertible>(_ v: T?) -> String { v.map { String($0) } ?? "" }
