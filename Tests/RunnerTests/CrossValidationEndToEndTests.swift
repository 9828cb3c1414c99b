import AblateCore
import Foundation
import Store
import XCTest

/// Grouped k-fold with a validation part, epoch selection and early stopping, through the real binary: `ablate run`
/// then `ablate report`; the report's k-fold numbers are recomputed from the store. And the committed reports of runs
/// without validation or folds still rebuild byte for byte.
extension EndToEndTests {
    func testKFoldReportWithSelectedEpochsMatchesTheStore() throws {
        // Synthetic names are `class0-00017.png`; the regex makes groups of ten consecutive images of a class
        // (`class0-0001`), so 2 classes × 30 images are 6 groups, dealt to 3 folds.
        let text = """
            name: cv
            data:
              path: data
              synthesize: {classes: 2, per_class: 30, size: 32}
              size: 32
              split: {protocol: kfold, folds: 3, group: {regex: '^(class\\d+-\\d{4})'}, validation_fraction: 0.2}
            training:
              epochs: 5
              batch_size: 8
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              select: best_val_loss
              early_stop: {metric: val_loss, patience: 1}
              threads: 1
            model: {name: custom, growth_rate: 4, block_config: [2, 2], init_channels: 8}
            target: test_acc >= 0.6
            matrix:
              data.split.fold: all
              seed: [1, 2]
              model:
                - {name: custom, growth_rate: 4, block_config: [2, 2], init_channels: 8}
                - {name: custom-se2, growth_rate: 4, block_config: [2, 2], init_channels: 8}
            """
        try text.write(to: dir.appendingPathComponent("cv.yaml"), atomically: true, encoding: .utf8)
        let r = try run(["run", "cv.yaml", "--db", "cv.sqlite", "--runs-dir", "runs"])
        XCTAssertEqual(r.status, 0, r.output)
        let report = try run(["report", "--db", "cv.sqlite", "--out", "report", "--check-target"])
        XCTAssertTrue([0, 2, 3].contains(report.status), report.output)
        for file in ["README.md", "training_curves.png", "final_accuracy.png", "epochs.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("report/\(file)").path), file)
        }
        let readme = try String(contentsOf: dir.appendingPathComponent("report/README.md"), encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")

        // Recompute from the store: per configuration and seed, the folds' `selected` predictions pooled.
        let store = try RunStore(path: dir.appendingPathComponent("cv.sqlite").path, create: false)
        let summaries = try store.listRuns()
        XCTAssertEqual(summaries.count, 12)
        var pooled: [String: [String: [Prediction]]] = [:]   // model → seed → predictions
        var foldAccuracy: [String: [Int: [Double]]] = [:]    // model → fold → selected-epoch test accuracy per seed
        var stoppedEarly = 0
        for s in summaries {
            XCTAssertEqual(s.run.status, .finished)
            let config = try RunConfig.decode(json: s.run.configJSON)
            let model = config.model.name, fold = try XCTUnwrap(config.data.split.fold)
            let epochs = try store.epochs(runID: s.run.id).map(\.metrics)
            let selected = try store.predictions(runID: s.run.id, kind: .selected)
            let epoch = try XCTUnwrap(selected.first?.epoch)
            XCTAssertTrue(selected.allSatisfy { $0.epoch == epoch })
            // The selected epoch is the first with the lowest validation loss.
            let losses = epochs.map { $0.validationLoss! }
            XCTAssertEqual(epoch, losses.firstIndex(of: losses.min()!)! + 1)
            if let stop = s.run.stoppedEarlyAt {
                XCTAssertEqual(stop, epochs.count)
                stoppedEarly += 1
            }
            pooled[model, default: [:]]["\(config.seed)", default: []] += selected.map(\.prediction)
            foldAccuracy[model, default: [:]][fold, default: []].append(epochs[epoch - 1].testAccuracy!)
        }
        XCTAssertGreaterThan(stoppedEarly, 0, "patience 1 over 5 epochs stops some runs early")
        XCTAssertEqual(Set(pooled.keys), ["custom", "custom-se2"])
        for (_, seeds) in pooled {
            for (_, predictions) in seeds {
                XCTAssertEqual(predictions.count, 60, "each seed's folds test every image")
                XCTAssertEqual(Set(predictions.map(\.file)).count, 60, "exactly once")
            }
        }
        func fixed(_ x: Double) -> String { String(format: "%.3f", x) }
        func meanStd(_ values: [Double]) -> String {
            let mean = values.reduce(0, +) / Double(values.count)
            let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
            return "\(fixed(mean)) ± \(fixed(std))"
        }
        let cvHeader = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("| Fold ") }, readme)
        let columns = markdownCells(lines[cvHeader])
        let pooledRow = markdownCells(try XCTUnwrap(lines.first { $0.hasPrefix("| out of fold (pooled) ") }))
        let foldsRow = markdownCells(try XCTUnwrap(lines.first { $0.hasPrefix("| mean ± std over folds ") }))
        XCTAssertEqual(pooledRow[1], "6 custom groups")
        for (model, seeds) in pooled {
            let column = try XCTUnwrap(columns.firstIndex { $0.contains("name: \(model),") }, "\(columns)")
            let perSeed = seeds.values.map { p in Double(p.filter { $0.predicted == $0.label }.count) / Double(p.count) }
            let outOfFold = perSeed.reduce(0, +) / Double(perSeed.count)
            XCTAssertTrue(pooledRow[column].hasPrefix(fixed(outOfFold) + " ["), "\(model): \(pooledRow[column]) vs \(outOfFold)")
            let foldMeans = foldAccuracy[model]!.keys.sorted().map { f in foldAccuracy[model]![f]!.reduce(0, +) / 2 }
            XCTAssertEqual(foldsRow[column], meanStd(foldMeans), model)
            for fold in 0..<3 {
                let row = markdownCells(lines[cvHeader + 2 + fold])
                XCTAssertEqual(row[0], "\(fold)")
                XCTAssertEqual(row[column], meanStd(foldAccuracy[model]![fold]!), "\(model) fold \(fold)")
            }
            // The summary's out-of-fold column: mean ± std over the seeds of the pooled accuracy.
            let summary = markdownCells(try XCTUnwrap(lines.first { $0.contains("name: \(model),") && markdownCells($0).contains("6/6") }))
            XCTAssertTrue(summary.contains(meanStd(perSeed)), "\(summary) vs \(meanStd(perSeed))")
        }
        XCTAssertTrue(readme.contains("epoch: selected on validation loss (best_val_loss)"), readme)
        XCTAssertEqual(lines.filter { $0.contains("| finished (stopped early at ") }.count, stoppedEarly)
        XCTAssertTrue(report.output.contains("target 0.6: "), report.output)
        let csv = try String(contentsOf: dir.appendingPathComponent("report/epochs.csv"), encoding: .utf8)
        XCTAssertTrue(csv.hasPrefix("configuration,seed,fold,status,"), csv)
    }

    /// The committed pilot report (no validation, no folds) rebuilds from its export byte for byte: README (but its
    /// "Generated at" line), epochs.csv and both figures.
    func testCommittedReportWithoutValidationRebuildsByteForByte() throws {
        let committed = packageRoot.appendingPathComponent("reports/monkeypox-pilot")
        let merged = try run(["merge", committed.appendingPathComponent("runs.json").path, "--into", "pilot.sqlite"])
        XCTAssertEqual(merged.status, 0, merged.output)
        let report = try run(["report", "--db", "pilot.sqlite", "--experiment", "monkeypox-pilot", "--out", "pilot"])
        XCTAssertEqual(report.status, 0, report.output)
        func text(_ url: URL) throws -> String {
            try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n").filter { !$0.hasPrefix("Generated at") }
                .joined(separator: "\n")
        }
        let rebuilt = dir.appendingPathComponent("pilot")
        XCTAssertEqual(try text(rebuilt.appendingPathComponent("README.md")), try text(committed.appendingPathComponent("README.md")))
        for file in ["epochs.csv", "training_curves.png", "final_accuracy.png"] {
            XCTAssertEqual(try Data(contentsOf: rebuilt.appendingPathComponent(file)),
                           try Data(contentsOf: committed.appendingPathComponent(file)), file)
        }
    }
}

/// The cells of one markdown table row, trimmed.
private func markdownCells(_ line: String) -> [String] {
    line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
        .map { $0.trimmingCharacters(in: .whitespaces) }
}
