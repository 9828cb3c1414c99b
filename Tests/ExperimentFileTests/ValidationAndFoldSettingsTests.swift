import AblateCore
import Foundation
import XCTest
@testable import ExperimentFile

/// The experiment-file side of validation splits, epoch selection, early stopping and grouped k-fold.
final class ValidationAndFoldSettingsTests: DataFolderTestCase {
    static func file(split: String, training: String = "", matrix: String = "") -> String {
        """
        name: cv
        data:
          path: data
          size: 32
          split: \(split)
        training:
          epochs: 4
        \(training)
        model: densenet121
        \(matrix)
        """
    }

    func testFoldAllExpandsToEveryFoldOfTheFilesFolds() throws {
        let text = Self.file(split: "{protocol: kfold, folds: 3, group: patient, validation_fraction: 0.15}",
                             training: "  select: best_val_loss\n  early_stop: {metric: val_loss, patience: 2}",
                             matrix: "matrix:\n  data.split.fold: all\n  seed: [1, 2]")
        let e = try parse(text)
        XCTAssertEqual(e.runs.count, 6)
        XCTAssertEqual(e.runs.map(\.config.data.split.fold), [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(e.runs.first?.label, "data.split.fold=0 seed=1")
        let split = try XCTUnwrap(e.runs.first?.config.data.split)
        XCTAssertEqual(split.protocol, .kfold)
        XCTAssertEqual(split.folds, 3)
        XCTAssertEqual(split.group, .patient)
        XCTAssertNil(split.testFraction, "a k-fold split has no test fraction: the fold is the test part")
        XCTAssertEqual(split.validationFraction, 0.15)
        XCTAssertEqual(e.runs.first?.config.training.selection, .bestValLoss)
        XCTAssertEqual(e.runs.first?.config.training.earlyStop?.patience, 2)
        XCTAssertEqual(e.runs.first?.config.training.earlyStop?.minDelta, 0)
        // The fold is part of the configuration, hence of the hash: five distinct runs per seed.
        XCTAssertEqual(Set(e.runs.map(\.configHash)).count, 6)
        // The default number of folds is the declaration's.
        let five = try parse(Self.file(split: "{protocol: kfold, group: patient}", matrix: "matrix:\n  data.split.fold: all"))
        XCTAssertEqual(five.runs.map(\.config.data.split.fold), [0, 1, 2, 3, 4])
    }

    func testSettingsThatDoNotApplyLeaveTheHashAlone() throws {
        let plain = try parse(Self.file(split: "{protocol: grouped, group: patient}"))
        let spelled = try parse(Self.file(split: "{protocol: grouped, group: patient}", training: "  select: last"))
        XCTAssertEqual(plain.runs[0].configHash, spelled.runs[0].configHash, "`select: last` is what leaving it out means")
        XCTAssertFalse(plain.runs[0].canonicalJSON.contains("select"))
        XCTAssertFalse(plain.runs[0].canonicalJSON.contains("validation_fraction"))
        XCTAssertFalse(plain.runs[0].canonicalJSON.contains("fold"))
        // The fold settings of a grouped split are read and dropped (they apply to kfold only).
        let folds = try parse(Self.file(split: "{protocol: grouped, group: patient, folds: 4}"))
        XCTAssertEqual(folds.runs[0].configHash, plain.runs[0].configHash)
    }

    func testBadCombinationsAreRefusedWithTheKeyAndAFix() {
        expectIssue(Self.file(split: "{protocol: kfold, folds: 5}", matrix: "matrix:\n  data.split.fold: all"),
                    keyPath: "data.split.group", contains: ["required when protocol is kfold", "group: patient"])
        expectIssue(Self.file(split: "{protocol: kfold, group: patient}"),
                    keyPath: "data.split.fold", contains: ["required when protocol is kfold", "data.split.fold: all"])
        expectIssue(Self.file(split: "{protocol: kfold, folds: 3, group: patient, fold: 3}"),
                    keyPath: "data.split.fold", contains: ["fold 3 does not exist", "0 to 2"])
        expectIssue(Self.file(split: "{protocol: kfold, folds: 1, group: patient, fold: 0}"),
                    keyPath: "data.split.folds", contains: ["2"])
        expectIssue(Self.file(split: "{protocol: grouped, group: patient}", training: "  select: best_val_acc"),
                    keyPath: "training.select", contains: ["best_val_acc", "no", "validation_fraction"])
        expectIssue(Self.file(split: "stratified", training: "  early_stop: {patience: 3}"),
                    keyPath: "training.early_stop", contains: ["validation", "validation_fraction"])
        expectIssue(Self.file(split: "{protocol: stratified, validation_fraction: 0.1}", training: "  early_stop: {metric: val_los}"),
                    keyPath: "training.early_stop.metric", contains: ["val_los"])
        expectIssue(Self.file(split: "{protocol: stratified, validation_fraction: 0.1}", training: "  early_stop: {metric: val_loss}"),
                    keyPath: "training.early_stop.patience", contains: ["patience"])
        expectIssue(Self.file(split: "{protocol: random, test_fraction: 0.3, validation_fraction: 0.65}"),
                    keyPath: "data.split.validation_fraction", contains: ["leave", "for training"])
        expectIssue(Self.file(split: "{protocol: kfold, group: patient, validation_fraction: 1.5}", matrix: "matrix:\n  data.split.fold: all"),
                    keyPath: "data.split.validation_fraction", contains: ["1.5"])
        expectIssue(Self.file(split: "{protocol: kfold, group: patient}", matrix: "matrix:\n  data.split.fold: every"),
                    keyPath: "matrix.data.split.fold", contains: ["list"])
    }
}
