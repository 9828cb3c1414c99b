// Runs that select their epoch on validation: the selected epoch's predictions and test accuracy are the headline
// of every per-run final number; runs without a validation part report as before.
import AblateCore
import Foundation
@testable import Report
import XCTest

final class EpochSelectionTests: XCTestCase {
    static let selectedEpoch = 6

    /// The sample runs, each selecting epoch 6 on validation loss: validation metrics on every epoch (lowest loss at
    /// 6), predictions of the selected epoch's model that differ from the last epoch's, and epoch 6's test accuracy
    /// equal to theirs.
    static func selecting() -> ReportInput {
        var input = SampleInput.make()
        for i in input.runs.indices {
            var rng = SplitMix64(state: UInt64(7_000 + i))
            let selected = SampleInput.makePredictions(plateau: 0.7, rng: &rng)
            var run = input.runs[i]
            for e in run.epochs.indices {
                run.epochs[e].validationLoss = e + 1 == selectedEpoch ? 0.3 : 0.5 + 0.01 * Double(e)
                run.epochs[e].validationAccuracy = e + 1 == selectedEpoch ? 0.8 : 0.7
            }
            run.epochs[selectedEpoch - 1].testAccuracy = accuracy(selected)
            run.selection = .bestValLoss
            run.selectedEpoch = selectedEpoch
            run.selectedPredictions = selected
            input.runs[i] = run
        }
        return input
    }

    /// The same runs reporting their last epoch, with the selected epoch's predictions, test accuracy and loss in
    /// the last epoch's place: the numbers the selecting input's headline must equal.
    static func lastEpochEquivalent(_ input: ReportInput) -> ReportInput {
        var input = input
        for i in input.runs.indices {
            var run = input.runs[i]
            let selected = run.epochs[selectedEpoch - 1]
            run.epochs[run.epochs.count - 1].testAccuracy = selected.testAccuracy
            run.epochs[run.epochs.count - 1].testLoss = selected.testLoss
            run.predictions = run.selectedPredictions
            run.selection = .last
            run.selectedEpoch = nil
            run.selectedPredictions = []
            input.runs[i] = run
        }
        return input
    }

    static func accuracy(_ predictions: [Prediction]) -> Double {
        Double(predictions.filter { $0.predicted == $0.label }.count) / Double(predictions.count)
    }

