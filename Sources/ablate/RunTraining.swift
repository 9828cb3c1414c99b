// `ablate run` without --dry-run: signals, progress display and the final summary around the Runner.
import ArgumentParser
import ExperimentFile
import Foundation
import Runner
import Store
import Trackers
import Training

/// The signal that asked the run to stop (SIGINT, SIGTERM, SIGUSR1 from Slurm ahead of a time limit, or SIGPIPE
/// when the reader of the output went away, as in `ablate run … | head`); the runner polls it at batch boundaries,
/// so the run is checkpointed and marked interrupted instead of being killed mid-write.
nonisolated(unsafe) private var stopSignal: Int32 = 0

/// Trains `runs` with the progress display, prints the summary and returns it with the signal that stopped it
/// (0 when nothing did). `resumeCommand` is what the user types to go on after an interruption. `trackers` hears
/// of every change of a run (started, epoch, end) and gets a few seconds at the end to send what it queued.
func trainWithProgress(_ experiment: Experiment, _ runs: [ResolvedRun], options: ExecutorOptions,
                       resumeCommand: String, trackers: TrackerOptions.Live = .init()) throws -> (summary: ExecutionSummary, stoppedBy: Int32) {
    signal(SIGINT) { stopSignal = $0 }
    signal(SIGTERM) { stopSignal = $0 }
    signal(SIGUSR1) { stopSignal = $0 }
    signal(SIGPIPE) { stopSignal = $0 }
    let executor = try RunExecutor(experiment: experiment, runs: runs, options: options)
    let progress = ProgressDisplay(interactive: isatty(STDOUT_FILENO) != 0)
    let trackers = try trackers.start(executor.store, interactive: progress.interactive)
    let summary: ExecutionSummary
    do {
        defer { finishTracking(trackers, progress: progress, options: options) }
        summary = try executor.execute(shouldStop: { stopSignal != 0 }, events: { event in
            progress.handle(event)
            if let trackers, let (runID, through) = event.trackedEpochs { trackers.runChanged(runID, throughEpoch: through) }
        })
    }

    let say = progress.say
    say("")
    say("summary of \(experiment.name) (\(options.databasePath)):")
    for f in summary.finished {
        let accuracy = f.testAccuracy.map { String(format: "%.4f", $0) } ?? "—"
        let target = f.reachedTarget.map { $0 ? "target reached" : "target not reached" } ?? ""
        say("  finished     \(f.label)  test acc \(accuracy)  \(target)")
    }
    for f in summary.failed { say("  failed       \(f.label): \(f.message)") }
    if let i = summary.interrupted {
        say("  interrupted  \(i.label) after \(i.epochsDone) epoch(s); its checkpoint is kept")
        say("resume with: \(resumeCommand)")
    }
    if summary.finished.isEmpty && summary.failed.isEmpty && summary.interrupted == nil {
        if summary.unfinished.isEmpty {
            say("  nothing to do: every selected run is finished (see `ablate status --db \(options.databasePath)`)")
        } else {
            say("  nothing for this process to do, but \(summary.unfinished.count) selected run(s) are not finished:")
            for s in summary.unfinished { say("    " + describeUnfinished(s, staleAfter: options.staleAfter)) }
            say("  (see `ablate status --db \(options.databasePath)`)")
        }
    }
    return (summary, summary.interrupted == nil ? 0 : stopSignal)
}

/// Lets the MLflow thread send what it queued, and says so when some of it is left for `export`.
private func finishTracking(_ trackers: LiveTracking?, progress: ProgressDisplay, options: ExecutorOptions) {
    guard let trackers else { return }
    let left = trackers.finish()
    if left > 0 {
        progress.say("MLflow: \(left) run(s) not fully sent; `ablate export --format mlflow --db \(options.databasePath)"
                     + " --mlflow URI` sends the rest")
    }
}

