import AblateCore
import Foundation
import Store
import XCTest

/// `model.init_from` through the real binary: a run starts from a PyTorch checkpoint, prints and stores the load
/// report, and the file's SHA-256 is part of its configuration hash; missing, changed and broken files are errors
/// that name the file and what to do.
extension EndToEndTests {
    static let tinyDenseNet = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference/pretrained")

    /// The tiny DenseNet of ../shared/reference/pretrained (growth 8, blocks 2-2-2-2, 16 stem channels, 10 classes
    /// in the file) trained for one epoch on 2 synthetic classes, starting from `weights`.
    func writeInitFromExperiment(_ name: String, weights: String) throws -> String {
        let text = """
            name: \(name)
            data:
              path: data
              synthesize: {classes: 2, per_class: 16, size: 64}
              size: 64
              split: {protocol: stratified, test_fraction: 0.25}
            training:
              epochs: 1
              batch_size: 8
              optimizer: {name: adam, lr: 0.0001}
              threads: 1
            model:
              name: custom
              growth_rate: 8
              block_config: [2, 2, 2, 2]
              init_channels: 16
              init_from: \(weights)
            """
        let file = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func testInitFromLoadsReportsAndHashesTheWeightFile() throws {
        let source = Self.tinyDenseNet.appendingPathComponent("tiny_densenet_legacy_format.pth")
        guard FileManager.default.fileExists(atPath: source.path) else { throw XCTSkip("\(source.path) is missing") }
        let weights = dir.appendingPathComponent("weights.pth")
        try FileManager.default.copyItem(at: source, to: weights)
        let file = try writeInitFromExperiment("pretrained", weights: "weights.pth")

        let dry = try run(["run", file, "--dry-run", "--json", "--db", "p.sqlite"])
        XCTAssertEqual(dry.status, 0, dry.output)
        let sha = SHA256.hex(bytes: [UInt8](try Data(contentsOf: weights)))
        XCTAssertTrue(dry.output.contains(sha), "the configuration names the file's SHA-256: \(dry.output.prefix(3000))")

        let result = try run(["run", file, "--db", "p.sqlite", "--runs-dir", "runs-p"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("starting weights"), result.output)
        XCTAssertTrue(result.output.contains("from weights.pth") || result.output.contains("weights.pth"), result.output)
        XCTAssertTrue(result.output.contains("classifier"), "the load report says the classifier starts fresh: \(result.output)")
        let store = try RunStore(path: dir.appendingPathComponent("p.sqlite").path, create: false)
        let record = try XCTUnwrap(store.listRuns().first?.run)
        XCTAssertEqual(record.status, .finished)
        XCTAssertTrue(record.configJSON.contains("\"init_from_sha256\":\"\(sha)\""), record.configJSON)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(record.initReportJSON).utf8)) as? [String: Any])
        XCTAssertEqual(report["sha256"] as? String, sha)
        XCTAssertEqual(report["format"] as? String, "torch-legacy")
        let fresh = try XCTUnwrap(report["fresh"] as? [[String: Any]])
        XCTAssertEqual(fresh.map { $0["reason"] as? String }, ["class-count"], "10 classes in the file, 2 here")
        XCTAssertEqual(fresh.first?["tensors"] as? [String], ["classifier.weight", "classifier.bias"])
        XCTAssertGreaterThan((report["loaded"] as? [Any])?.count ?? 0, 40)
        // Exports carry the report; a merge puts it back.
        XCTAssertEqual(try run(["export", "--db", "p.sqlite", "--format", "json", "-o", "p.json"]).status, 0)
        XCTAssertEqual(try run(["merge", "p.json", "--into", "m.sqlite"]).status, 0)
        let merged = try RunStore(path: dir.appendingPathComponent("m.sqlite").path, create: false)
        XCTAssertEqual(try merged.listRuns().first?.run.initReportJSON, record.initReportJSON)

        // Other bytes under the same name: another configuration (another hash), never the finished run.
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: weights)
        let changed = try run(["run", file, "--dry-run", "--db", "p.sqlite"])
        XCTAssertEqual(changed.status, 0, changed.output)
        XCTAssertTrue(changed.output.contains("new"), "a changed weight file is a new configuration: \(changed.output)")
        XCTAssertFalse(changed.output.contains(record.configHash.prefix(12)), changed.output)
    }

    func testInitFromErrorsNameTheFile() throws {
        // Missing: refused when the experiment is read, with the resolved path.
        let missing = try run(["run", try writeInitFromExperiment("missing", weights: "nowhere.pth"), "--db", "x.sqlite"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("model.init_from: cannot read the weight file"), missing.output)
        XCTAssertTrue(missing.output.contains("nowhere.pth"), missing.output)

        // Empty and not a checkpoint: the run fails with the file's name and the reader's reason.
        try Data().write(to: dir.appendingPathComponent("empty.pth"))
        let empty = try run(["run", try writeInitFromExperiment("empty", weights: "empty.pth"), "--db", "e.sqlite",
                             "--runs-dir", "runs-e"])
        XCTAssertTrue(empty.output.contains("model.init_from:") && empty.output.contains("empty.pth"), empty.output)
        XCTAssertTrue(empty.output.contains("FAILED"), empty.output)

        // Another architecture (a ResNet file into the DenseNet): the first tensor that does not fit.
        let resnet = Self.tinyDenseNet.appendingPathComponent("tiny_resnet_basic.safetensors")
        guard FileManager.default.fileExists(atPath: resnet.path) else { throw XCTSkip("\(resnet.path) is missing") }
        let wrong = try run(["run", try writeInitFromExperiment("wrong", weights: resnet.path), "--db", "w.sqlite",
                             "--runs-dir", "runs-w"])
        XCTAssertTrue(wrong.output.contains("does not fit"), wrong.output)
        let store = try RunStore(path: dir.appendingPathComponent("w.sqlite").path, create: false)
        XCTAssertEqual(try store.listRuns().first?.run.status, .failed)
    }
}
