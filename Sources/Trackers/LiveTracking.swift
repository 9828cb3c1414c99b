// `ablate run --tensorboard DIR --mlflow URI`: after each change of a run in the store (started, an epoch
// recorded, finished, failed, interrupted) the trackers are brought up to date from the store, so they show
// exactly what the store holds and a resumed run goes on where its tracker stopped. TensorBoard's files are
// written at once (a few hundred bytes); MLflow's calls go to a thread of their own (`MLflowWorker`), so a slow
// or absent server never holds training up.
import Foundation
import Store

public final class LiveTracking {
    private let store: RunStore
    private let tensorBoard: TensorBoardLog?
    private let mlflow: MLflowWorker?
    private let warn: @Sendable (String) -> Void
    private var experimentNames: [Int64: String] = [:]
    private var tensorBoardWarned = false

    /// `store` is the connection the training writes through, not a second one: SQLite's POSIX locks belong to
    /// the process, and opening and closing the file again (as a store's opening checks do) can drop them
    /// under the writer's feet. `warn` hears at most one line per tracker about trouble (from the MLflow thread
    /// for MLflow).
    public init(store: RunStore, tensorBoardDirectory: String?, mlflow: MLflowClient?,
                warn: @escaping @Sendable (String) -> Void) throws {
        self.store = store
        self.warn = warn
        tensorBoard = try tensorBoardDirectory.map { try TensorBoardLog(root: $0) }
        self.mlflow = mlflow.map { MLflowWorker(client: $0, store: store, warn: warn) }
    }

    /// The run changed in the store: the trackers catch up with its epochs up to `throughEpoch` (nil: all).
    public func runChanged(_ runID: Int64, throughEpoch: Int?) {
        mlflow?.enqueue(runID, through: throughEpoch)
        guard let tensorBoard else { return }
        do {
            let run = try store.run(id: runID)
            let experiment = try Self.experimentName(run, in: store, cache: &experimentNames)
            let epochs = try store.epochs(runID: runID).filter { $0.metrics.epoch <= throughEpoch ?? .max }
            try tensorBoard.sync(run, experiment: experiment, epochs: epochs)
        } catch {
            guard !tensorBoardWarned else { return }
            tensorBoardWarned = true
            warn("warning: TensorBoard events not written under \(tensorBoard.root.path): \(error); training goes on, "
                 + "`ablate export --format tensorboard` writes what is missing")
        }
    }

    static func experimentName(_ run: RunRecord, in store: RunStore, cache: inout [Int64: String]) throws -> String {
        if cache[run.experimentID] == nil {
            for e in try store.experiments() { cache[e.id] = e.name }
        }
        guard let name = cache[run.experimentID] else {
            throw TrackerError.io("run \(run.id) names experiment \(run.experimentID), which the store does not hold")
        }
        return name
    }

    /// Gives the MLflow thread up to `seconds` to send what is queued; returns how many runs it left unsent.
    @discardableResult
    public func finish(waitingAtMost seconds: TimeInterval = 10) -> Int {
        mlflow?.finish(waitingAtMost: seconds) ?? 0
    }
}

/// The MLflow half of live tracking: a queue of runs to sync, worked by one thread that retries with a bounded
/// backoff while the server is unreachable.
final class MLflowWorker: @unchecked Sendable {
    /// Longest wait between two attempts while the server is down.
    static let maxBackoff: TimeInterval = 30

    private let client: MLflowClient
    private let store: RunStore
    private let warn: @Sendable (String) -> Void
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Int64] = []
    /// The last epoch each run may send (absent: every stored epoch).
    private var through: [Int64: Int] = [:]
    /// The run being synced, out of `pending` but not yet sent.
    private var inFlight: Int64?
    private var deadline: Date?
    private var done = false

    init(client: MLflowClient, store: RunStore, warn: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.store = store
        self.warn = warn
        let thread = Thread { [self] in work() }
        thread.name = "ablate-mlflow"
        thread.start()
    }

    func enqueue(_ runID: Int64, through epoch: Int?) {
        condition.withLock {
            if !pending.contains(runID) { pending.append(runID) }
            through[runID] = epoch
            condition.signal()
        }
    }

    func finish(waitingAtMost seconds: TimeInterval) -> Int {
        let until = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        deadline = until
        condition.broadcast()
        while !done && condition.wait(until: until) {}
        return pending.count + (inFlight.map { pending.contains($0) ? 0 : 1 } ?? 0)
    }

    private func work() {
        let sync = MLflowSync(client: client)
        var experimentNames: [Int64: String] = [:]
        var failures = 0
        var warned = false
        while true {
            condition.lock()
            while pending.isEmpty && deadline == nil { condition.wait() }
            if pending.isEmpty || deadline.map({ Date() >= $0 }) == true {
                done = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let runID = pending.removeFirst()
            let last = through[runID] ?? .max
            inFlight = runID
            condition.unlock()
            defer { condition.withLock { inFlight = nil } }
            do {
                let run = try store.run(id: runID)
                let experiment = try LiveTracking.experimentName(run, in: store, cache: &experimentNames)
                try sync.sync(run, experiment: experiment,
                              epochs: try store.epochs(runID: runID).filter { $0.metrics.epoch <= last },
                              storePath: store.path)
                failures = 0
            } catch {
                failures += 1
                if !warned {
                    warned = true
                    warn("warning: MLflow at \(client.base.absoluteString): \(error); training goes on and ablate "
                         + "keeps retrying; `ablate export --format mlflow` sends whatever does not arrive")
                }
                condition.lock()
                if !pending.contains(runID) { pending.insert(runID, at: 0) }
                // Bounded exponential backoff, cut short by the deadline of `finish`.
                var until = Date().addingTimeInterval(min(Self.maxBackoff, 0.5 * pow(2, Double(min(failures, 8)))))
                if let deadline { until = min(until, deadline) }
                while Date() < until && condition.wait(until: until) {
                    if let deadline, deadline < until { until = deadline }
                }
                condition.unlock()
            }
        }
    }
}
