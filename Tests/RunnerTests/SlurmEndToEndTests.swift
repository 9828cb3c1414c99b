import Foundation
import Store
import XCTest

/// `ablate slurm` on a real single-node Slurm (scripts/slurm-local.sh): an array of three runs, one task requeued
/// by the cluster mid-run and one warned by SIGUSR1 (it requeues itself), then the merge job. Every run finishes
/// exactly once, with per-epoch metrics bit-identical to a local `ablate run`.
extension EndToEndTests {
    func testSlurmArrayWithRequeuesMatchesALocalRun() throws {
        guard getuid() == 0 else { throw XCTSkip("the Slurm test starts slurmctld/slurmd and needs root") }
        for tool in ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel"] {
            guard shell("command -v \(tool)").status == 0 else {
                throw XCTSkip("\(tool) is not installed (bash scripts/test.sh installs slurm-wlm and munge)")
            }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/slurm-local.sh").path
        let state = dir.appendingPathComponent("slurm").path
        let started = shell("bash \(script) start \(state)")
        defer { _ = shell("bash \(script) stop \(state)") }
        XCTAssertEqual(started.status, 0, started.output)
        guard started.status == 0 else { return }
        setenv("SLURM_CONF", "\(state)/slurm.conf", 1)
        defer { unsetenv("SLURM_CONF") }

        let file = try writeExperiment("cluster", epochs: 25, matrix: "  seed: [1, 2, 3]")
        let submitted = try run(["slurm", file, "--dir", "plan", "--cpus-per-task", "1", "--submit"])
        XCTAssertEqual(submitted.status, 0, submitted.output)
        XCTAssertTrue(submitted.output.contains("submitted array job"), submitted.output)

        // Requeue task 0 from outside (as preemption does) and warn task 1 as a time limit would.
        let plan = dir.appendingPathComponent("plan").path
        try waitForEpochs("plan/tasks/0.sqlite", atLeast: 3, timeout: 180)
        let job0 = try String(contentsOfFile: "\(plan)/tasks/0.job", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(shell("scontrol requeue \(job0)").status, 0)
        try waitForEpochs("plan/tasks/1.sqlite", atLeast: 3, timeout: 180)
        let job1 = try String(contentsOfFile: "\(plan)/tasks/1.job", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(shell("scancel --batch --signal=USR1 \(job1)").status, 0)

        // Wait for the array and the merge job (requeued jobs wait out Slurm's begin-time delay first).
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline && !shell("squeue -h").output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            sleep(2)
        }
        XCTAssertTrue(shell("squeue -h").output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                      "jobs still queued after 10 minutes: \(shell("squeue").output)")
        let log1 = (try? String(contentsOfFile: "\(plan)/logs/task-1.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(log1.contains("requeued Slurm job"), log1)
        let status = try run(["status", "--dir", "plan"])
        XCTAssertTrue(status.output.contains("3 finished"), status.output)

        let merged = try RunStore(readingOnly: "\(plan)/merged.sqlite")
        let runs = try merged.listRuns()
        XCTAssertEqual(runs.map(\.run.status), [.finished, .finished, .finished])
        XCTAssertEqual(Set(runs.map(\.run.configHash)).count, 3)
        XCTAssertGreaterThanOrEqual(runs.first { $0.run.seed == 1 }?.run.attempts ?? 0, 2, "task 0 was not resumed")
        XCTAssertGreaterThanOrEqual(runs.first { $0.run.seed == 2 }?.run.attempts ?? 0, 2, "task 1 was not resumed")
        try merged.close()

        let local = try run(["run", file, "--db", "local.sqlite", "--runs-dir", "runs-local", "--threads", "1"])
        XCTAssertEqual(local.status, 0, local.output)
        func sorted(_ db: String) throws -> [[UInt64]] {
            try epochs(db).map { $0.map(\.bitPattern) }.sorted { $0.lexicographicallyPrecedes($1) }
        }
        XCTAssertEqual(try sorted("plan/merged.sqlite"), try sorted("local.sqlite"))
    }

    /// Runs a shell command in the test folder; output and error together. The output goes through a file, not
    /// a pipe: daemons started by the command inherit descriptors and would hold a pipe open forever.
    func shell(_ command: String) -> (status: Int32, output: String) {
        let log = dir.appendingPathComponent("shell-\(UUID()).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        guard let handle = try? FileHandle(forWritingTo: log) else { return (127, "cannot write \(log.path)") }
        defer { try? handle.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", command]
        p.currentDirectoryURL = dir
        p.standardOutput = handle
        p.standardError = handle
        guard (try? p.run()) != nil else { return (127, "cannot start bash") }
        p.waitUntilExit()
        return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}

extension EndToEndTests {
    /// `--missing` resubmits only unfinished tasks of the frozen plan; an edited experiment file does not reshuffle
    /// it. sbatch is a stand-in on PATH that records its arguments and answers with a job id.
    func testSlurmMissingResubmitsOnlyUnfinishedTasksOfTheFrozenPlan() throws {
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let calls = dir.appendingPathComponent("sbatch-calls.txt")
        let fake = bin.appendingPathComponent("sbatch")
        try "#!/bin/bash\necho \"$*\" >> \(calls.path)\necho 42\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        setenv("PATH", bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"), 1)
        defer { setenv("PATH", ProcessInfo.processInfo.environment["PATH"]!.replacingOccurrences(of: bin.path + ":", with: ""), 1) }

        let file = try writeExperiment("frozen", epochs: 1, matrix: "  seed: [1, 2, 3]")
        let planned = try run(["slurm", file, "--dir", "plan", "--cpus-per-task", "1", "--max-parallel", "2"])
        XCTAssertEqual(planned.status, 0, planned.output)
        let script = try String(contentsOfFile: dir.appendingPathComponent("plan/array.sbatch").path, encoding: .utf8)
        for line in ["#SBATCH --array=0-2%2", "#SBATCH --requeue", "#SBATCH --open-mode=append",
                     "#SBATCH --signal=B:USR1@300", "#SBATCH --cpus-per-task=1"] {
            XCTAssertTrue(script.contains(line), "missing \(line):\n\(script)")
        }
        XCTAssertEqual(try run(["task", "plan", "--index", "1"]).status, 0)

        // The file changes (a fourth seed): the frozen plan is refused without --missing and kept with it.
        let text = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "[1, 2, 3]", with: "[1, 2, 3, 4]")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try run(["slurm", file, "--dir", "plan", "--submit"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("holds a plan for another matrix"), refused.output)
        let missing = try run(["slurm", file, "--dir", "plan", "--missing", "--max-parallel", "2"])
        XCTAssertEqual(missing.status, 0, missing.output)
        let recorded = try String(contentsOf: calls, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(recorded.count, 2, "array + merge job")
        XCTAssertTrue(recorded[0].hasPrefix("--parsable --array=0,2%2 "), String(recorded[0]))
        XCTAssertTrue(recorded[1].hasPrefix("--parsable --dependency=afterany:42 "), String(recorded[1]))
        let plan = try String(contentsOfFile: dir.appendingPathComponent("plan/plan.json").path, encoding: .utf8)
        XCTAssertFalse(plan.contains("seed=4"), "the frozen plan was rewritten")
    }
}
