import AblateCore
import ExperimentFile
import Foundation
import Store
import XCTest

/// Where commands write, and the names and options they are given, checked with the real binary as a careless
/// or hostile user would try them.
extension CLITests {
    /// A store of the demo experiment with one run one epoch in.
    func demoStore(_ name: String) throws -> String {
        let db = dir.appendingPathComponent(name).path
        let store = try RunStore(path: db)
        let e = try Experiment.load(file: packageRoot.appendingPathComponent("experiments/demo.yaml").path,
                                    options: .init(baseDirectory: dir.path))
        _ = try e.enqueue(into: store)
        let c = try XCTUnwrap(store.claimNextRun(host: "cli-test", staleAfter: 60))
        try store.recordEpoch(c.lease, EpochMetrics(epoch: 1, trainLoss: 0.6, trainAccuracy: 0.7, testLoss: 0.5,
                                                    testAccuracy: 0.75, learningRate: 0.05, seconds: 3, imagesPerSecond: 40))
        try store.close()
        return db
    }

    func runsIn(exportAt path: String) throws -> Int? {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        return (object?["runs"] as? [Any])?.count
    }

    /// `export -o` writes into the file it is given: missing folders are created, a link is written through (the
    /// link stays), a pipe receives the document (and stays a pipe), a folder is refused by name.
    func testExportWritesWhereItIsPointed() throws {
        let db = try demoStore("o.sqlite")
        let nested = dir.appendingPathComponent("new/folders/runs.json").path
        let r = try ablate(["export", "--db", db, "--format", "json", "-o", nested])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try runsIn(exportAt: nested), 6)

        let folder = try ablate(["export", "--db", db, "--format", "json", "-o", dir.path])
        XCTAssertNotEqual(folder.status, 0)
        XCTAssertTrue(folder.err.contains("cannot write \(dir.path): it is a folder"), folder.err)
        XCTAssertFalse(folder.err.contains("NSCocoaErrorDomain"), folder.err)

        let target = dir.appendingPathComponent("target.json").path, link = dir.appendingPathComponent("link.json").path
        try "old".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        XCTAssertEqual(try ablate(["export", "--db", db, "--format", "json", "-o", link]).status, 0)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), target, "the link stays a link")
        XCTAssertEqual(try runsIn(exportAt: target), 6, "its target holds the document")

        let fifo = dir.appendingPathComponent("pipe.json").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let received = ReceivedText()
        let reader = Thread {
            let fd = open(fifo, O_RDONLY)  // waits for the writer
            guard fd >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                received.append(String(decoding: buffer[0..<n], as: UTF8.self))
            }
            close(fd)
        }
        reader.start()
        XCTAssertEqual(try ablate(["export", "--db", db, "--format", "json", "-o", fifo]).status, 0)
        // Should the export not have opened the pipe, release the reader blocked in open().
        let release = open(fifo, O_WRONLY | O_NONBLOCK)
        if release >= 0 { close(release) }
        for _ in 0..<100 where received.text.isEmpty { usleep(20_000) }
        XCTAssertTrue(received.text.contains("\"format\""), "the pipe's reader got the document: \(received.text.prefix(80))")
        var info = stat()
        XCTAssertEqual(stat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "the pipe is still a pipe")
    }

    /// A full disk behind standard output is an error, not exit 0 with half a document.
    func testWritingToAFullStandardOutputFails() throws {
        let db = try demoStore("full.sqlite")
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ablate")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["export", "--db", db, "--format", "json"]
        p.standardOutput = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/full"))
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(message.contains("could not write all output to standard output"), message)
    }

    /// A name that is not in the store is an error that lists what is, for every command that takes one.
    func testUnknownExperimentAndBaselineAreRefused() throws {
        let db = try demoStore("names.sqlite")
        for command in [["export", "--format", "json"], ["export", "--format", "csv"], ["status"], ["report"]] {
            let r = try ablate(command + ["--db", db, "--experiment", "nope"])
            XCTAssertNotEqual(r.status, 0, command.joined(separator: " "))
            XCTAssertTrue(r.err.contains("no experiment named 'nope'") && r.err.contains("it has: demo"), r.err)
            XCTAssertTrue(r.out.isEmpty, "nothing is printed as if it were the answer: \(r.out)")
        }
        let report = try ablate(["report", "--db", db, "--baseline", "nope", "--out", dir.appendingPathComponent("r").path])
        XCTAssertNotEqual(report.status, 0)
        XCTAssertTrue(report.err.contains("--baseline nope: experiment 'demo' has no configuration of that name")
                      && report.err.contains("its configurations are custom, custom-se4"), report.err)
    }

    /// `slurm` writes its options into shell scripts, so each one must be a value sbatch reads as one directive;
    /// a line break would end the directives early or run as a command.
    func testSlurmOptionsAreChecked() throws {
        let plan = dir.appendingPathComponent("plan").path
        let base = ["slurm", "experiments/demo.yaml", "--dir", plan]
        let cases: [([String], String)] = [
            (["--partition", "cpu\necho INJECTED"], "--partition must be one word"),
            (["--account", "a b"], "--account must be one word"),
            (["--time", "forever"], "--time must be in a form sbatch accepts"),
            (["--mem", "lots"], "--mem must be a size such as 8G"),
            (["--cpus-per-task", "100000"], "--cpus-per-task must be between 1 and 1024"),
            (["--cpus-per-task", "0"], "--cpus-per-task must be between 1 and 1024"),
            (["--extra-sbatch", "--qos=long\nINJECTED"], "--extra-sbatch must not hold line breaks"),
        ]
        for (options, expected) in cases {
            let r = try ablate(base + options)
            XCTAssertNotEqual(r.status, 0, options.joined(separator: " "))
            XCTAssertTrue(r.err.contains(expected), "\(options): \(r.err)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: plan), "nothing is written")
        }
        let spaced = try ablate(["slurm", "experiments/demo.yaml", "--dir", dir.appendingPathComponent("a plan").path])
        XCTAssertNotEqual(spaced.status, 0)
        XCTAssertTrue(spaced.err.contains("holds a space or a control character"), spaced.err)
        for (time, mem) in [("UNLIMITED", "512MB"), ("90", "16000"), ("2:30:00", "16gb")] {
            let r = try ablate(["slurm", "experiments/demo.yaml", "--time", time, "--mem", mem, "--dir",
                                dir.appendingPathComponent("p-\(mem)").path])
            XCTAssertEqual(r.status, 0, "sbatch accepts --time \(time) --mem \(mem): \(r.err)")
        }
        let ok = try ablate(base + ["--partition", "cpu", "--time", "1-02:00:00", "--mem", "8G", "--cpus-per-task", "2",
                                    "--extra-sbatch", "--qos=long --constraint=avx512"])
        XCTAssertEqual(ok.status, 0, ok.err)
        let script = try String(contentsOfFile: plan + "/array.sbatch", encoding: .utf8)
        for line in ["#SBATCH --partition=cpu", "#SBATCH --time=1-02:00:00", "#SBATCH --mem=8G", "#SBATCH --qos=long",
                     "#SBATCH --constraint=avx512"] {
            XCTAssertTrue(script.contains(line + "\n"), "\(line) in:\n\(script)")
        }
        let task = try ablate(["task", plan, "--index", "0", "--threads", "1025"])
        XCTAssertNotEqual(task.status, 0)
        XCTAssertTrue(task.err.contains("--threads must be between 1 and 1024, got 1025"), task.err)
    }
}
