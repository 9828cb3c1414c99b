import AblateCore
import Foundation
import GRDB

extension RunStore {
    // MARK: - Experiments

    /// Inserts the experiment, or updates its file text when it changed. Returns its id.
    @discardableResult
    public func upsertExperiment(name: String, fileText: String, filePath: String? = nil) throws -> Int64 {
        let now = clock()
        return try write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT id, file_text FROM experiments WHERE name = ?",
                                          arguments: [name]) {
                let id: Int64 = row["id"]
                let old: String = row["file_text"]
                if old != fileText {
                    try db.execute(sql: "UPDATE experiments SET file_text = ?, file_path = ?, updated = ? WHERE id = ?",
                                   arguments: [fileText, filePath, now, id])
                }
                return id
            }
            try db.execute(sql: """
                INSERT INTO experiments(name, file_text, file_path, created, updated) VALUES (?, ?, ?, ?, ?)
                """, arguments: [name, fileText, filePath, now, now])
            return db.lastInsertedRowID
        }
    }

    /// All experiments, oldest first.
    public func experiments() throws -> [ExperimentRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM experiments ORDER BY id").map {
                ExperimentRecord(id: $0["id"], name: $0["name"], fileText: $0["file_text"],
                                 filePath: $0["file_path"], created: $0["created"], updated: $0["updated"])
            }
        }
    }

    // MARK: - Queue

    /// Queues runs, deduplicated by config hash within the experiment, in the order given.
    ///
    /// A hash not yet present is inserted as `queued`. An existing `queued`, `running` or `finished` run is left
    /// alone (a finished configuration is never queued again). An `interrupted` run goes back to `queued` and will
    /// resume from its checkpoint; a `failed` one only when `retryFailed` is true.
    ///
    /// With `pruneQueued`, queued runs of this experiment that never started and whose hash is not in `runs`
    /// (left over from an earlier version of the experiment file) are deleted, so claiming by experiment only finds
    /// the current configurations. Runs that started (any epoch, checkpoint or attempt) are never deleted.
    public func enqueue(experimentID: Int64, runs: [NewRun], retryFailed: Bool = false,
                        pruneQueued: Bool = false) throws -> EnqueueResult {
        let now = clock()
        return try write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM experiments WHERE id = ?", arguments: [experimentID])
                    ?? false else {
                throw StoreError.invalidArgument("no experiment with id \(experimentID) in the run store; "
                    + "call upsertExperiment first")
            }
            var result = EnqueueResult()
            for run in runs {
                guard run.epochsTotal >= 1 else {
                    throw StoreError.invalidArgument("run '\(run.label)': epochsTotal must be at least 1")
                }
                if let row = try Row.fetchOne(db, sql: """
                    SELECT id, status FROM runs WHERE experiment_id = ? AND config_hash = ?
                    """, arguments: [experimentID, run.configHash]) {
                    let id: Int64 = row["id"]
                    let status = RunStatus(rawValue: row["status"]) ?? .failed
                    if status == .interrupted || (status == .failed && retryFailed) {
                        try db.execute(sql: """
                            UPDATE runs SET status = 'queued', error_message = NULL, ended_at = NULL,
                                claim_token = NULL, queued_at = ? WHERE id = ?
                            """, arguments: [now, id])
                        result.requeued.append(id)
                    } else {
                        result.skipped.append((id, status))
                    }
                    continue
                }
                try db.execute(sql: """
                    INSERT INTO runs(experiment_id, config_json, config_hash, label, seed, status, epochs_total,
                                     queued_at)
                    VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)
                    """, arguments: [experimentID, run.configJSON, run.configHash, run.label, run.seed,
                                     run.epochsTotal, now])
                result.inserted.append(db.lastInsertedRowID)
            }
            if pruneQueued {
                let keep = Set(runs.map(\.configHash))
                let rows = try Row.fetchAll(db, sql: """
                    SELECT id, config_hash FROM runs
                    WHERE experiment_id = ? AND status = 'queued' AND attempts = 0
                      AND NOT EXISTS (SELECT 1 FROM epochs WHERE run_id = runs.id)
                    ORDER BY id
                    """, arguments: [experimentID])
                for row in rows where !keep.contains(row["config_hash"]) {
                    let id: Int64 = row["id"]
                    try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [id])
                    result.pruned.append(id)
                }
            }
            return result
        }
    }

    /// Atomically claims the next run to work on, or returns nil when there is none.
    ///
    /// Candidates, in order: `running` runs whose heartbeat is older than `staleAfter` seconds (their process
    /// died; they resume from their last checkpoint), then `queued` runs, oldest id first. One IMMEDIATE
    /// transaction: no two processes ever claim the same run.
    /// `configHashes`: claim only these configurations (an `ablate run --only …` selection), leaving other
    /// queued runs to the processes that want them.
    public func claimNextRun(host: String, staleAfter: TimeInterval, experimentID: Int64? = nil,
                             configHashes: [String]? = nil,
                             gitCommit: String? = nil, ablateVersion: String? = nil,
                             threads: Int? = nil) throws -> ClaimedRun? {
        guard staleAfter > 0 else {
            throw StoreError.invalidArgument("staleAfter must be positive (seconds without a heartbeat after "
                + "which a running run counts as dead), got \(staleAfter)")
        }
        let now = clock()
        let cutoff = now.addingTimeInterval(-staleAfter)
        let token = UUID().uuidString
        return try write { db in
            var sql = """
                SELECT id, status, attempts FROM runs
                WHERE (status = 'queued' OR (status = 'running' AND (heartbeat IS NULL OR heartbeat < ?)))
                """
            var args: StatementArguments = [cutoff]
            if let experimentID {
                sql += " AND experiment_id = ?"
                args += [experimentID]
            }
            if let configHashes {
                guard !configHashes.isEmpty else { return nil }
                sql += " AND config_hash IN (\(Array(repeating: "?", count: configHashes.count).joined(separator: ", ")))"
                for h in configHashes { args += [h] }
            }
            sql += " ORDER BY CASE status WHEN 'running' THEN 0 ELSE 1 END, id LIMIT 1"
            guard let row = try Row.fetchOne(db, sql: sql, arguments: args) else { return nil }
            let id: Int64 = row["id"]
            let attempts: Int = row["attempts"]
            try db.execute(sql: """
                UPDATE runs SET status = 'running', heartbeat = ?, host = ?, git_commit = ?, ablate_version = ?,
                    threads = ?, started_at = COALESCE(started_at, ?), ended_at = NULL, error_message = NULL,
                    claim_token = ?, attempts = attempts + 1
                WHERE id = ?
                """, arguments: [now, host, gitCommit, ablateVersion, threads, now, token, id])
            let run = try RunStore.fetchRun(db, id: id)
            let done = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM epochs WHERE run_id = ?", arguments: [id]) ?? 0
            return ClaimedRun(lease: RunLease(runID: id, token: token), run: run, epochsDone: done,
                              isResume: attempts > 0)
        }
    }

    /// Marks the run alive. Throws `leaseLost` if another process reclaimed it.
    public func heartbeat(_ lease: RunLease) throws {
        let now = clock()
        try write { db in
            try checkLease(db, lease)
            try db.execute(sql: "UPDATE runs SET heartbeat = ? WHERE id = ?", arguments: [now, lease.runID])
        }
    }

    /// Records (or, when resuming, replaces) one epoch's metrics; also counts as a heartbeat.
    public func recordEpoch(_ lease: RunLease, _ m: EpochMetrics) throws {
        let now = clock()
        try write { db in
            let total = try checkLease(db, lease).epochsTotal
            guard m.epoch >= 1, m.epoch <= total else {
                throw StoreError.invalidArgument("run \(lease.runID): epoch \(m.epoch) is outside 1...\(total)")
            }
            try RunStore.writeEpoch(db, runID: lease.runID, m, recordedAt: now)
            try db.execute(sql: "UPDATE runs SET heartbeat = ? WHERE id = ?", arguments: [now, lease.runID])
        }
    }

    /// Replaces the run's predictions of this kind (best or last epoch) with `predictions`.
    public func recordPredictions(_ lease: RunLease, epoch: Int, kind: PredictionKind,
                                  _ predictions: [Prediction]) throws {
        try write { db in
            try checkLease(db, lease)
            try db.execute(sql: "DELETE FROM predictions WHERE run_id = ? AND kind = ?",
                           arguments: [lease.runID, kind.rawValue])
            try RunStore.writePredictions(db, runID: lease.runID, kind: kind, epoch: epoch, predictions)
        }
    }

    /// Inserts (or replaces) one epoch row.
    static func writeEpoch(_ db: Database, runID: Int64, _ m: EpochMetrics, recordedAt: Date) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO epochs(run_id, epoch, train_loss, train_acc, test_loss, test_acc,
                learning_rate, seconds, images_per_second, recorded_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [runID, m.epoch, m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy,
                             m.learningRate, m.seconds, m.imagesPerSecond, recordedAt])
    }

    /// Inserts prediction rows of one kind (the caller deletes older rows of that kind first).
    static func writePredictions(_ db: Database, runID: Int64, kind: PredictionKind, epoch: Int,
                                 _ predictions: [Prediction]) throws {
        let statement = try db.makeStatement(sql: """
            INSERT INTO predictions(run_id, kind, epoch, file, label, predicted, probabilities)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for p in predictions {
            let probabilities = JSONValue.array(p.probabilities.map { .double($0) }).canonical
            try statement.execute(arguments: [runID, kind.rawValue, epoch, p.file, p.label, p.predicted, probabilities])
        }
    }

    /// Remembers the latest checkpoint file, for resuming.
    public func setCheckpoint(_ lease: RunLease, path: String) throws {
        try write { db in
            try checkLease(db, lease)
            try db.execute(sql: "UPDATE runs SET checkpoint_path = ? WHERE id = ?", arguments: [path, lease.runID])
        }
    }

    /// Records the thread count the run trains with (its setting, known once its configuration is read).
    public func setThreads(_ lease: RunLease, _ threads: Int) throws {
        try write { db in
            try checkLease(db, lease)
            try db.execute(sql: "UPDATE runs SET threads = ? WHERE id = ?", arguments: [threads, lease.runID])
        }
    }

    /// Stores the data audit (split sizes, leak checks, …) as JSON text.
    public func setDataAudit(_ lease: RunLease, json: String) throws {
        try write { db in
            try checkLease(db, lease)
            try db.execute(sql: "UPDATE runs SET data_audit_json = ? WHERE id = ?", arguments: [json, lease.runID])
        }
    }

    /// Ends the run successfully.
    public func finish(_ lease: RunLease) throws { try end(lease, status: .finished, message: nil) }

    /// Ends the run with an error; `enqueue(..., retryFailed: true)` queues it again.
    public func fail(_ lease: RunLease, message: String) throws { try end(lease, status: .failed, message: message) }

    /// Ends the run because the user stopped it; the next `enqueue` of its configuration resumes it.
    public func interrupt(_ lease: RunLease, message: String? = nil) throws {
        try end(lease, status: .interrupted, message: message)
    }

    func end(_ lease: RunLease, status: RunStatus, message: String?) throws {
        let now = clock()
        try write { db in
            try checkLease(db, lease)
            try db.execute(sql: """
                UPDATE runs SET status = ?, ended_at = ?, heartbeat = ?, error_message = ?, claim_token = NULL
                WHERE id = ?
                """, arguments: [status.rawValue, now, now, message, lease.runID])
        }
    }

    @discardableResult
    func checkLease(_ db: Database, _ lease: RunLease) throws -> RunRecord {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [lease.runID]) else {
            throw StoreError.unknownRun(id: lease.runID)
        }
        let run = RunRecord(row: row)
        let token: String? = row["claim_token"]
        guard run.status == .running, token == lease.token else {
            throw StoreError.leaseLost(runID: lease.runID, status: run.status)
        }
        return run
    }

    static func fetchRun(_ db: Database, id: Int64) throws -> RunRecord {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]) else {
            throw StoreError.unknownRun(id: id)
        }
        return RunRecord(row: row)
    }

    // MARK: - Reading

    /// One run.
    public func run(id: Int64) throws -> RunRecord {
        try read { db in try RunStore.fetchRun(db, id: id) }
    }

    /// Every run (optionally of one experiment) with its progress, in queue order.
    public func listRuns(experiment: String? = nil) throws -> [RunSummary] {
        try read { db in
            var sql = """
                SELECT r.*, e.name AS experiment_name,
                    (SELECT COUNT(*) FROM epochs p WHERE p.run_id = r.id) AS epochs_done,
                    (SELECT MAX(test_acc) FROM epochs p WHERE p.run_id = r.id) AS best_test_acc,
                    (SELECT epoch FROM epochs p WHERE p.run_id = r.id AND test_acc IS NOT NULL
                        ORDER BY test_acc DESC, epoch LIMIT 1) AS best_epoch,
                    (SELECT test_acc FROM epochs p WHERE p.run_id = r.id AND test_acc IS NOT NULL
                        ORDER BY epoch DESC LIMIT 1) AS last_test_acc
                FROM runs r JOIN experiments e ON e.id = r.experiment_id
                """
            var args: StatementArguments = []
            if let experiment {
                sql += " WHERE e.name = ?"
                args += [experiment]
            }
            sql += " ORDER BY r.id"
            return try Row.fetchAll(db, sql: sql, arguments: args).map { row in
                RunSummary(run: RunRecord(row: row), experimentName: row["experiment_name"],
                           epochsDone: row["epochs_done"], bestTestAcc: row["best_test_acc"],
                           bestEpoch: row["best_epoch"], lastTestAcc: row["last_test_acc"])
            }
        }
    }

    /// The run's epochs, in order.
    public func epochs(runID: Int64) throws -> [EpochRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch",
                             arguments: [runID]).map(RunStore.epochRecord)
        }
    }

    static func epochRecord(_ row: Row) -> EpochRecord {
        EpochRecord(runID: row["run_id"], metrics: EpochMetrics(
            epoch: row["epoch"], trainLoss: row["train_loss"], trainAccuracy: row["train_acc"],
            testLoss: row["test_loss"], testAccuracy: row["test_acc"], learningRate: row["learning_rate"],
            seconds: row["seconds"], imagesPerSecond: row["images_per_second"]),
            recordedAt: row["recorded_at"])
    }

    /// The run's stored predictions of one kind, by file name.
    public func predictions(runID: Int64, kind: PredictionKind) throws -> [(epoch: Int, prediction: Prediction)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT epoch, file, label, probabilities FROM predictions WHERE run_id = ? AND kind = ? ORDER BY file
                """, arguments: [runID, kind.rawValue]).map { row in
                let text: String = row["probabilities"]
                let probs = (try? JSONDecoder().decode([Double].self, from: Data(text.utf8))) ?? []
                return (row["epoch"], Prediction(file: row["file"], label: row["label"], probabilities: probs))
            }
        }
    }
}
