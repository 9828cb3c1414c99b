import AblateCore
import Engine
import Foundation
import Runner
import Store
import XCTest

/// `ablate run` as a user runs it: real child processes, real signals, one SQLite file.
final class EndToEndTests: XCTestCase {
    var dir: URL!

    /// The `ablate` executable built next to the test bundle (`swift build --build-tests` builds both).
    static let ablate: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("ablate").path) && url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("ablate")
    }()

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.ablate.path) else {
            throw XCTSkip("the ablate executable is not built next to the tests (\(Self.ablate.path)): run `swift build --build-tests` first")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-e2e-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// A small experiment on synthetic data; `extra` is appended to the YAML.
    func writeExperiment(_ name: String, epochs: Int, matrix: String, perClass: Int = 24, size: Int = 32) throws -> String {
        let text = """
            name: \(name)
            data:
              path: data
              synthesize: {classes: 2, per_class: \(perClass), size: \(size)}
              size: \(size)
              split: {protocol: stratified, test_fraction: 0.25}
              augment: {hflip: true}
            training:
              epochs: \(epochs)
              batch_size: 8
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              threads: 1
            model:
              name: custom
              growth_rate: 4
              block_config: [2, 2]
              init_channels: 8
              drop_rate: 0.1
            matrix:
            \(matrix)
            """
        let file = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @discardableResult
    func start(_ args: [String], output: URL? = nil) throws -> Process {
        let p = Process()
        p.executableURL = Self.ablate
        p.arguments = args
        p.currentDirectoryURL = dir
        let out = output ?? dir.appendingPathComponent("out-\(UUID()).log")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    func run(_ args: [String]) throws -> (status: Int32, output: String) {
        let log = dir.appendingPathComponent("run-\(UUID()).log")
        let p = try start(args, output: log)
        p.waitUntilExit()
        return (p.terminationStatus, try String(contentsOf: log, encoding: .utf8))
    }

    func epochs(_ db: String) throws -> [[Double]] {
        let store = try RunStore(path: dir.appendingPathComponent(db).path, create: false)
        return try store.listRuns().flatMap { s in
            try store.epochs(runID: s.run.id).map { e in
                [Double(s.run.seed ?? 0), Double(e.metrics.epoch), e.metrics.trainLoss, e.metrics.trainAccuracy,
                 e.metrics.testLoss ?? .nan, e.metrics.testAccuracy ?? .nan, e.metrics.learningRate]
            }
        }
    }

    /// Waits until the store holds `n` epochs; fails early (with the process's output) if `process` exits first.
    func waitForEpochs(_ db: String, atLeast n: Int, process: Process? = nil, log: URL? = nil, timeout: TimeInterval = 120) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let path = dir.appendingPathComponent(db).path
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path), let count = try? epochs(db).count, count >= n { return }
            if let process, !process.isRunning {
                let output = log.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
                XCTFail("the run exited (status \(process.terminationStatus)) before \(n) epochs were recorded:\n\(output)")
                return
            }
            usleep(20_000)
        }
        XCTFail("no \(n) epochs recorded in \(timeout) s")
    }

    /// Killed with SIGKILL at several moments (mid-epoch, possibly mid-checkpoint) and resumed each time, a run
    /// finishes with exactly the per-epoch metrics of an uninterrupted run, bit for bit. Each restart comes at once,
    /// with the default --stale-after (10 minutes): the killed process is seen to be gone (`LeaseHolder`), so its
    /// run is resumed instead of being left to a process that no longer exists.
    func testKillNineAndResumeIsBitIdentical() throws {
        let file = try writeExperiment("resume", epochs: 10, matrix: "  seed: [7]")
        let reference = try run(["run", file, "--db", "full.sqlite", "--runs-dir", "runs-full"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expected = try epochs("full.sqlite")
        XCTAssertEqual(expected.count, 10)

        for kill in 1...3 {
            // Kill each process right after it records one new epoch (then a little later each time): it is in
            // the middle of the next epoch or of writing the checkpoint that follows the record.
            let before = FileManager.default.fileExists(atPath: dir.appendingPathComponent("killed.sqlite").path)
                ? try epochs("killed.sqlite").count : 0
            let log = dir.appendingPathComponent("kill-\(kill).log")
            let p = try start(["run", file, "--db", "killed.sqlite", "--runs-dir", "runs-killed"], output: log)
            try waitForEpochs("killed.sqlite", atLeast: before + 1, process: p, log: log)
            usleep(useconds_t((kill - 1) * 7_000))
            Darwin_kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run finished before it could be killed")
            let status = try run(["status", "--db", "killed.sqlite"])
            XCTAssertTrue(status.output.contains("running (its process exited; the next `ablate run` resumes it)"), status.output)
        }
        let resumed = try run(["run", file, "--db", "killed.sqlite", "--runs-dir", "runs-killed"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming after epoch"), resumed.output)
        let got = try epochs("killed.sqlite")
        XCTAssertEqual(got.count, expected.count)
        for (a, b) in zip(expected, got) {
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "epoch \(a[1]) differs after kill -9 and resume")
        }
        let store = try RunStore(path: dir.appendingPathComponent("killed.sqlite").path, create: false)
        XCTAssertEqual(try store.listRuns().map(\.run.status), [.finished])
        // Each run names the backend it ran on (numbers are bit-reproducible on that backend).
        XCTAssertEqual(try store.listRuns().first?.run.ablateVersion,
                       Backend.winogradAvailable ? "0.1.0 (onednn+winograd)" : "0.1.0 (onednn)")
        // …and the machine: one entry although the run was started several times on it (kill -9, resume).
        let machines = try XCTUnwrap(store.listRuns().first?.run.machines())
        XCTAssertEqual(machines.count, 1, "\(machines)")
        XCTAssertEqual(machines.first?.isa, ProcessorInfo.isa)
        XCTAssertEqual(machines.first?.cpu, ProcessorInfo.modelName)
        XCTAssertEqual(machines.first?.backend, Backend.description)
        XCTAssertEqual(machines.first?.onednn?.hasPrefix(Libraries.oneDNN), true)
        XCTAssertEqual(machines.first?.openblas?.first?.isNumber, true, "\(String(describing: machines.first?.openblas))")
        let status = try run(["status", "--db", "killed.sqlite", "--json"])
        XCTAssertEqual(status.status, 0, status.output)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
        let listed = try XCTUnwrap((doc["runs"] as? [[String: Any]])?.first?["machines"] as? [[String: Any]])
        XCTAssertEqual(listed.count, 1)
        for key in ["cpu", "isa", "logical_cpus", "threads", "memory_gib", "onednn", "openblas", "backend"] {
            XCTAssertNotNil(listed.first?[key], "status --json names \(key): \(listed)")
        }
        XCTAssertEqual(listed.first?["threads"] as? Int, 1, "the experiment trains with one thread")
    }

    /// SIGINT stops at a batch boundary, keeps the checkpoint, marks the run interrupted, says how to resume and
    /// exits non-zero; running again finishes it with the same metrics as an uninterrupted run.
    func testSigintInterruptsAndResumes() throws {
        let file = try writeExperiment("sigint", epochs: 10, matrix: "  seed: [3]")
        let p = try start(["run", file, "--db", "s.sqlite"], output: dir.appendingPathComponent("sigint.log"))
        try waitForEpochs("s.sqlite", atLeast: 1, process: p, log: dir.appendingPathComponent("sigint.log"))
        Darwin_kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        let log = try String(contentsOf: dir.appendingPathComponent("sigint.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("resume with: ablate run"), log)
        let store = try RunStore(path: dir.appendingPathComponent("s.sqlite").path, create: false)
        let stopped = try XCTUnwrap(store.listRuns().first)
        XCTAssertEqual(stopped.run.status, .interrupted)
        XCTAssertTrue(FileManager.default.fileExists(atPath: try XCTUnwrap(stopped.run.checkpointPath)))

        let again = try run(["run", file, "--db", "s.sqlite"])
        XCTAssertEqual(again.status, 0, again.output)
        let reference = try run(["run", file, "--db", "ref.sqlite", "--runs-dir", "runs-ref"])
        XCTAssertEqual(reference.status, 0)
        XCTAssertEqual(try epochs("s.sqlite").map { $0.map(\.bitPattern) }, try epochs("ref.sqlite").map { $0.map(\.bitPattern) })
    }

    /// Two processes start the same matrix on one database at once: every run is done exactly once.
    func testConcurrentRunnersNeverRunTwice() throws {
        let file = try writeExperiment("pair", epochs: 2, matrix: "  seed: [1, 2, 3, 4, 5, 6]", perClass: 12)
        // Synthesise the data first so the two processes do not race to write the same files.
        XCTAssertEqual(try run(["data", "synth", "--out", dir.appendingPathComponent("data").path, "--classes", "2",
                                "--per-class", "12", "--size", "32", "--seed", "0"]).status, 0)
        let a = try start(["run", file, "--db", "shared.sqlite"]), b = try start(["run", file, "--db", "shared.sqlite"])
        a.waitUntilExit(); b.waitUntilExit()
        let logs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("out-") }
            .map { try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }.joined(separator: "\n---\n")
        XCTAssertEqual(a.terminationStatus, 0, logs); XCTAssertEqual(b.terminationStatus, 0, logs)
        let store = try RunStore(path: dir.appendingPathComponent("shared.sqlite").path, create: false)
        let runs = try store.listRuns()
        XCTAssertEqual(runs.count, 6)
        for r in runs {
            XCTAssertEqual(r.run.status, .finished)
            XCTAssertEqual(r.run.attempts, 1, "run \(r.run.id) was claimed more than once")
            XCTAssertEqual(try store.epochs(runID: r.run.id).count, 2)
        }
        // Finished configurations are skipped on the next invocation.
        let again = try run(["run", file, "--db", "shared.sqlite"])
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.output.contains("nothing to do"), again.output)
    }

    /// A diverging configuration is marked failed with its epoch; the matrix goes on.
    func testDivergenceFailsOneRunAndTheMatrixGoesOn() throws {
        let file = try writeExperiment("div", epochs: 2, matrix: "  training.optimizer.lr: [1e38, 0.05]", perClass: 12)
        let r = try run(["run", file, "--db", "d.sqlite"])
        XCTAssertEqual(r.status, 1, r.output)
        let store = try RunStore(path: dir.appendingPathComponent("d.sqlite").path, create: false)
        let runs = try store.listRuns()
        XCTAssertEqual(runs.map(\.run.status), [.failed, .finished])
        XCTAssertEqual(runs[0].run.errorMessage?.hasPrefix("diverged at epoch 1"), true, runs[0].run.errorMessage ?? "")
    }

    /// The SE-transfer models train end to end: a tiny ResNet (basic), a tiny SE-ResNet (bottleneck) and a tiny
    /// DenseNet with SE at each placement, each for two epochs with a checkpoint per epoch; then a prediction
    /// from a ResNet's best weights and the report.
    func testTransferModelsTrainEndToEnd() throws {
        let text = """
            name: transfer-tiny
            data:
              path: data
              synthesize: {classes: 2, per_class: 12, size: 32}
              size: 32
              split: {protocol: stratified, test_fraction: 0.25}
            training:
              epochs: 2
              batch_size: 8
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              threads: 1
            model: resnet18
            matrix:
              model:
                - {name: resnet-custom, block: basic, layers: [1, 1], width: 8}
                - {name: resnet-custom-se4, block: bottleneck, layers: [1, 1], width: 4}
                - {name: custom-se2, growth_rate: 4, block_config: [2, 2], init_channels: 8}
                - {name: custom-se2-layer, growth_rate: 4, block_config: [2, 2], init_channels: 8}
                - {name: custom, growth_rate: 4, block_config: [2, 2], init_channels: 8, se_reduction: 2, se_placement: transition}
            """
        let file = dir.appendingPathComponent("transfer.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let r = try run(["run", file.path, "--db", "t.sqlite"])
        XCTAssertEqual(r.status, 0, r.output)
        let store = try RunStore(path: dir.appendingPathComponent("t.sqlite").path, create: false)
        let runs = try store.listRuns()
        XCTAssertEqual(runs.map(\.run.status), Array(repeating: .finished, count: 5), r.output)
        let names = try runs.map { try RunConfig.decode(json: $0.run.configJSON).model.name }
        XCTAssertEqual(names, ["resnet-custom", "resnet-custom-se4", "custom-se2", "custom-se2-layer", "custom-se2-transition"])
        for s in runs {
            let epochs = try store.epochs(runID: s.run.id)
            XCTAssertEqual(epochs.count, 2, names.joined())
            XCTAssertTrue(epochs.allSatisfy { $0.metrics.trainLoss.isFinite && ($0.metrics.testAccuracy ?? -1) >= 0 })
        }
        let image = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("data/class0").path)
            .filter { $0.hasSuffix(".jpg") }.sorted()[0]
        let predict = try run(["predict", "--db", "t.sqlite", "--run", "\(runs[1].run.id)", "data/class0/\(image)"])
        XCTAssertEqual(predict.status, 0, predict.output)
        XCTAssertTrue(predict.output.contains("class0 0."), predict.output)
        let report = try run(["report", "--db", "t.sqlite", "--out", "report"])
        XCTAssertEqual(report.status, 0, report.output)
        let readme = try String(contentsOf: dir.appendingPathComponent("report/README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("resnet-custom-se4, block: bottleneck"), readme)
    }

    /// The shipped demo, end to end, then its report: markdown tables and PNG figures that exist and decode.
    func testDemoExperimentAndReport() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let demo = root.appendingPathComponent("experiments/demo.yaml").path
        let r = try run(["run", demo, "--db", "demo.sqlite", "--only", "seed=1", "--only", "seed=2"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("target reached"), r.output)
        let report = try run(["report", "--db", "demo.sqlite", "--out", "report"])
        XCTAssertEqual(report.status, 0, report.output)
        let readme = try String(contentsOf: dir.appendingPathComponent("report/README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("## Comparison with custom"))
        XCTAssertTrue(readme.contains("| custom-se4"))
        for png in ["training_curves.png", "final_accuracy.png"] {
            let data = try Data(contentsOf: dir.appendingPathComponent("report/\(png)"))
            XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(png) is not a PNG")
            let width = data.subdata(in: 16..<20).reduce(0) { $0 << 8 | Int($1) }
            XCTAssertGreaterThan(width, 1000, png)
            XCTAssertGreaterThan(data.count, 20_000, "\(png) looks blank")
        }
        // The same database gives the same report, apart from its one "Generated at" line.
        XCTAssertEqual(try run(["report", "--db", "demo.sqlite", "--out", "report2", "--check-target"]).status, 0)
        let again = try String(contentsOf: dir.appendingPathComponent("report2/README.md"), encoding: .utf8)
        func body(_ s: String) -> [Substring] { s.split(separator: "\n").filter { !$0.hasPrefix("Generated at") } }
        XCTAssertEqual(body(readme), body(again))
        for f in ["training_curves.png", "final_accuracy.png", "epochs.csv"] {
            XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("report/\(f)")),
                           try Data(contentsOf: dir.appendingPathComponent("report2/\(f)")), f)
        }
        let unknown = try run(["report", "--db", "demo.sqlite", "--experiment", "nope"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains("no experiment named 'nope'"), unknown.output)
    }
}

/// `kill(2)` (named so it does not clash with XCTest helpers).
func Darwin_kill(_ pid: Int32, _ sig: Int32) { _ = Foundation.kill(pid, sig) }
