// A run whose process died is resumed at once by a process on the same machine, without waiting for its heartbeat
// to go stale; a live holder, or one on another machine, keeps its run.
import AblateCore
import Foundation
import GRDB
import XCTest
@testable import Store

extension StoreTests {
    /// The pid of a process that has exited (and been reaped).
    func exitedPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    func testHolderIsGoneOnlyWhenThatIsCertain() throws {
        let me = try XCTUnwrap(LeaseHolder.current(host: "node1"), "this test needs Linux /proc")
        var dead = me
        dead.pid = try exitedPID()
        XCTAssertTrue(dead.isGone(seenFrom: me), "same machine, boot and namespace, no such process")
        XCTAssertFalse(me.isGone(seenFrom: me), "this process is alive")
        var parent = me
        parent.pid = getppid()
        XCTAssertFalse(parent.isGone(seenFrom: me), "another live process")
        var elsewhere = dead
        elsewhere.host = "node2"
        XCTAssertFalse(elsewhere.isGone(seenFrom: me), "another machine's pid says nothing here")
        var otherNamespace = dead
        otherNamespace.pidNamespace = "pid:[1]"
        XCTAssertFalse(otherNamespace.isGone(seenFrom: me), "another container's pid says nothing here")
        var earlierBoot = parent
        earlierBoot.bootID = "00000000-0000-0000-0000-000000000000"
        XCTAssertTrue(earlierBoot.isGone(seenFrom: me), "a process of an earlier boot of this machine has exited")
        XCTAssertEqual(LeaseHolder(host: "node1", recorded: me.recorded), me)
        XCTAssertNil(LeaseHolder(host: "node1", recorded: "not a holder"))
        XCTAssertNil(LeaseHolder(host: nil, recorded: me.recorded))
    }

    func testRunOfAnExitedHolderIsResumedAtOnce() throws {
        let path = dbPath()
        let store = try RunStore(path: path)
        let experiment = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: experiment, runs: (0..<3).map {
            NewRun(configJSON: "{\"i\":\($0)}", configHash: "hash-\($0)", label: "run \($0)", seed: $0, epochsTotal: 4)
        })
        let host = ProcessInfo.processInfo.hostName
        // Three processes claimed a run each, one second ago: the first has exited, the second lives (this test's
        // parent), the third runs on another machine.
        let claims = try (0..<3).map { _ in try XCTUnwrap(store.claimNextRun(host: host, staleAfter: 600)) }
        let me = try XCTUnwrap(LeaseHolder.current(host: host))
        XCTAssertEqual(try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "SELECT lease_holder FROM runs WHERE id = ?", arguments: [claims[0].run.id]) },
                       me.recorded, "the claim records its holder")
        var exited = me, alive = me
        exited.pid = try exitedPID()
        alive.pid = getppid()
        let raw = try DatabaseQueue(path: path)
        try raw.write { db in
            try db.execute(sql: "UPDATE runs SET lease_holder = ? WHERE id = ?", arguments: [exited.recorded, claims[0].run.id])
            try db.execute(sql: "UPDATE runs SET lease_holder = ? WHERE id = ?", arguments: [alive.recorded, claims[1].run.id])
            try db.execute(sql: "UPDATE runs SET lease_holder = ?, host = 'elsewhere' WHERE id = ?", arguments: [exited.recorded, claims[2].run.id])
        }
        try raw.close()

        let resumed = try XCTUnwrap(store.claimNextRun(host: host, staleAfter: 600), "the exited holder's run is free")
        XCTAssertEqual(resumed.run.id, claims[0].run.id)
        XCTAssertTrue(resumed.isResume)
        XCTAssertEqual(resumed.run.attempts, 2)
        XCTAssertNil(try store.claimNextRun(host: host, staleAfter: 600), "a live holder and another machine's keep theirs")
        // Its former holder, if it came back, could not write.
        XCTAssertThrowsError(try store.heartbeat(claims[0].lease))
        // Ending a run releases it: no holder is left recorded.
        try store.finish(resumed.lease)
        XCTAssertNil(try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "SELECT lease_holder FROM runs WHERE id = ?", arguments: [resumed.run.id]) })
    }
}
