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

    /// The JSON fields of one run summary (what `ablate status --json` lists; `RunRecord.exportFields`).
    public static func summaryJSON(_ s: RunSummary) -> [String: JSONValue] {
        RunRecord.exportFields.object(s.run, s, statusOnly: true)
    }

    /// An epoch's fields (`EpochMetrics.exportFields`).
    static func epochJSON(_ e: EpochRecord) -> JSONValue {
        .object(EpochMetrics.exportFields.object(e, (), statusOnly: false))
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
