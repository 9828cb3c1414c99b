import AblateCore
import Datasets
import ExperimentFile
import Foundation
import Store
import XCTest
@testable import Runner

/// The package root (…/Tests/RunnerTests/ExperimentRunnerTests.swift → …).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Where the experiment language meets the runner: queueing into the store, and the Datasets and engine settings
/// a resolved configuration turns into. (The language itself is tested in ExperimentFileTests.)
final class ExperimentRunnerTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"),
                                                withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func parse(_ text: String) throws -> Experiment {
        try Experiment.parse(text: text, file: "t.yaml", options: .init(baseDirectory: dir.path))
    }

    static let minimal = """
        name: t
        data:
          path: data
        training:
          epochs: 2
        model: densenet121
        """

    func testEnqueueIntoStoreDedupes() throws {
        let store = try RunStore(path: dir.appendingPathComponent("runs/ablate.sqlite").path)
        let e = try parse(Self.minimal + "\nmatrix: {seed: [1, 2, 3]}")
        let first = try e.enqueue(into: store)
        XCTAssertEqual(first.result.inserted.count, 3)
        let again = try e.enqueue(into: store)
        XCTAssertEqual(again.experimentID, first.experimentID)
        XCTAssertEqual(again.result.inserted, [])
        XCTAssertEqual(again.result.skipped.count, 3)
        let stored = try store.listRuns(experiment: "t")
        XCTAssertEqual(stored.map(\.run.configHash), e.runs.map(\.configHash))
        XCTAssertEqual(stored.map(\.run.seed), [1, 2, 3])
        XCTAssertEqual(try RunConfig.decode(json: stored[1].run.configJSON), e.runs[1].config)
    }

    /// The experiment file's group settings map onto the Datasets rules that do the grouping.
    func testGroupKeys() throws {
        XCTAssertEqual(try GroupKey.photo.rule().matcher().key(forFileName: "M01_02_07.jpg"), "M01_02")
        XCTAssertEqual(try GroupKey.patient.rule().matcher().key(forFileName: "NM12_01_03.jpg"), "NM12")
        XCTAssertEqual(try GroupKey.regex("^(M|NM)\\d+").rule().matcher().key(forFileName: "NM12_01_03.jpg"), "NM")
        // A name the expression does not match is its own group.
        XCTAssertEqual(try GroupKey.regex("^x").rule().matcher().key(forFileName: "M01.jpg"), "M01")
    }

    /// The schedule a run trains with is the one the experiment file documents: cosine reaches `min_lr` in the
    /// last epoch, step multiplies by gamma every `step_size` epochs (epochs counted from 0 by the trainer).
    func testTrainingUsesTheDocumentedSchedule() throws {
        var config = try XCTUnwrap(Experiment.parse(text: """
            name: s
            data: {path: x}
            training: {epochs: 5, optimizer: {name: sgd, lr: 1}, schedule: {name: cosine, min_lr: 0.1}}
            model: densenet121
            """, options: .init(checkDataExists: false)).runs.first).config
        let cosine = try config.trainingSettings.schedule
        let rates = (0..<5).map { cosine.learningRate(base: 1, epoch: $0, totalEpochs: 5) }
        XCTAssertEqual(rates[0], 1, accuracy: 1e-6)
        XCTAssertEqual(rates[2], 0.55, accuracy: 1e-6)
        XCTAssertEqual(rates[4], 0.1, accuracy: 1e-6, "the last epoch trains at min_lr")
        config.training.schedule = ScheduleSettings()
        config.training.schedule.name = .step
        config.training.schedule.stepSize = 2
        config.training.schedule.gamma = 0.1
        let step = try config.trainingSettings.schedule
        XCTAssertEqual(step.learningRate(base: 1, epoch: 1, totalEpochs: 5), 1, accuracy: 1e-6)
        XCTAssertEqual(step.learningRate(base: 1, epoch: 2, totalEpochs: 5), 0.1, accuracy: 1e-6)
    }
}
