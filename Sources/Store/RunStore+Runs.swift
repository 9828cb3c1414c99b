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
            if var experiment = try ExperimentRow.filter(ExperimentRow.Columns.name == name).fetchOne(db) {
                if experiment.fileText != fileText {
                    try experiment.updateChanges(db) {
                        $0.fileText = fileText
                        $0.filePath = filePath
                        $0.updated = now
                    }
                }
                return experiment.id!
            }
            var experiment = ExperimentRow(name: name, fileText: fileText, filePath: filePath, created: now, updated: now)
            try experiment.insert(db)
            return experiment.id!
        }
    }

    /// All experiments, oldest first.
    public func experiments() throws -> [ExperimentRecord] {
        try read { db in
            try ExperimentRow.order(ExperimentRow.Columns.id).fetchAll(db).map(ExperimentRecord.init)
        }
    }

    /// The experiment named `name`, or `StoreError.unknownExperiment` listing the ones there are.
    @discardableResult
    public func experiment(named name: String) throws -> ExperimentRecord {
        let all = try experiments()
        guard let found = all.first(where: { $0.name == name }) else {
            throw StoreError.unknownExperiment(path: path, name: name, known: all.map(\.name))
        }
        return found
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
            guard try ExperimentRow.exists(db, key: experimentID) else {
                throw StoreError.invalidArgument("no experiment with id \(experimentID) in the run store; "
                    + "call upsertExperiment first")
            }
            var result = EnqueueResult()
            for run in runs {
                guard run.epochsTotal >= 1 else {
                    throw StoreError.invalidArgument("run '\(run.label)': epochsTotal must be at least 1")
                }
                if let existing = try RunStore.fetchRun(db, experimentID: experimentID, configHash: run.configHash) {
                    let id = existing.id!
                    if existing.status == .interrupted || (existing.status == .failed && retryFailed) {
                        try RunRow.filter(key: id).updateAll(db, [
                            RunRow.Columns.status.set(to: RunStatus.queued.rawValue),
                            RunRow.Columns.errorMessage.set(to: nil), RunRow.Columns.endedAt.set(to: nil),
                            RunRow.Columns.claimToken.set(to: nil), RunRow.Columns.leaseHolder.set(to: nil),
                            RunRow.Columns.queuedAt.set(to: now),
                        ])
                        result.requeued.append(id)
                    } else {
                        result.skipped.append((id, existing.status))
                    }
                    continue
                }
                var row = RunRow(id: nil, experimentID: experimentID, configJSON: run.configJSON,
                                 configHash: run.configHash, label: run.label, seed: run.seed, status: .queued,
                                 epochsTotal: run.epochsTotal, queuedAt: now, attempts: 0)
                try row.insert(db)
                result.inserted.append(row.id!)
            }
            if pruneQueued {
                let keep = Set(runs.map(\.configHash))
                // Never started: queued, never claimed, no epoch recorded.
                let run = TableAlias<RunRow>()
                let neverStarted = try RunRow.aliased(run)
                    .filter(RunRow.Columns.experimentID == experimentID)
                    .filter(RunRow.Columns.status == RunStatus.queued.rawValue && RunRow.Columns.attempts == 0)
                    .filter(!EpochRow.filter(EpochRow.Columns.runID == run[RunRow.Columns.id]).exists())
                    .order(RunRow.Columns.id)
                    .fetchAll(db)
                for row in neverStarted where !keep.contains(row.configHash) {
                    try row.delete(db)
                    result.pruned.append(row.id!)
                }
            }
            return result
        }
    }

    /// Atomically claims the next run to work on, or returns nil when there is none.
    ///
    /// Candidates, in order: `running` runs whose process died — their heartbeat is older than `staleAfter`
    /// seconds, or their `LeaseHolder` has certainly exited as seen from this process on `host`, and their holder
    /// is not certainly alive on this machine (a paused process keeps its run) — which resume
    /// from their last checkpoint, then `queued` runs, oldest id first. One IMMEDIATE transaction: no two processes
    /// ever claim the same run. This process is recorded as the new holder (nothing where /proc is missing).
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
        let me = LeaseHolder.current(host: host)
        return try write { db in
            // The claim stays hand-written SQL (its columns still come from `RunRow.Columns`): it is the store's
            // concurrency contract — which runs may be taken (queued, or running with a heartbeat older than the
            // cutoff), in which order (stale running runs first, then the oldest id), and what taking one writes
            // (a new lease, attempts + 1, the first start kept) — read and written in one IMMEDIATE transaction,
            // which holds SQLite's write lock from its start, so no two processes ever take the same run. As two
            // statements it reads as that contract and can be checked against it line by line.
            typealias C = RunRow.Columns
            let queued = RunStatus.queued.rawValue, running = RunStatus.running.rawValue
            var claimable: SQL = """
                (\(C.status) = \(queued) OR (\(C.status) = \(running) AND (\(C.heartbeat) IS NULL OR \(C.heartbeat) < \(cutoff))))
                """
            // Running runs with a fresh heartbeat whose holder has exited are free, and those whose holder is alive
            // on this machine are not, whatever their heartbeat (see `LeaseHolder`): the tests need the process
            // table, so they are made here, under the same write lock, and join the SQL by id.
            if me != nil {
                let held: SQLRequest<RunRow> = "SELECT * FROM \(RunRow.self) WHERE \(C.status) = \(running) AND \(C.leaseHolder) IS NOT NULL"
                let holders = try held.fetchAll(db).map(RunRecord.init)
                let gone = holders.filter { $0.holderHasExited(seenFrom: host) }.map(\.id)
                let alive = holders.filter { $0.holderIsAlive(seenFrom: host) }.map(\.id)
                if !gone.isEmpty { claimable = "(\(claimable) OR (\(C.status) = \(running) AND \(C.id) IN \(gone)))" }
                if !alive.isEmpty { claimable = "(\(claimable) AND \(C.id) NOT IN \(alive))" }
            }
            if let experimentID { claimable += " AND \(C.experimentID) = \(experimentID)" }
            if let configHashes {
                guard !configHashes.isEmpty else { return nil }
                claimable += " AND \(C.configHash) IN \(configHashes)"
            }
            let next: SQLRequest<RunRow> = """
                SELECT * FROM \(RunRow.self) WHERE \(claimable)
                ORDER BY CASE \(C.status) WHEN \(running) THEN 0 ELSE 1 END, \(C.id) LIMIT 1
                """
            guard let candidate = try next.fetchOne(db), let id = candidate.id else { return nil }
            try db.execute(literal: """
                UPDATE \(RunRow.self) SET \(C.status) = \(running), \(C.heartbeat) = \(now), \(C.host) = \(host),
                    \(C.gitCommit) = \(gitCommit), \(C.ablateVersion) = \(ablateVersion), \(C.threads) = \(threads),
                    \(C.startedAt) = COALESCE(\(C.startedAt), \(now)), \(C.endedAt) = NULL, \(C.errorMessage) = NULL,
                    \(C.claimToken) = \(token), \(C.leaseHolder) = \(me?.recorded), \(C.attempts) = \(C.attempts) + 1
                WHERE \(C.id) = \(id)
                """)
            let run = try RunStore.fetchRun(db, id: id)
            let done = try EpochRow.filter(EpochRow.Columns.runID == id).fetchCount(db)
            return ClaimedRun(lease: RunLease(runID: id, token: token), run: run, epochsDone: done,
                              isResume: candidate.attempts > 0)
        }
    }

    /// Marks the run alive. Throws `leaseLost` if another process reclaimed it.
    public func heartbeat(_ lease: RunLease) throws {
        let now = clock()
        try write { db in
            try checkLease(db, lease)
            try RunRow.filter(key: lease.runID).updateAll(db, RunRow.Columns.heartbeat.set(to: now))
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
            try RunRow.filter(key: lease.runID).updateAll(db, RunRow.Columns.heartbeat.set(to: now))
        }
    }

    /// Replaces the run's predictions of this kind (best or last epoch) with `predictions`.
    public func recordPredictions(_ lease: RunLease, epoch: Int, kind: PredictionKind,
                                  _ predictions: [Prediction]) throws {
        try write { db in
            try checkLease(db, lease)
            try PredictionRow
                .filter(PredictionRow.Columns.runID == lease.runID && PredictionRow.Columns.kind == kind.rawValue)
                .deleteAll(db)
            try RunStore.writePredictions(db, runID: lease.runID, kind: kind, epoch: epoch, predictions)
        }
    }

    /// Inserts (or replaces) one epoch row.
    static func writeEpoch(_ db: Database, runID: Int64, _ m: EpochMetrics, recordedAt: Date) throws {
        try EpochRow(runID: runID, m, recordedAt: recordedAt).insert(db, onConflict: .replace)
    }

    /// Inserts prediction rows of one kind (the caller deletes older rows of that kind first).
    static func writePredictions(_ db: Database, runID: Int64, kind: PredictionKind, epoch: Int,
                                 _ predictions: [Prediction]) throws {
        for p in predictions {
            var row = PredictionRow(runID: runID, kind: kind, epoch: epoch, p)
            try row.insert(db)
        }
    }

    /// Remembers the latest checkpoint file, for resuming.
    public func setCheckpoint(_ lease: RunLease, path: String) throws {
        try write { db in
            try checkLease(db, lease)
            try RunRow.filter(key: lease.runID).updateAll(db, RunRow.Columns.checkpointPath.set(to: path))
        }
    }

    /// Records the machine this process trains the run on (and its threads): appended to the run's machines
    /// unless it is the last one already (a resume on the same machine).
    public func recordMachine(_ lease: RunLease, _ machine: Machine) throws {
        try write { db in
            let run = try checkLease(db, lease)
            let machines = Machine.appending(machine, to: try run.machines())
            try RunRow.filter(key: lease.runID).updateAll(db, [
                RunRow.Columns.threads.set(to: machine.threads),
                RunRow.Columns.hardwareJSON.set(to: Machine.encode(machines)),
            ])
        }
    }

    /// Stores the data audit (split sizes, leak checks, …) as JSON text.
    public func setDataAudit(_ lease: RunLease, json: String) throws {
        try write { db in
            try checkLease(db, lease)
            try RunRow.filter(key: lease.runID).updateAll(db, RunRow.Columns.dataAuditJSON.set(to: json))
        }
    }

    /// Records what loading the run's starting weights did (`model.init_from`).
    public func setInitReport(_ lease: RunLease, json: String) throws {
        try write { db in
            try checkLease(db, lease)
            try RunRow.filter(key: lease.runID).updateAll(db, RunRow.Columns.initReportJSON.set(to: json))
        }
    }

    /// Ends the run successfully; `stoppedEarlyAt`: the epoch after which early stopping ended it.
    public func finish(_ lease: RunLease, stoppedEarlyAt: Int? = nil) throws {
        try end(lease, status: .finished, message: nil, stoppedEarlyAt: stoppedEarlyAt)
    }

    /// Ends the run with an error; `enqueue(..., retryFailed: true)` queues it again.
    public func fail(_ lease: RunLease, message: String) throws { try end(lease, status: .failed, message: message) }

    /// Ends the run because the user stopped it; the next `enqueue` of its configuration resumes it.
    public func interrupt(_ lease: RunLease, message: String? = nil) throws {
        try end(lease, status: .interrupted, message: message)
    }

    func end(_ lease: RunLease, status: RunStatus, message: String?, stoppedEarlyAt: Int? = nil) throws {
        let now = clock()
        try write { db in
            try checkLease(db, lease)
            try RunRow.filter(key: lease.runID).updateAll(db, [
                RunRow.Columns.status.set(to: status.rawValue), RunRow.Columns.endedAt.set(to: now),
                RunRow.Columns.heartbeat.set(to: now), RunRow.Columns.errorMessage.set(to: message),
                RunRow.Columns.claimToken.set(to: nil), RunRow.Columns.leaseHolder.set(to: nil),
                RunRow.Columns.stoppedEarlyAt.set(to: stoppedEarlyAt),
            ])
        }
    }

    @discardableResult
    func checkLease(_ db: Database, _ lease: RunLease) throws -> RunRecord {
        guard let row = try RunRow.fetchOne(db, key: lease.runID) else {
            throw StoreError.unknownRun(id: lease.runID)
        }
        guard row.status == .running, row.claimToken == lease.token else {
            throw StoreError.leaseLost(runID: lease.runID, status: row.status)
        }
        return RunRecord(row)
    }

    static func fetchRun(_ db: Database, id: Int64) throws -> RunRecord {
        guard let row = try RunRow.fetchOne(db, key: id) else { throw StoreError.unknownRun(id: id) }
        return RunRecord(row)
    }

    /// The experiment's run of this configuration, if it has one.
    static func fetchRun(_ db: Database, experimentID: Int64, configHash: String) throws -> RunRow? {
        try RunRow
            .filter(RunRow.Columns.experimentID == experimentID && RunRow.Columns.configHash == configHash)
            .fetchOne(db)
    }

    // MARK: - Reading

    /// One run.
    public func run(id: Int64) throws -> RunRecord {
        try read { db in try RunStore.fetchRun(db, id: id) }
    }

    /// Every run (optionally of one experiment) with its progress, in queue order.
    public func listRuns(experiment: String? = nil) throws -> [RunSummary] {
        /// A run with its experiment's name.
        struct Listed: Decodable, FetchableRecord {
            var run: RunRow
            var experimentName: String
            enum CodingKeys: CodingKey { case run, experimentName }
        }
        return try read { db in
            var experiments = RunRow.experiment
                .select(ExperimentRow.Columns.name.forKey(Listed.CodingKeys.experimentName))
            if let experiment { experiments = experiments.filter(ExperimentRow.Columns.name == experiment) }
            let listed = try RunRow.annotated(withRequired: experiments).order(RunRow.Columns.id)
                .asRequest(of: Listed.self).fetchAll(db)
            // Progress (epochs done, best and last test accuracy) as archived runs compute it: one definition.
            return try listed.map {
                RunSummary(RunRecord($0.run), experiment: $0.experimentName, epochs: try RunStore.fetchEpochs(db, runID: $0.run.id!))
            }
        }
    }

    /// The run's epochs, in order.
    public func epochs(runID: Int64) throws -> [EpochRecord] {
        try read { db in try RunStore.fetchEpochs(db, runID: runID) }
    }

    static func fetchEpochs(_ db: Database, runID: Int64) throws -> [EpochRecord] {
        try EpochRow.filter(EpochRow.Columns.runID == runID).order(EpochRow.Columns.epoch).fetchAll(db).map(\.record)
    }

    /// The run's stored predictions of one kind, by file name.
    public func predictions(runID: Int64, kind: PredictionKind) throws -> [(epoch: Int, prediction: Prediction)] {
        try read { db in
            try PredictionRow
                .filter(PredictionRow.Columns.runID == runID && PredictionRow.Columns.kind == kind.rawValue)
                .order(PredictionRow.Columns.file)
                .fetchAll(db)
                .map { ($0.epoch, try $0.prediction(store: self.path)) }
        }
    }
}