    func testHeadlineUsesTheSelectedEpochsPredictionsAndAccuracy() throws {
        let input = Self.selecting(), equivalent = Self.lastEpochEquivalent(input)
        XCTAssertNotEqual(input.runs[0].predictions, input.runs[0].selectedPredictions, "the test needs them to differ")

        // Prediction-based tables: the same as for the runs whose last epoch is the selected one.
        XCTAssertEqual(try ReportTables.classificationMetrics(input), try ReportTables.classificationMetrics(equivalent))
        XCTAssertEqual(try ReportTables.classificationMetricsPerRun(input), try ReportTables.classificationMetricsPerRun(equivalent))
        XCTAssertEqual(try ReportTables.confusionMatrices(input), try ReportTables.confusionMatrices(equivalent))
        XCTAssertEqual(try ReportTables.perGroupAccuracy(input).replacingOccurrences(of: "Selected-epoch", with: "Last-epoch"),
                       try ReportTables.perGroupAccuracy(equivalent))
        let judged = input.targetJudgements(), expected = equivalent.targetJudgements()
        XCTAssertEqual(judged.map(\.values), expected.map(\.values))
        XCTAssertEqual(judged.map(\.estimate), expected.map(\.estimate))
        XCTAssertEqual(input.targetVerdict, equivalent.targetVerdict)

        // Summary: the selected epoch's accuracy, mean ± std over seeds, and the interval of its predictions.
        let summary = try ReportTables.summary(input), lines = summary.components(separatedBy: "\n")
        let header = markdownCells(lines[0])
        let column = try XCTUnwrap(header.firstIndex(of: "Selected-epoch test acc (mean ± std over seeds)"), "\(header)")
        let interval = try XCTUnwrap(header.firstIndex { $0.hasPrefix("95% interval (bootstrap") })
        let base = markdownCells(try XCTUnwrap(lines.first { $0.hasPrefix("| DenseNet-121 ") }))
        let runs = input.runs.filter { $0.configuration == "DenseNet-121" }
        XCTAssertEqual(base[column], SummaryCell.meanStd(runs.map { $0.epochs[Self.selectedEpoch - 1].testAccuracy! }))
        XCTAssertEqual(base[column], SummaryCell.meanStd(runs.map { Self.accuracy($0.selectedPredictions) }))
        let equivalentBase = markdownCells(try XCTUnwrap(try ReportTables.summary(equivalent).components(separatedBy: "\n")
            .first { $0.hasPrefix("| DenseNet-121 ") }))
        XCTAssertEqual(base[interval], equivalentBase[interval])
        XCTAssertEqual(base[column], equivalentBase[column])

        // The comparison's numbers (Δ, both intervals, the t-test, McNemar) are the equivalent input's.
        let comparison = try ReportTables.comparison(input, baseline: "DenseNet-121").components(separatedBy: "\n")
        XCTAssertTrue(comparison[0].contains("Δ selected-epoch test acc"), comparison[0])
        let equivalentComparison = try ReportTables.comparison(equivalent, baseline: "DenseNet-121").components(separatedBy: "\n")
        for name in ["| SE-DenseNet-121 r=16 ", "| SE-DenseNet-121 r=8 "] {
            XCTAssertEqual(markdownCells(try XCTUnwrap(comparison.first { $0.hasPrefix(name) })),
                           markdownCells(try XCTUnwrap(equivalentComparison.first { $0.hasPrefix(name) })))
        }

        // The runs table names the selected epoch and keeps the last epoch's accuracy beside it.
        let table = try ReportTables.runs(input).components(separatedBy: "\n")
        let runHeader = markdownCells(table[0])
        let row = markdownCells(try XCTUnwrap(table.first { $0.hasPrefix("| DenseNet-121 ") }))
        XCTAssertEqual(row[try XCTUnwrap(runHeader.firstIndex(of: "Selected epoch"))], "\(Self.selectedEpoch)")
        XCTAssertEqual(row[try XCTUnwrap(runHeader.firstIndex(of: "Selected-epoch test acc"))],
                       NumberFormat.fixed(runs[0].epochs[Self.selectedEpoch - 1].testAccuracy!))
        XCTAssertEqual(row[try XCTUnwrap(runHeader.firstIndex(of: "Last-epoch test acc"))],
                       NumberFormat.fixed(runs[0].epochs.last!.testAccuracy!))

        // The rule is said, and best-on-test stays the optimistic column.
        let markdown = try reportMarkdown(input, generatedAt: Date(timeIntervalSince1970: 0))
        XCTAssertTrue(markdown.contains("(epoch: selected on validation loss (best_val_loss))"), markdown)
        XCTAssertTrue(try ReportTables.targetStatement(input).contains("The headline epoch: selected on validation loss (best_val_loss)."))
        XCTAssertTrue(header.contains("Best-epoch test acc (picked on test: optimistic)"))
        let csv = try CSV.epochs(input).components(separatedBy: "\r\n")
        XCTAssertEqual(Array(csv[0].split(separator: ",").suffix(3)), ["validation_loss", "validation_accuracy", "selected"])
        XCTAssertEqual(csv.filter { $0.hasSuffix(",1") }.count, input.runs.count, "one selected epoch per run")
    }

