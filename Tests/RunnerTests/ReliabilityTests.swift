import Foundation
import Datasets
import Store
import XCTest

/// Reliability with the real binary: a runs folder from another store, many processes on a new store.
extension EndToEndTests {
    /// Shards of one matrix run with their own `--db` and one `--runs-dir`; each store's first run is run 1. An
    /// interrupted shard must still resume after another shard trained its own run 1 in the same runs folder.
    func testShardsSharingOneRunsFolderKeepTheirCheckpoints() throws {
        let file = try writeExperiment("shared", epochs: 8, matrix: "  seed: [1, 2]")
        let log = dir.appendingPathComponent("shard0.log")
        let p = try start(["run", file, "--shard", "0/2", "--db", "shard0.sqlite"], output: log)
        try waitForEpochs("shard0.sqlite", atLeast: 1, process: p, log: log)
        Darwin_kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0, "shard 0 finished before it could be interrupted")

        let other = try run(["run", file, "--shard", "1/2", "--db", "shard1.sqlite"])
        XCTAssertEqual(other.status, 0, other.output)
        XCTAssertFalse(other.output.contains("belongs to another"), other.output)
        let resumed = try run(["run", file, "--shard", "0/2", "--db", "shard0.sqlite"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming after epoch"), resumed.output)
        XCTAssertFalse(resumed.output.contains("belongs to another"), resumed.output)

        let folders = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("runs/shared").path)
        XCTAssertEqual(folders.filter { $0.hasPrefix("run-1-") }.count, 2, "one folder per configuration: \(folders)")
        let reference = try run(["run", file, "--db", "ref.sqlite", "--runs-dir", "runs-ref"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let shards = try epochs("shard0.sqlite") + epochs("shard1.sqlite")
        XCTAssertEqual(shards.map { $0.map(\.bitPattern) }, try epochs("ref.sqlite").map { $0.map(\.bitPattern) })
    }

    /// A run interrupted while run folders were named `run-<id>` resumes from that folder.
    func testInterruptedRunResumesFromItsFolderWithoutTheHash() throws {
        let file = try writeExperiment("legacy", epochs: 8, matrix: "  seed: [9]")
        let log = dir.appendingPathComponent("legacy.log")
        let p = try start(["run", file, "--db", "l.sqlite"], output: log)
        try waitForEpochs("l.sqlite", atLeast: 1, process: p, log: log)
        Darwin_kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0, "the run finished before it could be interrupted")
        let parent = dir.appendingPathComponent("runs/legacy")
        let folder = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: parent.path).first)
        try FileManager.default.moveItem(at: parent.appendingPathComponent(folder), to: parent.appendingPathComponent("run-1"))

        let again = try run(["run", file, "--db", "l.sqlite"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("resuming after epoch"), again.output)
        let store = try RunStore(path: dir.appendingPathComponent("l.sqlite").path, create: false)
        XCTAssertEqual(try store.listRuns().first?.run.checkpointPath,
                       parent.appendingPathComponent("run-1/checkpoint.safetensors").path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent.path), ["run-1"])
    }

    /// Deleting the database to start over leaves the runs folder: the new store's run 1 must not resume from the
    /// old store's run-1 checkpoint. The foreign checkpoint is moved aside with a message and the run starts fresh.
    func testForeignCheckpointIsSetAsideAndTheRunStartsFresh() throws {
        let file = try writeExperiment("foreign", epochs: 2, matrix: "  seed: [5]", perClass: 8)
        let first = try run(["run", file, "--db", "old.sqlite"])
        XCTAssertEqual(first.status, 0, first.output)
        let expected = try epochs("old.sqlite")
        XCTAssertEqual(expected.count, 2)
        let folders = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("runs/foreign").path)
        XCTAssertEqual(folders.count, 1)
        XCTAssertTrue(folders.first?.hasPrefix("run-1-") ?? false, "run-<id>-<config hash>: \(folders)")
        let runDir = dir.appendingPathComponent("runs/foreign").appendingPathComponent(folders.first ?? "?")
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir.appendingPathComponent("checkpoint.safetensors").path))

        try FileManager.default.removeItem(at: dir.appendingPathComponent("old.sqlite"))
        let again = try run(["run", file, "--db", "old.sqlite"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertFalse(again.output.contains("resuming after epoch"), again.output)
        XCTAssertTrue(again.output.contains("belongs to another run store"), again.output)
        let moved = try FileManager.default.contentsOfDirectory(atPath: runDir.path)
            .filter { $0.hasPrefix("checkpoint.safetensors.foreign-") }
        XCTAssertEqual(moved.count, 1, "the old checkpoint is kept, renamed aside")
        XCTAssertTrue(again.output.contains(moved.first ?? "?"), "the message says where it went: \(again.output)")
        // The run was trained again from scratch in the new store: every epoch is recorded, bit-identical.
        XCTAssertEqual(try epochs("old.sqlite").map { $0.map(\.bitPattern) }, expected.map { $0.map(\.bitPattern) })
    }
}

