import Engine
import Foundation
@testable import Models
import XCTest

/// Every per-op case and every whole-network golden file from PyTorch, through the same code as `ablate verify`,
/// on both backends (oneDNN, the default, and the OpenBLAS/im2col reference).
final class ReferenceTests: XCTestCase {
    override func tearDown() { Backend.current = .onednn }

    func assertAllPass(_ file: String, expectedAtLeast: Int, file src: StaticString = #filePath, line: UInt = #line) throws {
        for backend in Backend.allCases {
            Backend.current = backend
            let checks = try Verifier.verify(path: try Shared.reference(file))
            XCTAssertGreaterThanOrEqual(checks.count, expectedAtLeast, "too few quantities compared", file: src, line: line)
            for c in checks {
                XCTAssertTrue(c.passed, "\(backend): \(file) \(c.item) \(c.quantity): abs \(c.maxAbsError) rel \(c.maxRelError) > tol \(c.tolerance)",
                              file: src, line: line)
            }
        }
    }

    func testEveryOpCase() throws {
        for backend in Backend.allCases {
            Backend.current = backend
            let checks = try Verifier.verify(path: try Shared.reference("ops.json"))
            // 13 cases: forward output + every input and parameter gradient.
            let items = Set(checks.map(\.item))
            XCTAssertEqual(items.count, 13, "cases seen: \(items.sorted())")
            XCTAssertEqual(checks.count, 40)
            for c in checks { XCTAssertTrue(c.passed, "\(backend): \(c.item) \(c.quantity): rel \(c.maxRelError)") }
        }
    }

    func testTinyDenseNetSGD() throws {
        // 1 eval + train logits + loss + 34 grads + input grad + 34 params + 22 buffers + loss2 + 34 params + eval2
        try assertAllPass("tiny_densenet_sgd.json", expectedAtLeast: 130)
    }

    func testTinySEDenseNetR4SGD() throws { try assertAllPass("tiny_se_densenet_r4_sgd.json", expectedAtLeast: 154) }

    func testTinySEDenseNetR2Adam() throws { try assertAllPass("tiny_se_densenet_r2_adam.json", expectedAtLeast: 154) }

    /// The checker itself must be able to fail: perturb one logit of a golden file and expect a failure.
    func testVerifierDetectsAWrongValue() throws {
        let path = try Shared.reference("tiny_densenet_sgd.json")
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var logits = root["eval_logits"] as! [String: Any]
        var data = logits["data"] as! [Double]
        data[0] += 0.01
        logits["data"] = data
        root["eval_logits"] = logits
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tampered-\(UUID()).json")
        try JSONSerialization.data(withJSONObject: root).write(to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let failed = try Verifier.verify(path: tmp.path).filter { !$0.passed }
        XCTAssertEqual(failed.map(\.quantity), ["eval_logits"])
    }

    func testUnknownFileIsAClearError() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("notref-\(UUID()).json")
        try Data("{\"hello\": 1}".utf8).write(to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        XCTAssertThrowsError(try Verifier.verify(path: tmp.path)) { e in
            XCTAssertTrue("\(e)".contains(tmp.lastPathComponent), "\(e)")
        }
    }
}
