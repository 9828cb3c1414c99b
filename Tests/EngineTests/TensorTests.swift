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
