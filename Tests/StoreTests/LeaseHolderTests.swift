// A run whose process died is resumed at once by a process on the same machine, without waiting for its heartbeat
// to go stale; a live holder on the same machine keeps its run whatever its heartbeat says; another machine's
// holder is judged by its heartbeat.
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
        XCTAssertNotNil(me.startTime)
        var parent = me
        parent.pid = getppid()
        parent.startTime = LeaseHolder.startTime(of: parent.pid)
        XCTAssertFalse(parent.isGone(seenFrom: me), "another live process")
        var reused = parent
        reused.startTime = try XCTUnwrap(parent.startTime, "the parent is in this pid namespace") + 1
        XCTAssertTrue(reused.isGone(seenFrom: me), "its pid now names a process that started at another time")
        var unknownStart = parent
        unknownStart.startTime = nil
        XCTAssertFalse(unknownStart.isGone(seenFrom: me), "a live pid without a start time may be the holder")
        var elsewhere = dead
        elsewhere.host = "node2"
        XCTAssertFalse(elsewhere.isGone(seenFrom: me), "another machine's pid says nothing here")
        var otherNamespace = dead
        otherNamespace.pidNamespace = "pid:[1]"
        XCTAssertFalse(otherNamespace.isGone(seenFrom: me), "another container's pid says nothing here")
        var earlierBoot = parent
        earlierBoot.bootID = "00000000-0000-0000-0000-000000000000"
        XCTAssertTrue(earlierBoot.isGone(seenFrom: me), "a process of an earlier boot of this machine has exited")
        // Alive only when the process table says so for certain.
        XCTAssertTrue(me.isAlive(seenFrom: me))
        XCTAssertTrue(parent.isAlive(seenFrom: me))
        XCTAssertFalse(dead.isAlive(seenFrom: me))
        XCTAssertFalse(reused.isAlive(seenFrom: me))
        XCTAssertFalse(unknownStart.isAlive(seenFrom: me), "no start time: the heartbeat decides")
        var parentElsewhere = parent
        parentElsewhere.host = "node2"
        XCTAssertFalse(parentElsewhere.isAlive(seenFrom: me), "another machine's pid says nothing here")

        XCTAssertEqual(LeaseHolder(host: "node1", recorded: me.recorded), me)
        XCTAssertEqual(LeaseHolder(host: "node1", recorded: unknownStart.recorded), unknownStart,
                       "three-field rows (no start time) parse")
        XCTAssertNil(LeaseHolder(host: "node1", recorded: me.recorded + " x"))
        XCTAssertNil(LeaseHolder(host: "node1", recorded: "not a holder"))
        XCTAssertNil(LeaseHolder(host: nil, recorded: me.recorded))
    }

    /// A holder killed but not yet reaped by its parent (a zombie) still has its pid and start time; it has
    /// exited all the same, so it is gone and not alive.
    func testZombieHolderIsGone() throws {
        let me = try XCTUnwrap(LeaseHolder.current(host: "node1"), "this test needs Linux /proc")
        var child: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        XCTAssertEqual(posix_spawn(&child, "/bin/true", nil, nil, argv, nil), 0)
        defer { var status: Int32 = 0; waitpid(child, &status, 0) }
        let deadline = Date().addingTimeInterval(10)
        while LeaseHolder.process(child)?.exited != true && Date() < deadline { usleep(10_000) }
        let zombie = try XCTUnwrap(LeaseHolder.process(child), "the unreaped child is still in /proc")
        XCTAssertTrue(zombie.exited)
        var holder = me
        holder.pid = child
        holder.startTime = zombie.startTime
        XCTAssertEqual(kill(child, 0), 0, "kill(pid, 0) still succeeds for a zombie")
        XCTAssertTrue(holder.isGone(seenFrom: me))
        XCTAssertFalse(holder.isAlive(seenFrom: me))
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
        alive.startTime = LeaseHolder.startTime(of: alive.pid)
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
        // An hour later without a heartbeat (the live holder paused with SIGSTOP, say): the other machine's run is
        // stale and taken, the live holder on this machine keeps its run.
        let later = Date().addingTimeInterval(3600)
        store.clock = { later }
        let stale = try XCTUnwrap(store.claimNextRun(host: host, staleAfter: 600))
        XCTAssertEqual(stale.run.id, claims[2].run.id)
        XCTAssertNil(try store.claimNextRun(host: host, staleAfter: 600), "a live holder keeps its run")
        try store.finish(stale.lease)
        // Its former holder, if it came back, could not write.
        XCTAssertThrowsError(try store.heartbeat(claims[0].lease))
        // Ending a run releases it: no holder is left recorded.
        try store.finish(resumed.lease)
        XCTAssertNil(try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "SELECT lease_holder FROM runs WHERE id = ?", arguments: [resumed.run.id]) })
    }
}
