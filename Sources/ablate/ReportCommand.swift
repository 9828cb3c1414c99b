import ArgumentParser
import Foundation
import Report
import Runner
import Store

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a markdown report (tables, statistics, PNG training curves, CSV) for an experiment in the run store.",
        discussion: """
            Each SE configuration is compared with its own backbone without SE when the experiment has it \
            (densenet121-se16 with densenet121, resnet50-se16 with resnet50); with one backbone, or with \
            --baseline, every configuration is compared with that one.

            --check-target answers whether the experiment's target test accuracy is reached, judged per \
            configuration on its last-epoch test accuracy (mean over finished seeds) and the 95% interval of \
            that accuracy from a cluster bootstrap over the test set's groups (photos, patients, or images): \
            exit 0 when some configuration's whole interval is at or above the target (reached), 3 when none \
            is but some interval contains the target (undetermined), 2 when every interval is below it \
            (not reached).
            """)

    @Option(help: "Run store file.") var db: String = RunStore.defaultPath
    @Option(help: "Experiment name (default: the only one in the store).") var experiment: String?
    @Option(help: "Output folder (default: reports/<experiment>).") var out: String?
    @Option(help: "Configuration to compare the others against.") var baseline: String?
    @Option(help: "Positive class for sensitivity/specificity/F1/ROC-AUC (default: Monkeypox if present).") var positive: String?
    @Flag(help: "Exit 0 when the target is reached, 3 when undetermined, 2 when not reached (see above).")
    var checkTarget = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else {
            throw CommandFailure("no run store at \(db): run `ablate run FILE --db \(db)` first, or pass --db PATH")
        }
        let store = try RunStore.forReading(db)
        let source = try StoreReport(store: store, databasePath: db, experiment: experiment, baseline: baseline, positiveClass: positive)
        let dir = URL(fileURLWithPath: out ?? "reports/\(source.experimentName)")
        let written = try renderReport(source.input, outDir: dir)
        print("wrote \(written.readme.path)")
        for f in written.figures { print("wrote \(f.url.path) (\(f.pixelWidth)×\(f.pixelHeight))") }
        print("wrote \(written.csv.path)")
        if checkTarget {
            let verdict = source.input.targetVerdict
            print("target \(source.input.targetAccuracy): \(verdict.rawValue)")
            switch verdict {
            case .reached: break
            case .undetermined: throw ExitCode(3)
            case .notReached: throw ExitCode(2)
            }
        }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Class probabilities for images from a run's selected weights (training.select: chosen on validation, else the last epoch's).")

    @Option(help: "Run store file.") var db: String = RunStore.defaultPath
    @Option(name: .customLong("run"), parsing: .unconditional, help: "Run id (see `ablate status`).") var runID: Int64
    @Argument(help: "Image files (JPEG or PNG).") var images: [String]
    @Option(help: "Refuse images with more pixels than this (after JPEG DCT scaling; default: the run's data.max_pixels, else 50 MP).")
    var maxPixels: Int?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try OptionChecks.runID(runID)
        if let maxPixels, maxPixels < 1 { throw ValidationError("--max-pixels must be at least 1, got \(maxPixels)") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else { throw CommandFailure("no run store at \(db)") }
        let results = try Predictor.predict(store: try RunStore.forReading(db), runID: runID, images: images,
                                            maxPixels: maxPixels)
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try enc.encode(results), as: UTF8.self))
            return
        }
        for r in results {
            let probs = r.probabilities.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }
            print("\(r.file): \(r.predicted)  (\(probs.joined(separator: ", ")))")
        }
    }
}
