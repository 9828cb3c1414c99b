import AblateCore
import ArgumentParser
import Foundation
import Runner
import Store

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score finished runs on a labelled image folder outside their split (an external test set).",
        discussion: """
            DIR has one sub-folder per class, named like the run's classes (e.g. Monkeypox/ and Others/). Each run \
            is scored with its last-epoch and best-epoch weights (--weights), with the preprocessing of its test \
            split; per-image predictions, accuracy, sensitivity, specificity and ROC-AUC are stored with the run \
            under the folder's name (--name), and `ablate report` adds an "External test" section. The folder is \
            audited against each run's training files (byte-identical files, same photograph or patient by file \
            name), so a test set that is not external shows it. Weights live in the runs folder of the machine that \
            trained the run.
            """)

    enum Weights: String, ExpressibleByArgument, CaseIterable { case selected, last, best, both }

    @Argument(help: "Labelled folder: one sub-folder of images per class.") var directory: String
    @Option(help: "Run store file.") var db: String = RunStore.defaultPath
    @Option(name: .customLong("run"), parsing: .unconditionalSingleValue, help: "Run id to score (repeatable; see `ablate status`).")
    var runIDs: [Int64] = []
    @Option(help: "Score every finished run of this experiment.") var experiment: String?
    @Option(help: "Name the results are stored and reported under (default: the folder's name).") var name: String?
    @Option(help: "selected (the epoch training.select chose: validation, else the last), last, best (on test: optimistic), or both (default: last and best, and selected when it differs).") var weights: Weights = .both
    @Option(help: "The folder the runs trained on, when not where their configuration says.") var data: String?
    @Option(help: "Positive class for sensitivity/specificity/ROC-AUC (default: Monkeypox if present).") var positive: String?
    @Option(parsing: .unconditional, help: "Threads (default: the run's setting, else every core).") var threads: Int?

    func validate() throws {
        guard runIDs.isEmpty != (experiment == nil) else {
            throw ValidationError("give either --run ID (one or more) or --experiment NAME")
        }
        try runIDs.forEach(OptionChecks.runID)
        try OptionChecks.threads(threads, otherwise: "the run's training.threads, else every core")
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--name must not be empty")
        }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CommandFailure("no run store at \(db): pass --db PATH (the store that holds the runs)")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            throw CommandFailure("\(directory) is not a folder: give a folder with one sub-folder of images per class")
        }
        let store = try RunStore(path: db, create: false)
        var ids = runIDs.reduce(into: [Int64]()) { kept, id in if !kept.contains(id) { kept.append(id) } }  // `--run 1 --run 1` once
        if let experiment {
            let runs = try store.listRuns(experiment: experiment)
            guard !runs.isEmpty else {
                let known = try store.experiments().map(\.name)
                throw CommandFailure("no runs of experiment '\(experiment)' in \(db)"
                    + (known.isEmpty ? "" : "; it has: \(known.joined(separator: ", "))"))
            }
            for s in runs where s.run.status != .finished {
                print("skipping run \(s.run.id) (\(s.run.label)): \(s.run.status.rawValue)")
            }
            ids = runs.filter { $0.run.status == .finished }.map(\.run.id)
            guard !ids.isEmpty else { throw CommandFailure("experiment '\(experiment)' has no finished run yet") }
        }
        let kinds: [PredictionKind]
        switch weights {
        case .both: kinds = [.last, .best, .selected]
        case .selected: kinds = [.selected]
        case .last: kinds = [.last]
        case .best: kinds = [.best]
        }
        let request = ExternalEvaluationRequest(directory: directory, name: name, weights: kinds, dataOverride: data,
                                                positiveClass: positive, threads: threads)
        var audited = Set<Int64>()
        let results = try ExternalEvaluation.evaluate(store: store, runIDs: ids, request: request) { print($0) }
        for r in results {
            let t = r.test
            func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "undefined" }
            print("run \(r.runID) \(r.label) [\(t.weights.rawValue), epoch \(t.epoch)]: accuracy \(f(t.accuracy)) on "
                  + "\(t.images) images; \(t.positiveClass ?? "positive") sensitivity \(f(t.sensitivity)), "
                  + "specificity \(f(t.specificity)), ROC-AUC \(f(t.rocAUC))")
            if audited.insert(r.runID).inserted {
                let a = r.audit
                print("  audit against its \(a.trainFiles) training files: \(a.testByteIdenticalInTrain) byte-identical, "
                      + "\(a.testPhotoSharedWithTrain) from a training photograph, \(a.testPatientSharedWithTrain) from a "
                      + "training patient"
                      + (a.nearDuplicates.map { ", \($0.flagged) with a near-duplicate by appearance" } ?? "")
                      + (a.leaks ? " — NOT an external test for this run" : ""))
                if !r.skipped.isEmpty {
                    print("  left out \(r.skipped.count) unreadable file(s): "
                          + r.skipped.prefix(3).map { "\($0.path) (\($0.reason))" }.joined(separator: "; "))
                }
            }
        }
        print("stored as '\(request.testSetName)' in \(db); `ablate report` shows it")
    }
}
