import AblateCore
import Foundation
import XCTest
@testable import ExperimentFile

/// The package root (…/Tests/ExperimentFileTests/ExperimentTests.swift → …).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

final class ExperimentTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"),
                                                withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Options whose base directory holds an existing `data` folder.
    var options: Experiment.LoadOptions { .init(baseDirectory: dir.path) }

    static let minimal = """
        name: t
        data:
          path: data
        training:
          epochs: 2
        model: densenet121
        """

    func parse(_ text: String, options: Experiment.LoadOptions? = nil) throws -> Experiment {
        try Experiment.parse(text: text, file: "t.yaml", options: options ?? self.options)
    }

    /// Parses `text`, expecting validation issues; returns them.
    func issues(_ text: String, options: Experiment.LoadOptions? = nil, file: StaticString = #filePath,
                line: UInt = #line) -> [Issue] {
        do {
            _ = try parse(text, options: options)
            XCTFail("expected validation errors", file: file, line: line)
        } catch let error as ExperimentError {
            XCTAssertFalse(error.issues.isEmpty, "\(error)", file: file, line: line)
            return error.issues
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return []
    }

    /// The one issue for `keyPath`; asserts its texts contain each of `contains`.
    @discardableResult
    func expectIssue(_ text: String, keyPath: String, contains: [String], options: Experiment.LoadOptions? = nil,
                     file: StaticString = #filePath, line: UInt = #line) -> Issue? {
        let found = issues(text, options: options, file: file, line: line)
        guard let issue = found.first(where: { $0.keyPath == keyPath }) else {
            XCTFail("no issue for \(keyPath) in:\n\(found.map(\.description).joined(separator: "\n"))",
                    file: file, line: line)
            return nil
        }
        for fragment in contains {
            XCTAssertTrue(issue.description.contains(fragment), "'\(fragment)' missing from: \(issue)",
                          file: file, line: line)
        }
        if !keyPath.isEmpty { XCTAssertTrue(issue.description.contains(keyPath), file: file, line: line) }
        return issue
    }

    // MARK: shipped files

    func testMonkeypoxExpandsToTwelveRuns() throws {
        let path = packageRoot.appendingPathComponent("experiments/monkeypox.yaml").path
        let e = try Experiment.load(file: path, options: .init(checkDataExists: false))
        XCTAssertEqual(e.name, "monkeypox")
        XCTAssertEqual(e.runs.count, 12)
        XCTAssertEqual(Set(e.runs.map(\.configHash)).count, 12)
        XCTAssertEqual(e.axes.map(\.keyPath), ["seed", "model"])
        XCTAssertEqual(e.target, Target(testAccuracy: 0.89))
        // Last axis fastest: the four models with seed 1 first.
        XCTAssertEqual(e.runs.prefix(4).map(\.config.model.name),
                       ["densenet121", "densenet121-se8", "densenet121-se16", "densenet121-se32"])
        XCTAssertEqual(e.runs.map(\.config.seed), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
        XCTAssertEqual(e.runs[2].config.model.seReduction, 16)
        XCTAssertEqual(e.runs[0].config.model.blockConfig, [6, 12, 24, 16])
        XCTAssertEqual(e.runs[0].label, "seed=1 model=densenet121")
        let c = e.runs[0].config
        XCTAssertEqual(c.data.split.protocol, .random)
        XCTAssertEqual(c.data.split.testFraction, 0.2)
        XCTAssertEqual(c.data.size, 224)
        XCTAssertEqual(c.data.normalize, .imageNet)
        XCTAssertEqual(c.training.optimizer.name, .adam)
        XCTAssertEqual(c.training.optimizer.lr, 0.001)
        XCTAssertEqual(c.training.epochs, 25)
        XCTAssertTrue(e.runs[0].dataDirectory.hasSuffix("/shared/data/monkeypox"), e.runs[0].dataDirectory)
        XCTAssertTrue(e.fileText.contains("name: monkeypox"))
        XCTAssertEqual(e.filePath, path)
    }

    func testDemoExpandsAndMaySynthesiseMissingData() throws {
        let path = packageRoot.appendingPathComponent("experiments/demo.yaml").path
        // data.path does not exist under the temporary base folder, but synthesize is set: valid.
        let e = try Experiment.load(file: path, options: .init(baseDirectory: dir.path))
        XCTAssertEqual(e.runs.count, 6)
        XCTAssertEqual(Set(e.runs.map(\.config.model.name)), ["custom", "custom-se4"])
        let synthesize = try XCTUnwrap(e.runs[0].config.data.synthesize)
        XCTAssertEqual([synthesize.classes, synthesize.perClass, synthesize.size], [2, 150, 48])
        XCTAssertEqual(e.runs[0].config.model.blockOutputChannels, [32, 32])
        XCTAssertEqual(e.runs[0].dataDirectory, dir.appendingPathComponent("scratch/demo-data").path)
        XCTAssertEqual(e.runs[0].config.training.optimizer.nesterov, true)
        XCTAssertNil(e.runs[0].config.training.optimizer.betas)
    }

    // MARK: hashing

    func testCanonicalJSONAndHashArePinned() throws {
        let run = try parse(Self.minimal).runs[0]
        let expected = """
            {"config_version":1,"data":{"augment":{"brightness":0.0,"contrast":0.0,"hflip":false},\
            "normalize":{"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]},"path":"data","size":224,\
            "split":{"protocol":"random","seed":0,"test_fraction":0.2}},"model":{"block_config":[6,12,24,16],\
            "bn_size":4,"compression":0.5,"drop_rate":0.0,"growth_rate":32,"init_channels":64,"name":"densenet121"},\
            "seed":1,"training":{"batch_size":32,"epochs":2,"eval_every":1,"optimizer":{"betas":[0.9,0.999],\
            "eps":1e-08,"lr":0.001,"name":"adam","weight_decay":0.0},"schedule":{"name":"constant"}}}
            """
        XCTAssertEqual(run.canonicalJSON, expected)
        XCTAssertEqual(run.configHash, SHA256.hex(expected))
        XCTAssertEqual(run.configHash, run.config.hash)
        // If this changes, stored runs will no longer dedupe against new ones: bump config_version on purpose.
        XCTAssertEqual(run.configHash, SHA256.hex(expected))
        XCTAssertEqual(try RunConfig.decode(json: run.canonicalJSON), run.config)
    }

    func testEquivalentSpellingsHashTheSame() throws {
        let a = try parse(Self.minimal + "\nseed: 1").runs[0]
        let b = try parse("""
            model: {name: densenet121}
            training:
              optimizer: {name: adam, lr: 1.0e-3, momentum: 0.5, betas: [0.9, 0.999]}
              epochs: 2
              schedule: constant
            data: {path: data, size: 224, split: random, normalize: {mean: [0.485, 0.456, 0.406]}}
            name: other-name
            """).runs[0]
        XCTAssertEqual(a.configHash, b.configHash, "\(a.canonicalJSON)\n\(b.canonicalJSON)")
        let se1 = try parse(Self.minimal.replacingOccurrences(of: "model: densenet121", with: "model: densenet121-se16")).runs[0]
        let se2 = try parse(Self.minimal.replacingOccurrences(of: "model: densenet121",
                                                              with: "model: {name: densenet121, se_reduction: 16}")).runs[0]
        XCTAssertEqual(se1.configHash, se2.configHash)
        XCTAssertNotEqual(se1.configHash, a.configHash)
        let lr = try parse(Self.minimal + "\nmatrix: {training.optimizer.lr: [0.001, 0.01]}").runs
        XCTAssertEqual(lr[0].configHash, a.configHash)
        XCTAssertNotEqual(lr[1].configHash, a.configHash)
    }

    func testDataOverrideReplacesPathAndIsChecked() throws {
        let other = dir.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        var opts = options
        opts.dataOverride = other.path
        let run = try parse(Self.minimal.replacingOccurrences(of: "path: data", with: "path: missing-folder"),
                            options: opts).runs[0]
        XCTAssertEqual(run.config.data.path, other.path)
        XCTAssertEqual(run.dataDirectory, other.path)
        opts.dataOverride = dir.appendingPathComponent("nope").path
        expectIssue(Self.minimal, keyPath: "--data", contains: ["does not exist", "nope"], options: opts)
    }

    // MARK: matrix

    func testMatrixMultipliesAndMergesSections() throws {
        let e = try parse(Self.minimal + """

            matrix:
              training.optimizer.lr: [0.1, 0.01]
              data.augment: [{hflip: true}, {brightness: 0.2, contrast: 0.1}]
              seed: [1, 2, 3]
            """)
        XCTAssertEqual(e.runs.count, 12)
        XCTAssertEqual(e.runs.map(\.config.seed).prefix(3), [1, 2, 3])
        XCTAssertEqual(e.runs[0].label, "training.optimizer.lr=0.1 data.augment={hflip: true} seed=1")
        XCTAssertEqual(e.runs[3].config.data.augment.brightness, 0.2)
        XCTAssertEqual(e.runs[3].config.data.augment.hflip, false)
        XCTAssertEqual(e.runs[11].config.training.optimizer.lr, 0.01)
        // The model shorthand in the base still works with a model.* axis.
        let se = try parse(Self.minimal + "\nmatrix: {model.se_reduction: [8, 16]}")
        XCTAssertEqual(se.runs.map(\.config.model.name), ["densenet121-se8", "densenet121-se16"])
    }

    func testDuplicateCombinationsAreListedOnceWithAWarning() throws {
        // momentum does not apply to Adam: both values give the same configuration.
        let e = try parse(Self.minimal + "\nmatrix: {training.optimizer.momentum: [0.9, 0.5]}")
        XCTAssertEqual(e.runs.count, 1)
        XCTAssertEqual(e.warnings.count, 1)
        XCTAssertTrue(e.warnings[0].contains("same configuration"), e.warnings[0])
    }

    func testOnlyFilters() throws {
        let e = try parse(Self.minimal + """

            matrix:
              model: [densenet121, densenet121-se8]
              training.optimizer.lr: [0.001, 0.01]
              seed: [1, 2]
            """)
        XCTAssertEqual(e.runs.count, 8)
        XCTAssertEqual(try e.runs(matching: ["model=densenet121-se8"]).count, 4)
        XCTAssertEqual(try e.runs(matching: ["model=densenet121-se8", "training.optimizer.lr=1e-3"]).count, 2)
        XCTAssertEqual(try e.runs(matching: ["seed=1", "seed=2", "model.se_reduction=8"]).count, 4)
        XCTAssertEqual(try e.runs(matching: []).count, 8)
        do {
            _ = try e.runs(matching: ["trainig.optimizer.lr=0.1"])
            XCTFail("expected an error")
        } catch let error as ExperimentError {
            XCTAssertTrue(error.description.contains("training.optimizer.lr"), error.description)
            XCTAssertTrue(error.description.contains("--only"), error.description)
        }
        do {
            _ = try e.runs(matching: ["model=densenet121-se32"])
            XCTFail("expected an error")
        } catch let error as ExperimentError {
            XCTAssertTrue(error.description.contains("densenet121-se8"), error.description)
        }
        XCTAssertThrowsError(try e.runs(matching: ["seed"]))
    }

    // MARK: validation

    func testUnknownKeysSuggestTheNearest() {
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: 2\n  optimizer: {name: adam, lrr: 0.1}"),
                    keyPath: "training.optimizer.lrr", contains: ["unknown key 'lrr'", "Did you mean 'lr'?"])
        expectIssue(Self.minimal + "\ntrainig: {}", keyPath: "trainig", contains: ["Did you mean 'training'?"])
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: 2\n  batchsize: 8"),
                    keyPath: "training.batchsize", contains: ["Did you mean 'batch_size'?"])
        // An axis naming an unknown setting deep down, reported at the axis line.
        let issue = expectIssue(Self.minimal + "\nmatrix:\n  training.optimizer.lrr: [0.1, 0.01]",
                                keyPath: "training.optimizer.lrr", contains: ["Did you mean 'lr'?"])
        XCTAssertEqual(issue?.location?.line, 8)
        expectIssue(Self.minimal + "\nmatrix:\n  trainig.epochs: [1, 2]", keyPath: "matrix.trainig.epochs",
                    contains: ["Did you mean 'training'?"])
    }

    func testWrongTypes() {
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: ten"),
                    keyPath: "training.epochs", contains: ["expected a whole number", "'ten'", "epochs: 10"])
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: 2\n  optimizer: {lr: fast}"),
                    keyPath: "training.optimizer.lr", contains: ["expected a number", "'fast'"])
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: 2.5"),
                    keyPath: "training.epochs", contains: ["whole number"])
        expectIssue(Self.minimal + "\nseed: '3'", keyPath: "seed", contains: ["whole number"])
        expectIssue(Self.minimal.replacingOccurrences(of: "path: data", with: "path: data\n  augment: {hflip: maybe}"),
                    keyPath: "data.augment.hflip", contains: ["true or false"])
        expectIssue(Self.minimal + "\nmatrix: {seed: 3}", keyPath: "matrix.seed", contains: ["expected a list", "[3]"])
        expectIssue(Self.minimal.replacingOccurrences(of: "training:\n  epochs: 2", with: "training: 5"),
                    keyPath: "training", contains: ["expected a section"])
    }

    func testImpossibleValues() {
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: 0"),
                    keyPath: "training.epochs", contains: ["at least 1", "got 0"])
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: 2\n  batch_size: 0"),
                    keyPath: "training.batch_size", contains: ["at least 1"])
        expectIssue(Self.minimal + "\nmatrix: {seed: []}", keyPath: "matrix.seed",
                    contains: ["no values", "seed: [1, 2, 3]"])
        expectIssue(Self.minimal.replacingOccurrences(of: "model: densenet121", with: "model: densenet12"),
                    keyPath: "model.name", contains: ["unknown model 'densenet12'", "Did you mean 'densenet121'?"])
        let se = expectIssue(Self.minimal.replacingOccurrences(of: "model: densenet121", with: "model: densenet121-se512"),
                             keyPath: "model.name", contains: ["zero channels", "dense block 1", "256", "at most 256"])
        XCTAssertEqual(se?.location?.line, 6)
        expectIssue(Self.minimal.replacingOccurrences(of: "model: densenet121",
                                                      with: "model: {name: custom, growth_rate: 4, block_config: [2, 2], init_channels: 8, se_reduction: 20}"),
                    keyPath: "model.se_reduction", contains: ["zero channels", "block 1", "16 channels"])
        expectIssue(Self.minimal.replacingOccurrences(of: "path: data", with: "path: data\n  split: {test_fraction: 1.5}"),
                    keyPath: "data.split.test_fraction", contains: ["less than 1"])
        expectIssue(Self.minimal.replacingOccurrences(of: "path: data", with: "path: data\n  size: 16"),
                    keyPath: "data.size", contains: ["too small", "4 dense blocks"])
        expectIssue(Self.minimal.replacingOccurrences(of: "model: densenet121", with: "model: {name: custom}"),
                    keyPath: "model.growth_rate", contains: ["missing", "growth_rate:"])
        expectIssue(Self.minimal.replacingOccurrences(of: "model: densenet121", with: "model: densenet121-se16\n  se_reduction: 8")
                        .replacingOccurrences(of: "model: densenet121-se16\n  se_reduction: 8",
                                              with: "model: {name: densenet121-se16, se_reduction: 8}"),
                    keyPath: "model.se_reduction", contains: ["contradicts"])
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs: 2\n  schedule: {name: step}"),
                    keyPath: "training.schedule.step_size", contains: ["missing"])
    }

    func testMatrixValueProblemsPointAtTheMatrix() {
        let text = Self.minimal + "\nmatrix:\n  model: [densenet121, densenet121-se8, densnet121-se16]\n  name: [a, b]"
        let found = issues(text)
        let model = found.first { $0.keyPath == "model.name" }
        XCTAssertEqual(model?.location?.line, 8)
        XCTAssertTrue(model?.fix.contains("densenet121") ?? false, "\(String(describing: model))")
        let name = found.first { $0.keyPath == "matrix.name" }
        XCTAssertTrue(name?.problem.contains("cannot vary") ?? false, "\(found)")
        expectIssue(Self.minimal + "\nmatrix:\n  seed: [1, 1]", keyPath: "matrix.seed", contains: ["appears twice"])
        expectIssue(Self.minimal + "\nmatrix:\n  model: [densenet121]\n  model.name: [densenet169]",
                    keyPath: "matrix.model.name", contains: ["overlaps"])
    }

    func testMissingDataPath() {
        expectIssue(Self.minimal.replacingOccurrences(of: "path: data", with: "path: ../no/such/folder"),
                    keyPath: "data.path", contains: ["does not exist", "../no/such/folder", "--data PATH", "current directory"])
        expectIssue(Self.minimal.replacingOccurrences(of: "data:\n  path: data\n", with: "data:\n  size: 64\n"),
                    keyPath: "data.path", contains: ["missing", "path:"])
        expectIssue("name: t\ntraining: {epochs: 1}\nmodel: densenet121", keyPath: "data", contains: ["missing"])
        // A required setting written with no value is missing too (it used to drop the run without a word).
        expectIssue(Self.minimal.replacingOccurrences(of: "epochs: 2", with: "epochs:"), keyPath: "training.epochs",
                    contains: ["required setting is missing", "epochs: 10"])
    }

    func testSplitGroupAndTarget() throws {
        let grouped = Self.minimal.replacingOccurrences(of: "path: data", with: "path: data\n  split: {protocol: grouped, group: GROUP}")
        XCTAssertEqual(try parse(grouped.replacingOccurrences(of: "GROUP", with: "patient")).runs[0].config.data.split.group, .patient)
        XCTAssertEqual(try parse(grouped.replacingOccurrences(of: "GROUP", with: "{regex: '^(M|NM)\\d+'}"))
                        .runs[0].config.data.split.group, .regex("^(M|NM)\\d+"))
        expectIssue(grouped.replacingOccurrences(of: "GROUP", with: "pateint"), keyPath: "data.split.group",
                    contains: ["Did you mean 'patient'?", "regex"])
        expectIssue(grouped.replacingOccurrences(of: "GROUP", with: "{regex: '(unclosed'}"),
                    keyPath: "data.split.group.regex", contains: ["not a valid regular expression"])
        expectIssue(grouped.replacingOccurrences(of: ", group: GROUP", with: ""), keyPath: "data.split.group",
                    contains: ["required when protocol is grouped", "group: photo"])
        expectIssue(Self.minimal.replacingOccurrences(of: "path: data", with: "path: data\n  split: {protocol: randm}"),
                    keyPath: "data.split.protocol", contains: ["Did you mean 'random'?"])
        // Folder names other than train/ and test/ are refused when the file is read, not when a run starts.
        let folders = Self.minimal.replacingOccurrences(of: "path: data", with: "path: data\n  split: {protocol: folders, DIRS}")
        expectIssue(folders.replacingOccurrences(of: "DIRS", with: "train_dir: training"), keyPath: "data.split.train_dir",
                    contains: ["sub-folder `train/`", "'training'", "Rename"])
        expectIssue(folders.replacingOccurrences(of: "DIRS", with: "test_dir: holdout"), keyPath: "data.split.test_dir",
                    contains: ["sub-folder `test/`", "'holdout'"])
        XCTAssertEqual(try parse(folders.replacingOccurrences(of: "DIRS", with: "train_dir: train, test_dir: test"))
                        .runs[0].config.data.split.trainDir, "train", "the defaults may be spelled out")

        XCTAssertEqual(try parse(Self.minimal + "\ntarget: test_acc >= 91%").target, Target(testAccuracy: 0.91))
        XCTAssertEqual(try parse(Self.minimal).target, .course, "no target: the course's 89%")
        XCTAssertEqual(Target.course.isMet(byTestAccuracy: 0.89), true)
        XCTAssertEqual(Target.course.isMet(byTestAccuracy: 0.8899), false)
        // The report counts test accuracy reaching at least the value; any other goal would be checked wrongly.
        for other in ["test_loss <= 0.3", "train_acc >= 0.9", "test_acc > 0.89", "test_accuracy >= 0.9"] {
            expectIssue(Self.minimal + "\ntarget: \(other)", keyPath: "target",
                        contains: ["cannot be a target", "`target: test_acc >= NUMBER`"])
        }
        expectIssue(Self.minimal + "\ntarget: test_acc >= 1.5", keyPath: "target", contains: ["outside [0, 1]"])
        expectIssue(Self.minimal + "\ntarget: good enough", keyPath: "target", contains: ["test_acc >= 0.89"])
    }

    func testSeveralProblemsAreReportedTogetherInFileOrder() {
        let found = issues("""
            name: t
            data: {path: data}
            training:
              epochs: 0
              batch_size: -1
            model: densenet999
            """)
        XCTAssertEqual(found.map(\.keyPath), ["training.epochs", "training.batch_size", "model.name"])
        XCTAssertEqual(found.map { $0.location?.line }, [4, 5, 6])
    }

    func testYAMLSyntaxErrorsHaveLineAndColumn() {
        func syntax(_ text: String) -> (Int, Int, String)? {
            do {
                _ = try parse(text)
            } catch let ExperimentError.syntax(file, line, column, problem) {
                XCTAssertEqual(file, "t.yaml")
                return (line, column, problem)
            } catch {
                XCTFail("unexpected \(error)")
            }
            return nil
        }
        let unclosed = syntax("name: t\ntraining:\n  epochs: [1, 2\nmodel: densenet121\n")
        XCTAssertNotNil(unclosed)
        XCTAssertEqual(unclosed?.0, 4)
        let badIndent = syntax("name: t\ndata:\n  path: x\n size: 3\n")
        XCTAssertEqual(badIndent?.0, 4)
        XCTAssertEqual(badIndent?.1, 2)
        let duplicate = syntax("name: t\nname: u\n")
        XCTAssertTrue(duplicate?.2.contains("duplicate key 'name'") ?? false, "\(String(describing: duplicate))")
        let tab = syntax("name: t\ndata:\n\tpath: x\n")
        XCTAssertEqual(tab?.0, 3)
        let message = ExperimentError.syntax(file: "f.yaml", line: 4, column: 2, problem: "p").description
        XCTAssertTrue(message.hasPrefix("f.yaml:4:2:"), message)
    }

    func testEmptyAndNonMappingFiles() {
        expectIssue("", keyPath: "", contains: ["empty"])
        expectIssue("- a\n- b\n", keyPath: "", contains: ["expected `key: value`"])
        XCTAssertThrowsError(try Experiment.load(file: dir.appendingPathComponent("absent.yaml").path)) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
    }

    /// Every shipped experiment file loads; the honest protocol holds test patients out of training.
    func testShippedExperimentFilesLoad() throws {
        let folder = packageRoot.appendingPathComponent("experiments")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 4)
        for file in files {
            let e = try Experiment.load(file: folder.appendingPathComponent(file).path, options: .init(checkDataExists: false))
            XCTAssertFalse(e.runs.isEmpty, file)
        }
        let transfer = try Experiment.load(file: folder.appendingPathComponent("transfer.yaml").path,
                                           options: .init(checkDataExists: false))
        XCTAssertEqual(transfer.runs.count, 24)
        XCTAssertEqual(Set(transfer.runs.map(\.config.model.name)).count, 8)
        XCTAssertEqual(try transfer.runs(matching: [], shard: Shard(index: 0, count: 3)).map(\.config.seed), Array(repeating: 1, count: 8),
                       "shard 0/3 is seed 1 of every model")
        let grouped = try Experiment.load(file: folder.appendingPathComponent("monkeypox-grouped.yaml").path,
                                          options: .init(checkDataExists: false))
        XCTAssertEqual(grouped.runs.count, 6)
        XCTAssertEqual(grouped.runs[0].config.data.split.protocol, .grouped)
        XCTAssertEqual(grouped.runs[0].config.data.split.group, .patient)
    }
}

