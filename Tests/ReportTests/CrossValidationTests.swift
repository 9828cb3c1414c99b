// Grouped k-fold runs: per configuration and seed the folds' predictions pool out of fold; the verdict, intervals
// and classification tables read the pooled predictions; the comparison pairs (fold, seed); missing folds make a
// configuration partial.
import AblateCore
import Foundation
@testable import Report
import XCTest

final class CrossValidationTests: XCTestCase {
    /// 12 patients P01…P12 of 3 images each; odd patients are class 1. Fold f tests the patients p with p % 3 == f
    /// (4 patients, 12 images). Wrong answers, by hand:
    /// - base, seed 1: every image of P03 and P07 (30/36 right); seed 2: every image of P03 (33/36).
    /// - se, seed 1: every image of P07 (33/36); seed 2: every image of P07 and one image of P10 (32/36).
    static let patients = Array(1...12)
    static func wrong(_ configuration: String, seed: Int, patient: Int, image: Int) -> Bool {
        switch (configuration, seed) {
        case ("base", 1): return patient == 3 || patient == 7
        case ("base", 2): return patient == 3
        case ("se", 1): return patient == 7
        default: return patient == 7 || (patient == 10 && image == 0)
        }
    }

    static func file(_ patient: Int, _ image: Int) -> String {
        "data/class\(patient % 2)/P\(String(format: "%02d", patient))_0\(image + 1).jpg"
    }

    static func run(_ configuration: String, fold: Int, seed: Int) -> ReportRun {
        var predictions: [Prediction] = [], groupOfFile: [String: String] = [:]
        for patient in patients where patient % 3 == fold {
            for image in 0..<3 {
                let label = patient % 2
                let right = !wrong(configuration, seed: seed, patient: patient, image: image)
                let p = right ? 0.8 : 0.3
                let file = file(patient, image)
                predictions.append(Prediction(file: file, label: label, probabilities: label == 1 ? [1 - p, p] : [p, 1 - p]))
                groupOfFile[file] = "P\(String(format: "%02d", patient))"
            }
        }
        let accuracy = Double(predictions.filter { $0.predicted == $0.label }.count) / Double(predictions.count)
        // Epoch 2 is selected on validation; epoch 3 (the last) is worse on test: the headline must not read it.
        let epochs = (1...3).map { e in
            EpochMetrics(epoch: e, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.5, testAccuracy: e == 2 ? accuracy : 0.5,
                         learningRate: 0.001, seconds: 10, imagesPerSecond: 20,
                         validationLoss: e == 2 ? 0.4 : 0.6, validationAccuracy: 0.75)
        }
        var run = ReportRun(configuration: configuration, seed: seed, parameters: 1, multiplyAdds: 1, status: .finished,
                            epochs: epochs, predictions: predictions.map { Prediction(file: $0.file, label: $0.label,
                                                                                     probabilities: $0.probabilities.reversed()) },
                            testGrouping: TestGrouping(unit: "patient", groupOfFile: groupOfFile))
        run.selection = .bestValLoss
        run.selectedEpoch = 2
        run.selectedPredictions = predictions
        run.fold = CrossValidationFold(fold: fold, folds: 3)
        return run
    }

    /// 2 configurations × 3 folds × 2 seeds.
    static func input() -> ReportInput {
        var runs: [ReportRun] = []
        for configuration in ["base", "se"] {
            for fold in 0..<3 { for seed in [1, 2] { runs.append(run(configuration, fold: fold, seed: seed)) } }
        }
        return ReportInput(title: "k-fold", runs: runs, configurationOrder: ["base", "se"], baseline: "base",
                           plannedSeedsPerConfiguration: 2, targetAccuracy: 0.8, classNames: ["a", "b"], positiveClass: 1)
    }

