import AblateCore
import Foundation
import XCTest
@testable import ExperimentFile

/// The experiment-file side of fine-tuning: `training.freeze` and `training.optimizer.head_lr_multiplier`.
final class FineTuningSettingsTests: DataFolderTestCase {
    /// TransferModelTests' file (whose densenet121 hash is pinned there), with more training settings.
    static func text(training: String = "", optimizer: String = "", model: String = "densenet121", matrix: String = "") -> String {
        """
        name: t
        data: {path: data, size: 64}
        training: {epochs: 3, batch_size: 8, optimizer: {name: sgd, lr: 0.05, momentum: 0.9\(optimizer)}\(training)}
        model: \(model)
        \(matrix)
        """
    }

    func experiment(training: String = "", optimizer: String = "", model: String = "densenet121", matrix: String = "") throws -> Experiment {
        try parse(Self.text(training: training, optimizer: optimizer, model: model, matrix: matrix))
    }

    func expectIssue(training: String = "", optimizer: String = "", model: String = "densenet121", keyPath: String,
                     contains: [String], line: UInt = #line) {
        expectIssue(Self.text(training: training, optimizer: optimizer, model: model), keyPath: keyPath, contains: contains,
                    line: line)
    }

    /// Left out, the settings are not in the configuration and the hash is the one pinned before they existed; an
    /// empty list and a multiplier of 1 say the same and are the same configuration.
    func testHashesDoNotChangeWhenUnset() throws {
        let plain = try experiment().runs[0]
        XCTAssertEqual(String(plain.configHash.prefix(12)), "22fe6166b021")
        XCTAssertFalse(plain.canonicalJSON.contains("freeze"))
        XCTAssertFalse(plain.canonicalJSON.contains("head_lr_multiplier"))
        for same in [try experiment(training: ", freeze: []"), try experiment(optimizer: ", head_lr_multiplier: 1"),
                     try experiment(training: ", freeze: []", optimizer: ", head_lr_multiplier: 1.0")] {
            XCTAssertEqual(same.runs[0].configHash, plain.configHash)
            XCTAssertNil(same.runs[0].config.training.freeze)
            XCTAssertNil(same.runs[0].config.training.optimizer.headLRMultiplier)
        }
    }

    func testSettingsAreReadAndKept() throws {
        let run = try experiment(training: ", freeze: [features.denseblock1, features.conv0, features.norm0, features.denseblock1.denselayer2]",
                                 optimizer: ", head_lr_multiplier: 10").runs[0]
        XCTAssertEqual(run.config.training.freeze, ["features.conv0", "features.denseblock1", "features.norm0"])
        XCTAssertEqual(run.config.training.optimizer.headLRMultiplier, 10)
        XCTAssertTrue(run.canonicalJSON.contains("\"freeze\":[\"features.conv0\",\"features.denseblock1\",\"features.norm0\"]"),
                      run.canonicalJSON)
        XCTAssertTrue(run.canonicalJSON.contains("\"head_lr_multiplier\":10"), run.canonicalJSON)
        XCTAssertEqual(try RunConfig.decode(json: run.canonicalJSON), run.config)
        XCTAssertNotEqual(run.configHash, try experiment().runs[0].configHash)
        // The same list in another order, or with a prefix inside another, is the same configuration.
        let again = try experiment(training: ", freeze: [features.norm0, features.conv0, features.denseblock1]",
                                   optimizer: ", head_lr_multiplier: 10.0").runs[0]
        XCTAssertEqual(again.configHash, run.configHash)
        // A ResNet's modules; what is inside a module is checked when the network is built.
        let resnet = try experiment(training: ", freeze: [conv1, bn1, layer1, layer2.0.conv1]", model: "resnet18").runs[0]
        XCTAssertEqual(resnet.config.training.freeze, ["bn1", "conv1", "layer1", "layer2.0.conv1"])
    }

    /// With and without freezing as a matrix axis: two runs, the unfrozen one the plain configuration.
    func testFreezeAsAMatrixAxis() throws {
        let e = try experiment(matrix: "matrix:\n  training.freeze: [[], [features]]\n  training.optimizer.head_lr_multiplier: [1, 10]")
        XCTAssertEqual(e.runs.count, 4)
        XCTAssertEqual(e.runs.map(\.config.training.freeze), [nil, nil, ["features"], ["features"]])
        XCTAssertEqual(e.runs[0].configHash, try experiment().runs[0].configHash)
        XCTAssertEqual(Set(e.runs.map(\.configHash)).count, 4)
    }

    func testUnknownPrefixesAreRefusedWithTheModules() {
        expectIssue(training: ", freeze: [features.conv0, features.denseblok1]", keyPath: "training.freeze",
                    contains: ["'features.denseblok1' matches no parameter of densenet121", "Did you mean 'features.denseblock1'?",
                               "features.conv0, features.norm0, features.denseblock1, features.transition1", "features.norm5, classifier"])
        // At a dot boundary: densenet121 has four dense blocks, `features.denseblock` names none of them.
        expectIssue(training: ", freeze: [features.denseblock]", keyPath: "training.freeze",
                    contains: ["'features.denseblock' matches no parameter"])
        expectIssue(training: ", freeze: [features.denseblock5]", keyPath: "training.freeze", contains: ["'features.denseblock5'"])
        expectIssue(training: ", freeze: [features.conv0]", model: "resnet50", keyPath: "training.freeze",
                    contains: ["'features.conv0' matches no parameter of resnet50", "conv1, bn1, layer1, layer2, layer3, layer4, fc"])
        expectIssue(training: ", freeze: [features, classifier]", keyPath: "training.freeze",
                    contains: ["freezes every parameter", "nothing would train"])
        expectIssue(training: ", freeze: features.conv0", keyPath: "training.freeze", contains: ["expected a list"])
        expectIssue(training: ", freeze: [features.conv0, [a]]", keyPath: "training.freeze", contains: ["expected a list of names"])
    }

    func testHeadMultiplierMustBePositive() {
        for value in ["0", "-1", "0.0"] {
            expectIssue(optimizer: ", head_lr_multiplier: \(value)", keyPath: "training.optimizer.head_lr_multiplier",
                        contains: ["must be greater than 0"])
        }
        expectIssue(optimizer: ", head_lr_multiplier: fast", keyPath: "training.optimizer.head_lr_multiplier",
                    contains: ["expected a number"])
    }
}