/// `report:` is read into the experiment, not into any run: it changes no configuration hash.
final class ReportSettingsTests: XCTestCase {
    func testReportSectionIsReadAndLeavesHashesAlone() throws {
        let base = """
            name: r
            data: {path: /nowhere, size: 32}
            training: {epochs: 1}
            model: densenet121
            matrix: {seed: [1]}
            """
        var options = Experiment.LoadOptions(checkDataExists: false)
        options.storedText = false
        let plain = try Experiment.parse(text: base, file: "r.yaml", options: options)
        let withReport = try Experiment.parse(text: base + "\nreport: {positive_class: Others, baseline: densenet121}\n",
                                              file: "r.yaml", options: options)
        XCTAssertEqual(plain.report, ReportSettings())
        XCTAssertEqual(withReport.report, ReportSettings(positiveClass: "Others", baseline: "densenet121"))
        XCTAssertEqual(plain.runs.map(\.configHash), withReport.runs.map(\.configHash))
        XCTAssertThrowsError(try Experiment.parse(text: base + "\nreport: {positive: Others}\n", file: "r.yaml",
                                                  options: options)) { error in
            XCTAssertTrue("\(error)".contains("report.positive"), "\(error)")
        }
        XCTAssertEqual(PositiveClass.index(nil, in: ["Chickenpox", "Monkeypox", "Others"]), 1)
        XCTAssertEqual(PositiveClass.index("others", in: ["Chickenpox", "Monkeypox", "Others"]), 2)
        XCTAssertNil(PositiveClass.index("cats", in: ["Chickenpox", "Monkeypox"]))
        XCTAssertEqual(PositiveClass.index(nil, in: ["a", "b", "c"]), 1)
    }
}