extension RunEvent {
    /// The run whose stored state this event follows (the store is written before the event is sent) and the last
    /// of its epochs the trackers may show: a checkpointed one (nil: every stored epoch, the run has ended).
    /// An epoch reported but not yet checkpointed is redone after a crash, with other timings, and trackers keep
    /// what they were sent.
    var trackedEpochs: (runID: Int64, through: Int?)? {
        switch self {
        case let .started(run, _, resumed, _): return (run.id, resumed)
        case let .epochSaved(id, epoch): return (id, epoch)
        case .finished(let id, _, _, _), .failed(let id, _, _), .interrupted(let id, _, _): return (id, nil)
        case .enqueued, .dataPrepared, .checkpointSetAside, .weightsLoaded, .batch, .epoch: return nil
        }
    }
}

/// One line on a run this process did not finish: who holds it, or why it is left alone.
func describeUnfinished(_ s: RunSummary, staleAfter: Double) -> String {
    let r = s.run
    let progress = "\(s.epochsDone)/\(r.epochsTotal) epochs"
    switch r.status {
    case .running:
        let age = r.heartbeat.map { "heartbeat \(Int(Date().timeIntervalSince($0)))s ago" } ?? "no heartbeat yet"
        return "run \(r.id) \(r.label): running on \(r.host ?? "another host") (\(age), \(progress)); it is resumed "
            + "here once its process has exited (seen on the same machine) or after \(Int(staleAfter))s without a "
            + "heartbeat (--stale-after)"
    case .failed:
        return "run \(r.id) \(r.label): failed (\(r.errorMessage ?? "no message")); queue it again with --retry-failed"
    case .queued, .interrupted:
        return "run \(r.id) \(r.label): \(r.status.rawValue) (\(progress)), not claimed by this process"
    case .finished:
        return "run \(r.id) \(r.label): finished"
    }
}

extension RunCommand {
    func train(_ experiment: Experiment, _ runs: [ResolvedRun]) throws {
        let options = ExecutorOptions(databasePath: db, runsDirectory: runsDir, staleAfter: staleAfter, threads: threads,
                                      retryFailed: retryFailed, gitCommit: Provenance.gitCommit())
        let resume = "ablate run \(file) --db \(db)" + (runsDir == "runs" ? "" : " --runs-dir \(runsDir)")
            + only.map { " --only \($0)" }.joined() + (shard.map { " --shard \($0)" } ?? "")
        let trackers = try TrackerOptions.live(tensorBoard: tensorboard, mlflow: mlflow, file: experiment.tracking.mlflow)
        let (summary, _) = try trainWithProgress(experiment, runs, options: options, resumeCommand: resume,
                                                 trackers: trackers)
        if summary.interrupted != nil { throw ExitCode(130) }
        if !summary.failed.isEmpty { throw ExitCode(1) }
    }
}

/// A live progress bar per epoch on a terminal; one log line per epoch otherwise, each line stamped with the
/// UTC time (a log file of an overnight run shows when each epoch ended).
final class ProgressDisplay {
    let interactive: Bool
    private let stampFormat: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()
    var clock = TrainingClock()

    init(interactive: Bool) { self.interactive = interactive }

    /// Prints one line: as it is on a terminal, after a timestamp otherwise.
    func say(_ line: String) {
        print(interactive || line.isEmpty ? line : "\(stampFormat.string(from: Date())) \(line)")
    }