extension EndToEndTests {
    /// Eight `ablate run` processes started at once on a database that does not exist yet: one creates the store
    /// (schema and marker in one transaction), the others wait for it; none calls it another program's file.
    func testEightProcessesCreateOneStoreTogether() throws {
        let file = try writeExperiment("crowd", epochs: 1, matrix: "  seed: [1, 2, 3, 4, 5, 6, 7, 8]", perClass: 8)
        XCTAssertEqual(try run(["data", "synth", "--out", dir.appendingPathComponent("data").path, "--classes", "2",
                                "--per-class", "8", "--size", "32", "--seed", "0"]).status, 0)
        for trial in 1...4 {
            let db = "crowd-\(trial).sqlite"
            let logs = (0..<8).map { dir.appendingPathComponent("crowd-\(trial)-\($0).log") }
            let processes = try logs.map { try start(["run", file, "--db", db, "--runs-dir", "runs-\(trial)"], output: $0) }
            for p in processes { p.waitUntilExit() }
            for (p, log) in zip(processes, logs) {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                XCTAssertEqual(p.terminationStatus, 0, "trial \(trial): \(output)")
            }
            let store = try RunStore(path: dir.appendingPathComponent(db).path, create: false)
            let runs = try store.listRuns()
            XCTAssertEqual(runs.count, 8)
            XCTAssertEqual(Set(runs.map(\.run.status)), [.finished], "trial \(trial)")
            XCTAssertEqual(runs.map(\.run.attempts), Array(repeating: 1, count: 8), "trial \(trial)")
        }
    }
}

