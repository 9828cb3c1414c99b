import AblateCore
import Datasets
import ExperimentFile
import Foundation
import Store
import Training
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
        let cosine = try RunPlan(config).training.schedule
        let rates = (0..<5).map { cosine.learningRate(base: 1, epoch: $0, totalEpochs: 5) }
        XCTAssertEqual(rates[0], 1, accuracy: 1e-6)
        XCTAssertEqual(rates[2], 0.55, accuracy: 1e-6)
        XCTAssertEqual(rates[4], 0.1, accuracy: 1e-6, "the last epoch trains at min_lr")
        config.training.schedule = ScheduleSection()
        config.training.schedule.name = .step
        config.training.schedule.stepSize = 2
        config.training.schedule.gamma = 0.1
        let step = try RunPlan(config).training.schedule
        XCTAssertEqual(step.learningRate(base: 1, epoch: 1, totalEpochs: 5), 1, accuracy: 1e-6)
        XCTAssertEqual(step.learningRate(base: 1, epoch: 2, totalEpochs: 5), 0.1, accuracy: 1e-6)
    }

    /// `training.freeze` and `head_lr_multiplier` reach the trainer as written (canonical list), and leaving them
    /// out freezes nothing and gives the head the common rate.
    func testThePlanCarriesTheFineTuningSettings() throws {
        func plan(_ training: String) throws -> TrainingConfig {
            let run = try XCTUnwrap(Experiment.parse(text: """
                name: f
                data: {path: x}
                training: {epochs: 1\(training)}
                model: densenet121
                """, options: .init(checkDataExists: false)).runs.first)
            return try RunPlan(run.config).training
        }
        let tuned = try plan(", freeze: [features.denseblock1, features.conv0], optimizer: {name: adam, head_lr_multiplier: 10}")
        XCTAssertEqual(tuned.freeze, ["features.conv0", "features.denseblock1"])
        XCTAssertEqual(tuned.headLRMultiplier, 10)
        let plain = try plan("")
        XCTAssertEqual(plain.freeze, [])
        XCTAssertNil(plain.headLRMultiplier)
    }

    /// Every default a run trains with is the declared one: the plan of a file that leaves everything out carries
    /// the declarations' values, and a configuration stored without the optional settings (written before the
    /// reader filled them in) plans exactly like the filled-in one.
    func testThePlanCarriesEveryDeclaredDefault() throws {
        func declared<S: SettingsSection, V: SettingValue>(_ root: S, _ key: String, as _: V.Type) throws -> V {
            try V(json: try XCTUnwrap(S.setting(key).fallback(root), "\(S.self).\(key) declares no value"))
        }
        for optimizer in ["sgd", "adam"] {
            for schedule in ["step, step_size: 2", "cosine"] {
                let config = try XCTUnwrap(Experiment.parse(text: """
                    name: d
                    data: {path: x, augment: {hflip: true, random_resized_crop: true}}
                    training: {epochs: 1, optimizer: \(optimizer), schedule: {name: \(schedule)}}
                    model: densenet121
                    """, options: .init(checkDataExists: false)).runs.first).config
                let plan = try RunPlan(config)
                let o = config.training.optimizer, s = config.training.schedule, split = config.data.split
                XCTAssertEqual(Int(plan.seed), try declared(RunConfig(), "seed", as: Int.self))
                XCTAssertEqual(plan.training.batchSize, try declared(config.training, "batch_size", as: Int.self))
                let lr = Float(try declared(o, "lr", as: Double.self)), wd = Float(try declared(o, "weight_decay", as: Double.self))
                if optimizer == "sgd" {
                    XCTAssertEqual(plan.training.optimizer, .sgd(lr: lr, momentum: Float(try declared(o, "momentum", as: Double.self)),
                                                                 dampening: 0, weightDecay: wd,
                                                                 nesterov: try declared(o, "nesterov", as: Bool.self)))
                } else {
                    let betas = try declared(o, "betas", as: [Double].self)
                    XCTAssertEqual(plan.training.optimizer, .adam(lr: lr, beta1: Float(betas[0]), beta2: Float(betas[1]),
                                                                  eps: Float(try declared(o, "eps", as: Double.self)), weightDecay: wd))
                }
                if s.name == .step {
                    XCTAssertEqual(plan.training.schedule, .step(stepSize: 2, gamma: Float(try declared(s, "gamma", as: Double.self))))
                } else {
                    XCTAssertEqual(plan.training.schedule, .cosine(minLR: Float(try declared(s, "min_lr", as: Double.self))))
                }
                XCTAssertEqual(plan.split.strategy, try declared(split, "protocol", as: SplitProtocol.self))
                XCTAssertEqual(plan.split.testFraction, try declared(split, "test_fraction", as: Double.self))
                XCTAssertEqual(Int(plan.split.seed), try declared(split, "seed", as: Int.self))
                XCTAssertEqual(plan.load.size, try declared(config.data, "size", as: Int.self))
                XCTAssertEqual(plan.normalization.mean.map(Double.init), try declared(config.data.normalize, "mean", as: [Double].self).map { Double(Float($0)) })
                XCTAssertEqual(plan.normalization.std.map(Double.init), try declared(config.data.normalize, "std", as: [Double].self).map { Double(Float($0)) })
                XCTAssertEqual(plan.normalization, Normalization.imagenet)
                let crop = RandomResizedCropSection()
                XCTAssertEqual(plan.augmentation?.cropScale, try declared(crop, "scale", as: [Double].self))
                XCTAssertEqual(plan.augmentation?.cropRatio, try declared(crop, "ratio", as: [Double].self))
                guard case .denseNet(let model) = try plan.model(classes: 2) else { return XCTFail("not a DenseNet") }
                XCTAssertEqual(model, DenseNetConfig.densenet121)
                for (key, value) in [("bn_size", "\(model.bnSize)"), ("compression", "\(model.compression)"), ("drop_rate", "0")] {
                    XCTAssertEqual(ModelSection.setting(key).info.defaultText, value, key)
                }
                XCTAssertEqual(ModelSection.setting("se_placement").info.defaultText, SEPlacement.standard.rawValue)
                XCTAssertEqual(ModelSection.setting("width").info.defaultText, "\(ResNetConfig.standardWidth)")

                var bare = config
                bare.training.optimizer.momentum = nil; bare.training.optimizer.nesterov = nil
                bare.training.optimizer.betas = nil; bare.training.optimizer.eps = nil
                bare.training.schedule.gamma = nil; bare.training.schedule.minLR = nil
                bare.data.split.testFraction = nil; bare.data.split.seed = nil
                XCTAssertEqual(try RunPlan(bare), plan, "\(optimizer), \(schedule)")
            }
        }
    }
}