    func handle(_ event: RunEvent) {
        switch event {
        case let .enqueued(result, total):
            // "2 of 3 already in the store (1 finished, 1 running)": a running run is another process's, or a
            // killed one's that is resumed when its holder is known to be gone or its heartbeat goes stale.
            let byStatus = Dictionary(grouping: result.skipped, by: \.status).sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "\($0.value.count) \($0.key.rawValue)" }
            say("queued \(result.inserted.count) new run(s), \(result.requeued.count) to resume; \(result.skipped.count) of \(total) already in the store"
                + (byStatus.isEmpty ? "" : " (\(byStatus.joined(separator: ", ")))")
                + (result.skipped.contains { $0.status == .running }
                   ? "; a running run is resumed here once its process has exited (seen on this machine) or its "
                     + "heartbeat is older than --stale-after" : ""))
        case let .dataPrepared(directory, synthesized, audit, skipped):
            if synthesized { say("synthesised data in \(directory)") }
            if !skipped.isEmpty {
                let listed: [String] = skipped.prefix(5).map { "\($0.path) (\($0.reason))" }
                let more = skipped.count > 5 ? "; …" : ""
                say("warning: skipped \(skipped.count) unreadable image(s): \(listed.joined(separator: "; "))\(more)")
            }
            say("data \(directory): \(audit.trainFiles) train / " + (audit.validationFiles.map { "\($0) validation / " } ?? "")
                + "\(audit.testFiles) test; test files byte-identical to a train file: \(audit.testByteIdenticalInTrain), sharing a \(audit.groupKey) group with train: \(audit.testGroupSharedWithTrain)"
                + (audit.nearDuplicates?.testAgainstTrain.map { "; \($0.sentence)" } ?? ""))
        case let .weightsLoaded(id, label, lines):
            say("run \(id) \(label): starting weights")
            for line in lines { say("  " + line) }
        case let .checkpointSetAside(id, label, moved):
            say("run \(id) \(label): not resuming from \(moved.path): \(moved.reason). Moved it (and its best "
                + "weights) to \(moved.movedTo); starting this run from scratch")
        case let .started(run, label, resumed, left):
            clock.runStarted(queueLeft: left)
            say("run \(run.id) \(label): " + (resumed > 0 ? "resuming after epoch \(resumed)" : "starting") + " (\(left) more queued)")
        case let .batch(_, p):
            guard interactive else { return }
            let width = 24
            let filled = Int(Double(width) * Double(p.batch) / Double(max(1, p.batches)))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let left = clock.secondsLeft(epoch: p.epoch, epochs: p.epochs, batch: p.batch, batches: p.batches)
            let line = String(format: "  epoch %d/%d %@ %d/%d  %.1f img/s  loss %.4f  ETA run %@, all %@",
                              p.epoch, p.epochs, bar, p.batch, p.batches, p.imagesPerSecond, p.loss,
                              ETA.format(left.run), ETA.format(left.all))
            FileHandle.standardOutput.write(Data(("\r" + line + "\u{1B}[K").utf8))
        case let .epoch(_, _, r, total):
            let m = r.metrics
            clock.epochFinished(seconds: m.seconds)
            if interactive { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
            let validation = m.validationLoss.map { String(format: "  val loss %.4f acc %.4f", $0, m.validationAccuracy ?? .nan) } ?? ""
            let marks = [r.isBest ? "best on test" : nil, validation.isEmpty || !r.isSelected ? nil : "selected"]
                .compactMap { $0 }.joined(separator: ", ")
            say(String(format: "  epoch %d/%d  train loss %.4f acc %.4f%@  test loss %.4f acc %.4f%@  lr %.2e  %.1fs  %.1f img/s",
                         m.epoch, total, m.trainLoss, m.trainAccuracy, validation, m.testLoss ?? .nan, m.testAccuracy ?? .nan,
                         marks.isEmpty ? "" : " (\(marks))", m.learningRate, m.seconds, m.imagesPerSecond)
                + (r.stopsEarly ? "\n  stopping early: validation has not improved for training.early_stop.patience epochs" : ""))
        case .epochSaved: break
        case let .finished(id, label, best, reached):
            say("run \(id) \(label) finished: test acc " + (best.map { String(format: "%.4f", $0) } ?? "—")
                  + " (the selected epoch's)"
                  + (reached.map { $0 ? ", target reached" : ", target not reached" } ?? ""))
        case let .failed(id, label, message):
            if interactive { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
            say("run \(id) \(label) FAILED: \(message)")
        case let .interrupted(id, label, done):
            if interactive { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
            say("run \(id) \(label) interrupted after \(done) finished epoch(s)")
        }
    }
}