extension EndToEndTests {
    /// Eight runs start at once on a synthetic data folder that does not exist: one process generates it, the
    /// others wait for it; every run trains on all the images and no temporary folder is left behind.
    func testEightRunsShareOneSynthesisedFolder() throws {
        let file = try writeExperiment("synth8", epochs: 1, matrix: "  seed: [1, 2, 3, 4, 5, 6, 7, 8]", perClass: 40)
        let logs = (0..<8).map { dir.appendingPathComponent("synth8-\($0).log") }
        let processes = try logs.map { try start(["run", file, "--db", "s8.sqlite"], output: $0) }
        for p in processes { p.waitUntilExit() }
        for (p, log) in zip(processes, logs) {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            XCTAssertEqual(p.terminationStatus, 0, output)
            if output.contains("data ") { XCTAssertTrue(output.contains("60 train / 20 test"), output) }
        }
        let store = try RunStore(path: dir.appendingPathComponent("s8.sqlite").path, create: false)
        XCTAssertEqual(Set(try store.listRuns().map(\.run.status)), [.finished])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".data") }
        XCTAssertEqual(leftovers, [])
    }

    /// Killed while it writes the images, a synthesis leaves no folder that a later run would take for complete:
    /// the next run generates all of it and trains on every image.
    func testKilledSynthesisIsNeverUsedHalfWritten() throws {
        let data = dir.appendingPathComponent("data").path
        let p = try start(["data", "synth", "--out", data, "--classes", "3", "--per-class", "200", "--size", "48", "--seed", "0"])
        let deadline = Date().addingTimeInterval(30)
        // Kill it once it has written some images (into its temporary folder).
        while Date() < deadline {
            let folders = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasPrefix(".data.") || $0 == "data" } ?? []
            let written = folders.map { (try? FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent($0).path))?.count ?? 0 }.reduce(0, +)
            if written > 40 || !p.isRunning { break }
            usleep(5_000)
        }
        Darwin_kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "synthesis finished before it could be killed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: data), "a half-written folder was left at \(data)")

        let again = try run(["data", "synth", "--out", data, "--classes", "3", "--per-class", "200", "--size", "48", "--seed", "0"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("wrote 600 images"), again.output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".data") }, [])

        // A synthesised folder that lost files is refused, not trained on.
        let victim = dir.appendingPathComponent("data/class1/class1-00001.png")
        try FileManager.default.removeItem(at: victim)
        let reuse = try run(["data", "synth", "--out", data, "--classes", "3", "--per-class", "200", "--size", "48", "--seed", "0"])
        XCTAssertNotEqual(reuse.status, 0)
        XCTAssertTrue(reuse.output.contains("holds 199 of the 200 images"), reuse.output)
    }
}

extension EndToEndTests {
    /// The store records each run's own thread setting (not the pool size left by the run before it).
    func testStoredThreadsAreTheRunsSetting() throws {
        let file = try writeExperiment("threads", epochs: 1, matrix: "  training.threads: [1, 2]", perClass: 8)
        let r = try run(["run", file, "--db", "t.sqlite"])
        XCTAssertEqual(r.status, 0, r.output)
        let store = try RunStore(path: dir.appendingPathComponent("t.sqlite").path, create: false)
        let runs = try store.listRuns()
        XCTAssertEqual(runs.map(\.run.label), ["training.threads=1", "training.threads=2"])
        XCTAssertEqual(runs.map(\.run.threads), [1, 2])
    }
}