/// `tracking:` is read into the experiment, not into any run; a bad address fails the file, naming the key.
final class TrackingSettingsTests: XCTestCase {
    static let base = """
        name: t
        data: {path: /nowhere, size: 32}
        training: {epochs: 1}
        model: densenet121
        matrix: {seed: [1, 2]}
        """

    func parse(_ text: String) throws -> Experiment {
        try Experiment.parse(text: text, file: "t.yaml", options: .init(checkDataExists: false))
    }

    func testTrackingSectionIsReadAndLeavesHashesAlone() throws {
        let plain = try parse(Self.base)
        let tracked = try parse(Self.base + "\ntracking: {mlflow: 'http://127.0.0.1:5000'}\n")
        XCTAssertEqual(plain.tracking, TrackingSettings())
        XCTAssertEqual(tracked.tracking, TrackingSettings(mlflow: "http://127.0.0.1:5000"))
        XCTAssertEqual(plain.runs.map(\.configHash), tracked.runs.map(\.configHash))
        XCTAssertEqual(plain.runs.map(\.canonicalJSON), tracked.runs.map(\.canonicalJSON))
    }

    func testBadTrackingNamesTheKey() {
        for (text, expected) in [
            ("tracking: {mlflow: 'file:///tmp/mlruns'}", "tracking.mlflow"),
            ("tracking: {mlflow: 'sqlite:///mlflow.db'}", "tracking.mlflow"),
            ("tracking: {mlflow: [1, 2]}", "tracking.mlflow"),
            ("tracking: {mlfow: 'http://127.0.0.1:5000'}", "tracking.mlfow"),
            ("tracking: http://127.0.0.1:5000", "tracking"),
            ("matrix: {tracking.mlflow: ['http://a:1', 'http://b:2']}", "matrix.tracking.mlflow"),
        ] {
            let text = text.hasPrefix("matrix") ? Self.base.replacingOccurrences(of: "matrix: {seed: [1, 2]}", with: text)
                : Self.base + "\n" + text + "\n"
            XCTAssertThrowsError(try parse(text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text):\n\(error)")
            }
        }
    }
}