    /// Runs without a validation part (selection `last`, no validation metrics, no early stop) give the report of
    /// before: whatever else a run carries (a stale `selected` block) is not read, and no new column, word or CSV field
    /// appears. (The committed reports rebuilding byte for byte is checked from the real binary in RunnerTests.)
    func testWithoutValidationTheReportIsUnchanged() throws {
        let plain = SampleInput.make()
        var explicit = plain
        for i in explicit.runs.indices {
            explicit.runs[i].selection = .last
            explicit.runs[i].selectedEpoch = 3
            explicit.runs[i].selectedPredictions = Self.selecting().runs[i].selectedPredictions
        }
        let date = Date(timeIntervalSince1970: 0)
        let markdown = try reportMarkdown(plain, generatedAt: date)
        XCTAssertEqual(try reportMarkdown(explicit, generatedAt: date), markdown)
        XCTAssertEqual(try CSV.epochs(explicit), try CSV.epochs(plain))
        XCTAssertEqual(try CSV.epochs(plain).components(separatedBy: "\r\n")[0], CSV.epochHeader.joined(separator: ","))
        for word in ["Selected", "selected", "validation", "Fold", "fold", "Out-of-fold", "stopped early"] {
            XCTAssertFalse(markdown.contains(word), "\(word) in a report without validation or folds")
        }
        XCTAssertTrue(markdown.contains("The headline is the last epoch's test accuracy;"))
        XCTAssertTrue(markdown.contains("| Last-epoch test acc (mean ± std over seeds) |"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("selection-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try renderReport(plain, outDir: directory.appendingPathComponent("plain"), generatedAt: date)
        try renderReport(explicit, outDir: directory.appendingPathComponent("explicit"), generatedAt: date)
        for file in [ReportFileName.trainingCurves, ReportFileName.finalAccuracy] {
            XCTAssertEqual(try Data(contentsOf: directory.appendingPathComponent("plain/\(file)")),
                           try Data(contentsOf: directory.appendingPathComponent("explicit/\(file)")), file)
        }
    }

    /// A run that stopped early is finished: averaged, not listed as unfinished, and the curves average each epoch
    /// over the runs that have it.
    func testEarlyStoppedRunsAreCompleteAndCurvesAverageTheRunsThatHaveTheEpoch() throws {
        var input = Self.selecting()
        let index = try XCTUnwrap(input.runs.firstIndex { $0.configuration == "DenseNet-121" && $0.seed == 2 })
        input.runs[index].epochs.removeLast(3)
        input.runs[index].stoppedEarlyAt = 7
        let summary = try ReportTables.summary(input)
        XCTAssertFalse(summary.contains("Not finished"), summary)
        let row = markdownCells(try XCTUnwrap(summary.components(separatedBy: "\n").first { $0.hasPrefix("| DenseNet-121 ") }))
        XCTAssertEqual(row[3], "3/3", "the early-stopped run counts as finished")
        let runs = try ReportTables.runs(input)
        XCTAssertTrue(runs.contains("| finished (stopped early at 7) |"), runs)

        let base = try XCTUnwrap(ConfigurationCurves.from(input).first { $0.name == "DenseNet-121" })
        let all = input.runs.filter { $0.configuration == "DenseNet-121" }
        let long = all.filter { $0.seed != 2 }
        XCTAssertEqual(base.testAccuracy.epochs, Array(1...10))
        XCTAssertEqual(base.testAccuracy.mean[6], try Statistics.mean(all.map { $0.epochs[6].testAccuracy! }), accuracy: 1e-15)
        XCTAssertEqual(base.testAccuracy.mean[7], try Statistics.mean(long.map { $0.epochs[7].testAccuracy! }), accuracy: 1e-15,
                       "past the stop, the mean is over the two runs that trained on")
        XCTAssertEqual(base.validationLoss.mean[7], try Statistics.mean(long.map { $0.epochs[7].validationLoss! }), accuracy: 1e-15)
        XCTAssertEqual(base.selectedEpochs, [Self.selectedEpoch])
        XCTAssertTrue(Figures.curvesNote(input).contains("each epoch averages the runs that have it"))
        let legend = Figures.curveLegend(ConfigurationCurves.from(input), target: 0.85, chance: true, validation: true,
                                         selected: true).items.map(\.label)
        XCTAssertTrue(legend.contains("validation (dash-dot)") && legend.contains("epoch selected on validation"), "\(legend)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stopped-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rendered = try renderReport(input, outDir: directory, generatedAt: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(rendered.figures.count, 2)
    }

    func testASelectedEpochOutsideTheRunIsRefused() {
        var input = Self.selecting()
        input.runs[0].selectedEpoch = 11
        XCTAssertThrowsError(try input.validate())
    }
}
