import Engine
import Foundation
import XCTest
@testable import Verification

/// Per-op reference cases are decoded into typed cases and dispatched by one table of names: every case of the
/// shared file has a kind, and a malformed case is an error naming the case and the key.
final class OpCaseTests: XCTestCase {
    func testCaseNamesMapToOps() {
        let expected: [String: OpKind] = [
            "conv2d_k7_s2_p3": .conv2d, "batchnorm2d_train_C5": .batchNorm2d, "relu": .relu, "maxpool_k3_s2_p1": .maxPool,
            "avgpool_k2_s2": .avgPool, "global_avgpool": .globalAvgPool, "linear": .linear, "se_r4": .squeezeExcitation,
            "cross_entropy_mean": .crossEntropy,
        ]
        for (name, kind) in expected { XCTAssertEqual(OpKind(caseName: name), kind, name) }
        XCTAssertNil(OpKind(caseName: "gelu"))
        XCTAssertEqual(Set(OpKind.names.map(\.kind)), Set(OpKind.allCases), "every op has a name")
    }

    func testMalformedCasesNameTheCaseAndKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-opcase-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func verify(_ json: String) -> String {
            let file = dir.appendingPathComponent("\(UUID()).json")
            try? json.write(to: file, atomically: true, encoding: .utf8)
            do { _ = try Verifier.verify(path: file.path); return "no error" } catch { return "\(error)" }
        }
        let tensor = #"{"shape": [1, 1, 2, 2], "data": [1, 2, 3, 4]}"#
        XCTAssertTrue(verify(#"{"cases": [{"name": "gelu"}]}"#).contains("unknown op case 'gelu'"))
        let noStride = verify(#"{"cases": [{"name": "conv2d_x", "inputs": [\#(tensor)], "params": {"weight": \#(tensor)}}]}"#)
        XCTAssertTrue(noStride.contains("case 'conv2d_x' has no 'stride'"), noStride)
        let badShape = verify(#"{"cases": [{"name": "relu", "inputs": [{"shape": [3], "data": [1]}]}]}"#)
        XCTAssertTrue(badShape.contains("'relu.inputs[0]' has 1 values for shape [3]"), badShape)
        let notCases = verify(#"{"cases": [{"nom": "relu"}]}"#)
        XCTAssertTrue(notCases.contains("per-op layout"), notCases)
    }
}