    func testOutOfFoldAccuracyPoolsEachSeedsFolds() throws {
        let input = Self.input()
        let cv = try XCTUnwrap(input.crossValidation)
        XCTAssertEqual(cv.seeds, [1, 2])
        XCTAssertTrue(cv.configurations.allSatisfy(\.isComplete))
        // One pooled run per configuration and seed, every image exactly once.
        XCTAssertEqual(cv.outOfFold.runs.count, 4)
        for run in cv.outOfFold.runs {
            XCTAssertEqual(run.predictions.count, 36)
            XCTAssertEqual(Set(run.predictions.map(\.file)).count, 36)
            XCTAssertEqual(Set(run.testGrouping!.groupOfFile.values).count, 12)
        }
        // By hand: base (30/36 + 33/36) / 2 = 0.875; se (33/36 + 32/36) / 2 = 65/72.
        let judged = input.targetJudgements()
        XCTAssertEqual(try XCTUnwrap(judged[0].estimate).value, 0.875, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(judged[1].estimate).value, 65.0 / 72, accuracy: 1e-12)
        XCTAssertEqual(judged[0].values, [30.0 / 36, 33.0 / 36])
        XCTAssertNil(judged[0].partial)
        // The interval is over the 12 patients (seeds pooled per patient): it brackets the estimate.
        let interval = try XCTUnwrap(judged[0].estimate?.interval)
        XCTAssertTrue(interval.contains(0.875) && interval.lowerBound < 0.875, "\(interval)")
        XCTAssertEqual(input.targetVerdict, TargetVerdict.overall(judged.map(\.verdict)))

        let summary = try ReportTables.summary(input).components(separatedBy: "\n")
        let header = markdownCells(summary[0])
        XCTAssertTrue(header.contains("95% interval (bootstrap over 12 patients)"), "\(header)")
        let base = markdownCells(try XCTUnwrap(summary.first { $0.hasPrefix("| base ") }))
        XCTAssertEqual(base[try XCTUnwrap(header.firstIndex(of: "Runs finished (folds × seeds)"))], "6/6")
        XCTAssertEqual(base[try XCTUnwrap(header.firstIndex(of: "Out-of-fold selected-epoch test acc (mean ± std over seeds)"))],
                       SummaryCell.meanStd([30.0 / 36, 33.0 / 36]))
        // Folds, by hand (mean over seeds): base 0.75, 0.875, 1.0 → 0.875 ± 0.125.
        XCTAssertEqual(base[try XCTUnwrap(header.firstIndex(of: "Selected-epoch test acc per fold (mean ± std over folds)"))],
                       "0.875 ± 0.125")

        let section = try ReportTables.crossValidation(input)
        let rows = section.components(separatedBy: "\n")
        XCTAssertEqual(markdownCells(try XCTUnwrap(rows.first { $0.hasPrefix("| 1 ") })), ["1", "12", "0.875 ± 0.177", "0.708 ± 0.059"])
        XCTAssertEqual(markdownCells(try XCTUnwrap(rows.first { $0.hasPrefix("| mean ± std over folds ") }))[2...3],
                       ["0.875 ± 0.125", "0.903 ± 0.168"])
        let pooled = markdownCells(try XCTUnwrap(rows.first { $0.hasPrefix("| out of fold (pooled) ") }))
        XCTAssertEqual(pooled[1], "12 patients")
        XCTAssertTrue(pooled[2].hasPrefix("0.875 ["), pooled[2])
        XCTAssertTrue(pooled[3].hasPrefix("0.903 ["), pooled[3])
        XCTAssertFalse(section.contains("Partial"))

        // Classification metrics and confusion matrices: one pooled run per seed.
        let metrics = try ReportTables.classificationMetrics(input)
        XCTAssertEqual(markdownCells(try XCTUnwrap(metrics.components(separatedBy: "\n").first { $0.hasPrefix("| base") }))[1], "2")
        let confusion = try ReportTables.confusionMatrices(input)
        XCTAssertTrue(confusion.contains("**base** (summed over seeds 1, 2)"), confusion)
        // Class b (odd patients): base misses P03 and P07 in seed 1 and P03 in seed 2: 9 of 36 wrong.
        XCTAssertEqual(markdownCells(try XCTUnwrap(confusion.components(separatedBy: "\n").first { $0.hasPrefix("| b ") }))[1...3],
                       ["9", "27", "36"])
        let perGroup = try ReportTables.perGroupAccuracy(input)
        XCTAssertTrue(perGroup.contains("Accuracy per test patient (12;"), perGroup)
    }

    func testComparisonPairsFoldsAndSeeds() throws {
        let input = Self.input()
        let lines = try ReportTables.comparison(input, baseline: "base").components(separatedBy: "\n")
        let header = markdownCells(lines[0])
        let row = markdownCells(try XCTUnwrap(lines.first { $0.hasPrefix("| se ") }))
        XCTAssertEqual(row[try XCTUnwrap(header.firstIndex(of: "Paired runs (fold, seed)"))], "6")
        // Δ per (fold, seed), by hand: seed 1: +0.25, 0, 0; seed 2: +0.25, −1/3, 0 → mean 1/36.
        let differences = [0.25, 0, 0, 0.25, 8.0 / 12 - 1, 0]
        let test = try Statistics.pairedTTest(candidate: differences, baseline: Array(repeating: 0, count: 6))
        XCTAssertEqual(test.meanDifference, 1.0 / 36, accuracy: 1e-12)
        XCTAssertEqual(row[try XCTUnwrap(header.firstIndex(of: "Δ selected-epoch test acc (mean over pairs)"))], "+0.028")
        XCTAssertEqual(row[try XCTUnwrap(header.firstIndex(of: "Paired t-test"))], NumberFormat.pValue(test.pValue!))
        // The bootstrap interval of Δ is the pooled view's: the same as comparing the pooled runs directly.
        let cv = try XCTUnwrap(input.crossValidation)
        let uncertainty = TestSetUncertainty.of(cv.outOfFold)
        let pooled = { (name: String) in cv.outOfFold.runs.filter { $0.configuration == name } }
        let delta = try XCTUnwrap(uncertainty.difference(candidate: pooled("se"), baseline: pooled("base"), .accuracy))
        XCTAssertEqual(delta.value, 65.0 / 72 - 0.875, accuracy: 1e-12)
        let bootstrapColumn = try XCTUnwrap(header.firstIndex { $0.hasPrefix("95% interval of Δ out of fold") })
        XCTAssertEqual(row[bootstrapColumn], NumberFormat.interval(try XCTUnwrap(delta.interval), signed: true))
        XCTAssertTrue(header[bootstrapColumn].hasSuffix("over 12 patients)"), header[bootstrapColumn])
        XCTAssertTrue(row[try XCTUnwrap(header.firstIndex { $0.hasPrefix("McNemar per seed, out of fold") })].hasPrefix("seed 1: p = "))
    }