extension EndToEndTests {
    /// An image over the pixel limit is skipped with advice that works for the command at hand: `data.max_pixels`
    /// in the experiment file for runs, `--max-pixels` for predict (which now has it).
    func testPixelLimitAdviceCanBeFollowed() throws {
        XCTAssertEqual(try run(["data", "synth", "--out", dir.appendingPathComponent("data").path, "--classes", "2",
                                "--per-class", "8", "--size", "32", "--seed", "0"]).status, 0)
        let big = dir.appendingPathComponent("big")
        _ = try SyntheticData.write(to: big.path, classes: 2, perClass: 2, size: 64, seed: 1)
        let bigImage = big.appendingPathComponent("class0/class0-00001.png")
        try FileManager.default.copyItem(at: bigImage, to: dir.appendingPathComponent("data/class0/big.png"))
        var text = try String(contentsOfFile: try writeExperiment("pixels", epochs: 1, matrix: "  seed: [1]", perClass: 8),
                              encoding: .utf8)
        // A folder of its own now (one image added), not a synthetic one to be checked against its manifest.
        text = text.replacingOccurrences(of: "  synthesize: {classes: 2, per_class: 8, size: 32}\n", with: "")
        text = text.replacingOccurrences(of: "  size: 32\n", with: "  size: 32\n  max_pixels: 2000\n")
        let file = dir.appendingPathComponent("pixels.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)

        let r = try run(["run", file.path, "--db", "p.sqlite"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("big.png"), r.output)
        XCTAssertTrue(r.output.contains("`data: {max_pixels: N}`"), r.output)

        let refused = try run(["predict", "--db", "p.sqlite", "--run", "1", bigImage.path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("--max-pixels N for `ablate predict`"), refused.output)
        let allowed = try run(["predict", "--db", "p.sqlite", "--run", "1", "--max-pixels", "5000", bigImage.path])
        XCTAssertEqual(allowed.status, 0, allowed.output)
    }
}

extension EndToEndTests {
    /// A batch larger than the training split is named as such (not "the training split has no images").
    func testBatchLargerThanTheTrainingSplitIsNamed() throws {
        let file = try writeExperiment("batch", epochs: 1, matrix: "  seed: [1]", perClass: 4)
        let r = try run(["run", file, "--db", "b.sqlite"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("training.batch_size is 8 but the training split of"), r.output)
        XCTAssertTrue(r.output.contains("has 6 image(s)"), r.output)
        XCTAssertFalse(r.output.contains("has no images"), r.output)
    }

    /// A --runs-dir that is a file stops the run before anything is queued, naming the path; no Foundation dump.
    func testRunsDirThatIsAFileIsNamed() throws {
        let file = try writeExperiment("rdir", epochs: 1, matrix: "  seed: [1]", perClass: 8)
        try "x".write(to: dir.appendingPathComponent("not-a-folder"), atomically: true, encoding: .utf8)
        let r = try run(["run", file, "--db", "r.sqlite", "--runs-dir", "not-a-folder"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("cannot create the folder"), r.output)
        XCTAssertTrue(r.output.contains("not-a-folder/rdir"), r.output)
        XCTAssertTrue(r.output.contains("--runs-dir"), r.output)
        XCTAssertFalse(r.output.contains("NSCocoaErrorDomain"), r.output)
    }

    /// A full disk while writing a checkpoint fails the run with the file and the system's reason. The runs
    /// folder is a 12 kB tmpfs in a private mount namespace (`unshare -m`); skipped where that is not allowed.
    func testFullDiskWhileCheckpointingIsNamed() throws {
        let file = try writeExperiment("full", epochs: 1, matrix: "  seed: [1]", perClass: 8)
        let runs = dir.appendingPathComponent("tiny-runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("full.log")
        let script = "mount -t tmpfs -o size=12k tmpfs \(runs.path) || exit 77; "
            + "exec \(Self.ablate.path) run \(file) --db full.sqlite --runs-dir \(runs.path) > \(log.path) 2>&1"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["-m", "sh", "-c", script]
        p.currentDirectoryURL = dir
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { throw XCTSkip("unshare is not available") }
        p.waitUntilExit()
        if p.terminationStatus == 77 { throw XCTSkip("cannot mount a tmpfs here") }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        if output.isEmpty { throw XCTSkip("unshare -m is not allowed here") }
        XCTAssertEqual(p.terminationStatus, 1, output)
        XCTAssertTrue(output.contains("cannot write '\(runs.path)/full/run-1-"), output)
        XCTAssertTrue(output.contains("No space left on device"), output)
        XCTAssertFalse(output.contains("NSCocoaErrorDomain"), output)
    }
}

extension EndToEndTests {
    /// "nothing to do" is said only when every selected run is finished; otherwise the runs left are named with
    /// their state: running in another process, or failed (with --retry-failed as the way to run it again).
    func testNothingToDoNamesRunsThatAreNotFinished() throws {
        let file = try writeExperiment("left", epochs: 30, matrix: "  training.optimizer.lr: [1e38, 0.05]", perClass: 8)
        let log = dir.appendingPathComponent("left-1.log")
        let first = try start(["run", file, "--db", "l.sqlite"], output: log)
        try waitForEpochs("l.sqlite", atLeast: 1, process: first, log: log)
        let second = try run(["run", file, "--db", "l.sqlite"])
        Darwin_kill(first.processIdentifier, SIGINT)
        first.waitUntilExit()
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertFalse(second.output.contains("every selected run is finished"), second.output)
        XCTAssertTrue(second.output.contains("2 selected run(s) are not finished"), second.output)
        XCTAssertTrue(second.output.contains("failed (diverged at epoch 1"), second.output)
        XCTAssertTrue(second.output.contains("--retry-failed"), second.output)
        XCTAssertTrue(second.output.contains("training.optimizer.lr=0.05: running on"), second.output)
    }

    /// `report --positive` with a class the experiment does not have is an error listing its classes.
    func testReportWithUnknownPositiveClassIsAnError() throws {
        let file = try writeExperiment("pos", epochs: 1, matrix: "  seed: [1]", perClass: 8)
        XCTAssertEqual(try run(["run", file, "--db", "p.sqlite"]).status, 0)
        let bad = try run(["report", "--db", "p.sqlite", "--out", "rep", "--positive", "NOSUCHCLASS"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("--positive NOSUCHCLASS: experiment 'pos' has no class of that name; its classes are class0, class1"),
                      bad.output)
        XCTAssertEqual(try run(["report", "--db", "p.sqlite", "--out", "rep", "--positive", "class0"]).status, 0)
    }

    /// `verify` on a file it cannot read says that the file could not be checked (not "1 of 0 quantities failed").
    func testVerifyOnABadFileSaysSo() throws {
        let bad = dir.appendingPathComponent("bad.json")
        try "{not json".write(to: bad, atomically: true, encoding: .utf8)
        let r = try run(["verify", bad.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("1 of 1 file(s) could not be checked"), r.output)
        XCTAssertFalse(r.output.contains("of 0 quantities"), r.output)
    }
}

extension EndToEndTests {
    /// `data audit` loads images as a run does: a truncated JPEG, a text file named .jpg and a GIF named .png are
    /// skipped and named, and its split sizes are the ones the run then trains and tests on.
    func testDataAuditSkipsWhatARunSkips() throws {
        let data = dir.appendingPathComponent("data")
        XCTAssertEqual(try run(["data", "synth", "--out", data.path, "--classes", "2", "--per-class", "8",
                                "--size", "32", "--seed", "0"]).status, 0)
        let jpeg = try Data(contentsOf: data.appendingPathComponent("class0/class0-00000.jpg"))
        try jpeg.prefix(jpeg.count / 2).write(to: data.appendingPathComponent("class0/truncated.jpg"))
        try "not an image".write(to: data.appendingPathComponent("class1/notes.jpg"), atomically: true, encoding: .utf8)
        try Data("GIF89a".utf8 + [1, 0, 1, 0, 0, 0, 0, 0x3B]).write(to: data.appendingPathComponent("class1/anim.png"))

        let audit = try run(["data", "audit", data.path, "--split", "stratified", "--test-fraction", "0.25",
                             "--seed", "0", "--size", "32", "--json"])
        XCTAssertEqual(audit.status, 0, audit.output)
        let json = String(audit.output[audit.output.firstIndex(of: "{")!...])
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], audit.output)
        XCTAssertEqual(doc["skipped_files"] as? Int, 3, audit.output)
        let skipped = (doc["skipped"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        XCTAssertEqual(Set(skipped.map { URL(fileURLWithPath: $0).lastPathComponent }), ["truncated.jpg", "notes.jpg", "anim.png"])
        let train = try XCTUnwrap(doc["train_files"] as? Int), test = try XCTUnwrap(doc["test_files"] as? Int)
        XCTAssertEqual(train + test, 16)

        var text = try String(contentsOfFile: try writeExperiment("audit", epochs: 1, matrix: "  seed: [1]", perClass: 8),
                              encoding: .utf8)
        text = text.replacingOccurrences(of: "  synthesize: {classes: 2, per_class: 8, size: 32}\n", with: "")
        let file = dir.appendingPathComponent("audit.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let r = try run(["run", file.path, "--db", "a.sqlite"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("\(train) train / \(test) test"), "audit said \(train)/\(test): \(r.output)")
    }
}
