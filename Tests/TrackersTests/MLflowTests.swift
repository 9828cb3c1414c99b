import AblateCore
import Foundation
@testable import Trackers
import XCTest

/// ablate's runs in a real MLflow server (started by scripts/test.sh, or by the test itself where it must stop
/// one), read back through MLflow's REST API and compared with the store.
final class MLflowTests: TrackerTestCase {
    /// Two exports of one store: the first creates a run per ablate run with params, tags and every metric; the
    /// second changes nothing.
    func testExportTwiceEqualsTheStore() throws {
        let uri = try mlflowURI()
        let (file, name) = try writeExperiment("export", epochs: 3, seeds: [1, 2])
        let trained = try run(["run", file, "--db", "e.sqlite"])
        XCTAssertEqual(trained.status, 0, trained.output)

        let first = try run(["export", "--format", "mlflow", "--db", "e.sqlite", "--mlflow", uri])
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("2 run(s), 2 created; sent 42 metric value(s)"), first.output)
        let second = try run(["export", "--format", "mlflow", "--db", "e.sqlite", "--mlflow", uri])
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("2 run(s), 0 created; sent 0 metric value(s), 0 param(s), 0 tag(s), 0 status change(s)"),
                      second.output)
        try assertMLflowEqualsStore(uri, experiment: name, db: "e.sqlite")

        let store = try store("e.sqlite")
        let runs = try mlflowRuns(uri, experiment: name)
        for s in try store.listRuns() {
            let r = try XCTUnwrap(runs[s.run.configHash])
            XCTAssertEqual(r.params["model.name"], "custom")
            XCTAssertEqual(r.params["training.optimizer.lr"], "0.05")
            XCTAssertEqual(r.params["seed"], String(s.run.seed!))
            XCTAssertEqual(r.tags["ablate.run_id"], String(s.run.id))
            XCTAssertEqual(r.tags["ablate.seed"], String(s.run.seed!))
            XCTAssertEqual(r.tags["ablate.store"], store.path)
            XCTAssertEqual(r.tags["ablate.version"], s.run.ablateVersion)
            XCTAssertEqual(r.tags["ablate.host"], s.run.host)
            XCTAssertNotNil(r.tags["ablate.backend"])
            XCTAssertNotNil(r.tags["ablate.machines"])
            XCTAssertEqual(r.tags["mlflow.runName"], s.run.label)
            XCTAssertEqual(Set(r.params.keys), Set(try ConfigParams.flatten(configJSON: s.run.configJSON).map(\.key)))
        }
    }

    /// Logged live, killed with SIGKILL mid-run and resumed: one MLflow run, each step once, every value the
    /// store's, FINISHED.
    func testLiveKillNineAndResumeLogsIntoTheSameRun() throws {
        let uri = try mlflowURI()
        let (file, name) = try writeExperiment("live", epochs: 6, seeds: [1], perClass: 64)
        let p = try ablate(["run", file, "--db", "l.sqlite", "--mlflow", uri], log: "killed.log")
        try waitForEpochs("l.sqlite", atLeast: 3, process: p, log: "killed.log")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run finished before it could be killed")

        let resumed = try run(["run", file, "--db", "l.sqlite", "--mlflow", uri])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertFalse(resumed.output.contains("warning: MLflow"), resumed.output)
        try assertMLflowEqualsStore(uri, experiment: name, db: "l.sqlite")
        // An export afterwards has nothing to add.
        let export = try run(["export", "--format", "mlflow", "--db", "l.sqlite", "--mlflow", uri])
        XCTAssertTrue(export.output.contains("1 run(s), 0 created; sent 0 metric value(s)"), export.output)
    }

    /// MLFLOW_TRACKING_URI stands in for --mlflow.
    func testTrackingURIFromTheEnvironment() throws {
        let uri = try mlflowURI()
        let (file, name) = try writeExperiment("env", epochs: 2, seeds: [1])
        var environment = Self.environment
        environment["MLFLOW_TRACKING_URI"] = uri
        let p = try ablate(["run", file, "--db", "v.sqlite"], log: "env.log", environment: environment)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, output("env.log"))
        try assertMLflowEqualsStore(uri, experiment: name, db: "v.sqlite")
    }

    /// The server stops mid-run: training goes on to the end with one warning line, and the next export, to the
    /// server started again on its database, completes the MLflow run.
    func testServerStoppedMidRunThenExportCompletes() throws {
        let python = try python()
        let mlflow = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("mlflow")
        guard FileManager.default.isExecutableFile(atPath: mlflow.path) else { throw XCTSkip("no mlflow next to \(python)") }
        let port = try Self.freePort()
        let uri = "http://127.0.0.1:\(port)"
        let database = "sqlite:///" + dir.appendingPathComponent("mlflow.db").path
        func startServer(_ log: String) throws -> Process {
            // Foundation starts a child as the leader of a process group of its own: the server's workers join
            // it, and one kill of the group stops them all.
            let p = try start(mlflow, ["server", "--backend-store-uri", database, "--host", "127.0.0.1",
                                       "--port", String(port)], output: dir.appendingPathComponent(log))
            try waitForServer(uri, process: p, log: log)
            return p
        }
        func stopServer(_ p: Process) {
            kill(-p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        var server = try startServer("server-1.log")
        defer { stopServer(server) }

        let (file, name) = try writeExperiment("outage", epochs: 10, seeds: [1], perClass: 96, size: 48)
        let p = try ablate(["run", file, "--db", "o.sqlite", "--mlflow", uri], log: "outage.log")
        try waitForEpochs("o.sqlite", atLeast: 2, process: p, log: "outage.log")
        stopServer(server)
        p.waitUntilExit()
        let log = output("outage.log")
        XCTAssertEqual(p.terminationStatus, 0, log)
        XCTAssertEqual(try storedEpochs("o.sqlite").values.first?.count, 10, "training went on to its end")
        XCTAssertEqual(log.components(separatedBy: "warning: MLflow").count - 1, 1, "one warning line:\n\(log)")
        XCTAssertTrue(log.contains("not fully sent"), log)

        server = try startServer("server-2.log")
        // On a loaded machine the outage may come before the background sender reached the server at all: then
        // MLflow has no experiment yet, and the export creates it. Either way the outage left epochs out.
        let before = (try? mlflowRuns(uri, experiment: name)) ?? [:]
        XCTAssertLessThanOrEqual(before.count, 1)
        XCTAssertLessThan(before.values.first?.history["train/loss"]?.count ?? 0, 10, "the outage left epochs out")
        let export = try run(["export", "--format", "mlflow", "--db", "o.sqlite", "--mlflow", uri])
        XCTAssertEqual(export.status, 0, export.output)
        XCTAssertTrue(export.output.contains("1 run(s), \(before.isEmpty ? 1 : 0) created"), export.output)
        try assertMLflowEqualsStore(uri, experiment: name, db: "o.sqlite")
    }

    func waitForServer(_ uri: String, process: Process, log: String, timeout: TimeInterval = 120) throws {
        let client = try MLflowClient(uri: uri, timeout: 2)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? client.get("experiments/get-by-name", [("experiment_name", "Default")])) != nil { return }
            guard process.isRunning else {
                XCTFail("mlflow server exited at its start:\n\(output(log))")
                return
            }
            usleep(250_000)
        }
        XCTFail("mlflow server not answering after \(timeout) s:\n\(output(log))")
    }

    /// A port nobody listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw XCTSkip("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
