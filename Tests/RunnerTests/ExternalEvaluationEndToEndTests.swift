import Foundation
import Store
import XCTest

/// `ablate evaluate` with the real binary: scores, stored rows, the report section, the audit and bad folders.
extension EndToEndTests {
    func testEvaluateScoresAnExternalFolderAndTheReportShowsIt() throws {
        let file = try writeExperiment("external", epochs: 2, matrix: "  model.name: [custom, custom-se4]\n  seed: [1, 2]")
        let trained = try run(["run", file, "--db", "e.sqlite"])
        XCTAssertEqual(trained.status, 0, trained.output)
        let synth = try run(["data", "synth", "--out", "ext", "--per-class", "6", "--size", "32", "--seed", "9"])
        XCTAssertEqual(synth.status, 0, synth.output)
        // Two training images of every run (the split is shared) copied in under new names: the audit finds them.
        let store = try RunStore(path: dir.appendingPathComponent("e.sqlite").path, create: false)
        let testFiles = Set(try store.predictions(runID: 1, kind: .last).map { URL(fileURLWithPath: $0.prediction.file).lastPathComponent })
        let class0 = dir.appendingPathComponent("data/class0")
        let training = try FileManager.default.contentsOfDirectory(atPath: class0.path).sorted()
            .filter { !testFiles.contains($0) && !$0.hasPrefix(".") }
        for (n, name) in training.prefix(2).enumerated() {
            try FileManager.default.copyItem(at: class0.appendingPathComponent(name),
                                             to: dir.appendingPathComponent("ext/class0/copied-\(n).\((name as NSString).pathExtension)"))
        }

        let evaluated = try run(["evaluate", "ext", "--experiment", "external", "--db", "e.sqlite"])
        XCTAssertEqual(evaluated.status, 0, evaluated.output)
        XCTAssertTrue(evaluated.output.contains("2 byte-identical") && evaluated.output.contains("NOT an external test"),
                      evaluated.output)

        // Every stored number follows from the stored per-image rows, computed here by hand.
        var lastAccuracy: [String: [Double]] = [:]
        for summary in try store.listRuns() {
            let tests = try store.externalTests(runID: summary.run.id)
            XCTAssertEqual(tests.map(\.weights), [.best, .last])
            for t in tests {
                XCTAssertEqual(t.images, 14)
                XCTAssertEqual(t.positiveClass, "class1")
                let p = t.predictions
                let correct = p.filter { ($0.probabilities[1] > $0.probabilities[0] ? 1 : 0) == $0.label }.count
                XCTAssertEqual(t.accuracy, Double(correct) / 14, accuracy: 1e-12)
                let tp = p.filter { $0.label == 1 && $0.predicted == 1 }.count, fn = p.filter { $0.label == 1 && $0.predicted == 0 }.count
                let tn = p.filter { $0.label == 0 && $0.predicted == 0 }.count, fp = p.filter { $0.label == 0 && $0.predicted == 1 }.count
                XCTAssertEqual(t.sensitivity!, Double(tp) / Double(tp + fn), accuracy: 1e-12)
                XCTAssertEqual(t.specificity!, Double(tn) / Double(tn + fp), accuracy: 1e-12)
                var wins = 0.0
                for a in p where a.label == 1 {
                    for b in p where b.label == 0 {
                        wins += a.probabilities[1] > b.probabilities[1] ? 1 : a.probabilities[1] == b.probabilities[1] ? 0.5 : 0
                    }
                }
                XCTAssertEqual(t.rocAUC!, wins / Double(6 * 8), accuracy: 1e-12)
                XCTAssertTrue(t.auditJSON.contains("\"test_byte_identical_in_train\":2"), t.auditJSON)
                if t.weights == .last {
                    XCTAssertEqual(t.epoch, 2)
                    let model = summary.run.label.contains("se4") ? "custom-se4" : "custom"
                    lastAccuracy[model, default: []].append(t.accuracy)
                }
            }
        }
        // The selected weights (here, with `select: last`, the last epoch's) give what `ablate predict` (its own
        // loading and batching) gives for the same files.
        let best = try XCTUnwrap(store.externalTests(runID: 1).first { $0.weights == .last })
        let files = best.predictions.prefix(3).map(\.file)
        let predicted = try run(["predict", "--run", "1", "--db", "e.sqlite", "--json"] + files)
        XCTAssertEqual(predicted.status, 0, predicted.output)
        let decoded = try JSONSerialization.jsonObject(with: Data(predicted.output.utf8)) as! [[String: Any]]
        for (row, stored) in zip(decoded, best.predictions.prefix(3)) {
            let probabilities = row["probabilities"] as! [String: Double]
            XCTAssertEqual(probabilities["class1"]!, stored.probabilities[1], accuracy: 1e-5)
        }

        let report = try run(["report", "--db", "e.sqlite", "--out", "rep"])
        XCTAssertEqual(report.status, 0, report.output)
        let readme = try String(contentsOf: dir.appendingPathComponent("rep/README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("## External test") && readme.contains("### ext"), readme)
        XCTAssertTrue(readme.contains("**Not an external test:**"), readme)
        XCTAssertTrue(readme.contains("Δ accuracy on ext (last-epoch weights)"), readme)
        for (model, values) in lastAccuracy {
            let mean = values.reduce(0, +) / Double(values.count)
            let row = readme.split(separator: "\n").first { $0.hasPrefix("| \(model) ") && $0.contains("last (epoch 2)") }
            XCTAssertTrue(row?.contains(String(format: "%.3f ±", mean)) ?? false, "\(model): \(row ?? "no row")")
        }

        // Export → merge → report gives the same section.
        XCTAssertEqual(try run(["export", "--db", "e.sqlite", "--format", "json", "--output", "runs.json"]).status, 0)
        XCTAssertEqual(try run(["merge", "runs.json", "--into", "m.sqlite"]).status, 0)
        XCTAssertEqual(try run(["report", "--db", "m.sqlite", "--out", "rep2"]).status, 0)
        let rebuilt = try String(contentsOf: dir.appendingPathComponent("rep2/README.md"), encoding: .utf8)
        XCTAssertEqual(readme.split(separator: "\n").filter { !$0.hasPrefix("Generated at") },
                       rebuilt.split(separator: "\n").filter { !$0.hasPrefix("Generated at") })
    }

    func testEvaluateRefusesFoldersWhoseClassesDifferAndStoresNothing() throws {
        let file = try writeExperiment("external-bad", epochs: 1, matrix: "  seed: [1]")
        XCTAssertEqual(try run(["run", file, "--db", "b.sqlite"]).status, 0)
        let synth = try run(["data", "synth", "--out", "ext", "--per-class", "3", "--size", "32", "--seed", "5"])
        XCTAssertEqual(synth.status, 0, synth.output)
        try FileManager.default.moveItem(at: dir.appendingPathComponent("ext/class1"), to: dir.appendingPathComponent("ext/Others"))
        let renamed = try run(["evaluate", "ext", "--run", "1", "--db", "b.sqlite"])
        XCTAssertNotEqual(renamed.status, 0)
        XCTAssertTrue(renamed.output.contains("no folder for class1") && renamed.output.contains("Others are not classes"),
                      renamed.output)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("ext/Others"))
        let missing = try run(["evaluate", "ext", "--run", "1", "--db", "b.sqlite"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("no folder for class1"), missing.output)
        XCTAssertFalse(missing.output.contains("train a classifier"), missing.output)
        let both = try run(["evaluate", "ext", "--run", "1", "--experiment", "external-bad", "--db", "b.sqlite"])
        XCTAssertTrue(both.output.contains("either --run ID"), both.output)
        let elsewhere = try run(["evaluate", "ext", "--run", "1", "--db", "b.sqlite", "--data", "moved-away"])
        XCTAssertTrue(elsewhere.output.contains("pass --data PATH"), elsewhere.output)
        let store = try RunStore(path: dir.appendingPathComponent("b.sqlite").path, create: false)
        XCTAssertTrue(try store.externalTests(runID: 1).isEmpty)
    }

    /// `evaluate` and `predict` score only a run's own weights: run 2's files copied over run 1's folder are
    /// refused (and nothing is stored), as `ablate run` refuses to resume from them.
    func testEvaluateAndPredictRefuseWeightsOfAnotherRun() throws {
        let file = try writeExperiment("external-foreign", epochs: 1, matrix: "  seed: [1, 2]")
        XCTAssertEqual(try run(["run", file, "--db", "f.sqlite"]).status, 0)
        XCTAssertEqual(try run(["data", "synth", "--out", "ext", "--per-class", "3", "--size", "32", "--seed", "5"]).status, 0)
        let store = try RunStore(path: dir.appendingPathComponent("f.sqlite").path, create: false)
        let folders = try [1, 2].map { id in
            URL(fileURLWithPath: try XCTUnwrap(store.run(id: id).checkpointPath)).deletingLastPathComponent()
        }
        let image = try XCTUnwrap(FileManager.default.enumerator(atPath: dir.appendingPathComponent("ext/class0").path)?
            .compactMap { $0 as? String }.first { !$0.hasPrefix(".") })
        XCTAssertEqual(try run(["predict", "--run", "1", "--db", "f.sqlite", "ext/class0/\(image)"]).status, 0,
                       "its own weights are scored")
        for name in ["checkpoint.safetensors", "best.safetensors"] {
            let own = folders[0].appendingPathComponent(name)
            try FileManager.default.removeItem(at: own)
            try FileManager.default.copyItem(at: folders[1].appendingPathComponent(name), to: own)
        }
        for args in [["evaluate", "ext", "--run", "1", "--db", "f.sqlite"],
                     ["predict", "--run", "1", "--db", "f.sqlite", "ext/class0/\(image)"]] {
            let refused = try run(args)
            XCTAssertNotEqual(refused.status, 0, args.joined(separator: " "))
            XCTAssertTrue(refused.output.contains("are not this run's") && refused.output.contains("the weights of another configuration"),
                          refused.output)
        }
        XCTAssertTrue(try store.externalTests(runID: 1).isEmpty)
        XCTAssertEqual(try run(["evaluate", "ext", "--run", "2", "--db", "f.sqlite"]).status, 0, "run 2's own are fine")
        // A store merged from this one records the same folders under its own store id and run ids: its run 2 is
        // the same configuration with the same epochs, so its weights are scored there too.
        XCTAssertEqual(try run(["merge", "f.sqlite", "--into", "merged.sqlite"]).status, 0)
        let merged = try run(["evaluate", "ext", "--run", "2", "--db", "merged.sqlite"])
        XCTAssertEqual(merged.status, 0, merged.output)
    }
}
