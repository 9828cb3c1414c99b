// Time left: for `ablate status` (from the epochs a store holds) and for the live progress line of `ablate run`.
import AblateCore
import Foundation
import Store

public enum ETA {
    /// What the estimate needs of one run.
    public struct Run: Equatable, Sendable {
        public var id: Int64
        public var experiment: String
        public var status: RunStatus
        public var epochsTotal: Int
        public var epochsDone: Int
        /// Wall seconds of each finished epoch.
        public var epochSeconds: [Double]

        public init(id: Int64, experiment: String, status: RunStatus, epochsTotal: Int, epochsDone: Int,
                    epochSeconds: [Double]) {
            self.id = id; self.experiment = experiment; self.status = status; self.epochsTotal = epochsTotal
            self.epochsDone = epochsDone; self.epochSeconds = epochSeconds
        }
    }

    /// Seconds left for each unfinished run (queued, running, interrupted): remaining epochs × the run's mean
    /// seconds per epoch, or, before its first epoch, the mean of its experiment's runs' means. Runs with nothing
    /// to go by have no estimate.
    public static func secondsLeft(_ runs: [Run]) -> [Int64: Double] {
        var perRun: [Int64: Double] = [:], perExperiment: [String: [Double]] = [:]
        for r in runs where !r.epochSeconds.isEmpty {
            let mean = r.epochSeconds.reduce(0, +) / Double(r.epochSeconds.count)
            perRun[r.id] = mean
            perExperiment[r.experiment, default: []].append(mean)
        }
        var eta: [Int64: Double] = [:]
        for r in runs where [.queued, .running, .interrupted].contains(r.status) {
            let fallback = perExperiment[r.experiment].map { $0.reduce(0, +) / Double($0.count) }
            if let perEpoch = perRun[r.id] ?? fallback {
                eta[r.id] = perEpoch * Double(max(0, r.epochsTotal - r.epochsDone))
            }
        }
        return eta
    }

    /// `secondsLeft` for the runs of a store.
    public static func secondsLeft(_ summaries: [RunSummary], in store: RunStore) throws -> [Int64: Double] {
        try secondsLeft(summaries.map { s in
            Run(id: s.run.id, experiment: s.experimentName, status: s.run.status, epochsTotal: s.run.epochsTotal,
                epochsDone: s.epochsDone, epochSeconds: try store.epochs(runID: s.run.id).map(\.metrics.seconds))
        })
    }

    /// `4m05s` below an hour, `2h07m` from an hour on (rounded to the second).
    public static func format(_ seconds: Double) -> String {
        let t = Int(seconds.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}

/// The live estimate while runs train: the run in progress and the runs queued after it (each taken to last as
/// long as this one).
public struct TrainingClock: Sendable {
    var runStart = Date()
    var epochSeconds: [Double] = []
    var runsLeft = 0

    public init() {}

    /// A run starts (or resumes) with `queueLeft` more runs queued after it.
    public mutating func runStarted(queueLeft: Int, at now: Date = Date()) {
        runStart = now; epochSeconds = []; runsLeft = queueLeft
    }

    public mutating func epochFinished(seconds: Double) { epochSeconds.append(seconds) }

    /// Seconds left in the run and in the whole queue, at batch `batch` of `batches` in epoch `epoch` of `epochs`
    /// (1-based): an epoch lasts as long as the last one did, or, during the first, as long as its pace so far says.
    public func secondsLeft(epoch: Int, epochs: Int, batch: Int, batches: Int, at now: Date = Date())
        -> (run: Double, all: Double) {
        let done = Double(batch) / Double(max(1, batches))
        let elapsed = now.timeIntervalSince(runStart) - epochSeconds.reduce(0, +)
        let perEpoch = epochSeconds.last ?? (done > 0 ? elapsed / done : 0)
        let run = max(0, perEpoch * Double(epochs - epoch) + (perEpoch - elapsed))
        return (run, run + perEpoch * Double(epochs) * Double(runsLeft))
    }
}
