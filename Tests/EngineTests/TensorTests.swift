@testable import Engine
import XCTest

final class TensorTests: XCTestCase {
    func testAlignmentAndZero() {
        let t = Tensor([2, 3, 4, 5])
        XCTAssertEqual(Int(bitPattern: t.data) % 64, 0)
        XCTAssertEqual(t.count, 120)
        XCTAssertTrue(t.array.allSatisfy { $0 == 0 })
        let v = t.map.channels(1, 3)
        XCTAssertEqual(v.stride, 5)
        XCTAssertEqual(v.rows, 24)
    }
}

final class WorkspaceTests: XCTestCase {
    enum First: ScratchBuffer { case a, b }
    enum Second: ScratchBuffer { case a }

    /// One buffer per key value: reused for smaller requests, grown for larger ones, 64-byte aligned, and never
    /// shared with a key of another type spelt the same.
    func testBuffersAreNamedByTypedKeys() {
        let ws = Workspace()
        let a = ws.scratch(First.a, 100)
        XCTAssertEqual(Int(bitPattern: a) % 64, 0)
        XCTAssertEqual(ws.scratch(First.a, 50), a, "a smaller request reuses the buffer")
        XCTAssertNotEqual(ws.scratch(First.b, 100), a)
        XCTAssertNotEqual(ws.scratch(Second.a, 100), a, "the same case name in another type is another buffer")
        XCTAssertEqual(ws.bytes, 3 * 100 * 4)
        let grown = ws.scratch(First.a, 1000)
        XCTAssertEqual(Int(bitPattern: grown) % 64, 0)
        XCTAssertEqual(ws.bytes, (1000 + 2 * 100) * 4, "grown, not added")
        let m = ws.map(First.b, n: 2, h: 3, w: 4, c: 5)
        XCTAssertEqual(m.stride, 5); XCTAssertEqual(m.rows, 24)
        XCTAssertEqual(ws.bytes, (1000 + 120 + 100) * 4)
    }
}