    func testMissingFoldsMakeAConfigurationPartial() throws {
        var input = Self.input()
        input.runs.removeAll { $0.configuration == "base" && $0.fold?.fold == 2 && $0.seed == 2 }
        let index = try XCTUnwrap(input.runs.firstIndex { $0.configuration == "se" && $0.fold?.fold == 0 && $0.seed == 1 })
        input.runs[index].status = .interrupted
        let cv = try XCTUnwrap(input.crossValidation)
        XCTAssertEqual(cv.configurations.map(\.missingText), ["fold 2 (seed 2)", "fold 0 (seed 1)"])
        XCTAssertFalse(cv.configurations.contains(where: \.isComplete))
        // A seed with a fold missing is not pooled; the configuration's out-of-fold number is over its complete seeds.
        let judged = input.targetJudgements()
        XCTAssertEqual(judged[0].values, [30.0 / 36])
        XCTAssertEqual(judged[1].values, [32.0 / 36])
        XCTAssertEqual(judged.map(\.verdictText), ["partial (missing fold 2 (seed 2))", "partial (missing fold 0 (seed 1))"])
        XCTAssertEqual(input.targetVerdict, .undetermined, "partial configurations get no verdict over folds")

        let summary = try ReportTables.summary(input)
        let base = markdownCells(try XCTUnwrap(summary.components(separatedBy: "\n").first { $0.hasPrefix("| base ") }))
        XCTAssertTrue(base.contains("partial (missing fold 2 (seed 2))") && base.contains("5/6"), "\(base)")
        let section = try ReportTables.crossValidation(input)
        XCTAssertTrue(section.contains("- base: missing fold 2 (seed 2)\n- se: missing fold 0 (seed 1)"), section)
        let statement = try ReportTables.targetStatement(input)
        XCTAssertTrue(statement.contains("no verdict yet for base"), statement)

        // No seed of any configuration complete: nothing is pooled, and the text says so instead of "0 patients".
        var early = input
        early.runs.removeAll { $0.fold?.fold == 1 }
        let earlySummary = try ReportTables.summary(early)
        XCTAssertTrue(earlySummary.contains("95% interval (bootstrap over patients (none scored yet))"), earlySummary)
        let earlySection = try ReportTables.crossValidation(early)
        XCTAssertFalse(earlySummary.contains(" 0 patients") || earlySection.contains(" 0 patients"), earlySection)

        // A planned seed without any run is missing too.
        var planned = Self.input()
        planned.plannedSeedsPerConfiguration = 3
        XCTAssertEqual(try XCTUnwrap(planned.crossValidation).configurations[0].missingText, "1 planned seed not yet run")
        XCTAssertEqual(planned.targetJudgements()[0].verdictText, "partial (missing 1 planned seed not yet run)")
    }

    func testKFoldReportRenders() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kfold-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = Self.input()
        let rendered = try renderReport(input, outDir: directory, generatedAt: Date(timeIntervalSince1970: 0))
        let readme = try String(contentsOf: rendered.readme, encoding: .utf8)
        XCTAssertTrue(readme.contains("## Cross-validation"), readme)
        XCTAssertTrue(readme.contains("In this k-fold experiment a configuration's headline is out of fold"), readme)
        let runs = readme.components(separatedBy: "\n").filter { $0.hasPrefix("| base ") && $0.contains("| finished") }
        XCTAssertEqual(runs.count, 6, "one row per fold and seed")
        let csv = try String(contentsOf: rendered.csv, encoding: .utf8).components(separatedBy: "\r\n")
        XCTAssertTrue(csv[0].hasPrefix("configuration,seed,fold,status,"), csv[0])
    }
}
