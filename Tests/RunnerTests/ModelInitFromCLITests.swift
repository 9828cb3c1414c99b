import AblateCore
import Engine
import Foundation
import Models
import XCTest

/// `ablate model NAME --init-from FILE`: the load report of pretrained weights (the text form is
/// `LoadReport.lines`, checked in ModelsTests; here the JSON and the exit status).
extension CLITests {
    func testModelInitFromPrintsTheLoadReport() throws {
        // DenseNet-121 weights for 2 classes into DenseNet-121 with SE for 3 classes (a 32 MB file: one run).
        let url = dir.appendingPathComponent("densenet121.safetensors")
        let plain = try DenseNet(.densenet121, seed: 1)
        try plain.store.save(to: url)
        let json = try ablate(["model", "densenet121-se16", "--classes", "3", "--init-from", url.path, "--json"])
        XCTAssertEqual(json.status, 0, json.err)
        let report = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        XCTAssertEqual(report?["format"] as? String, "safetensors")
        XCTAssertEqual(report?["model"] as? String, "densenet121-se16")
        XCTAssertEqual(report?["sha256"] as? String, SHA256.hex(bytes: [UInt8](try Data(contentsOf: url))))
        let fresh = report?["fresh"] as? [[String: Any]]
        XCTAssertEqual(fresh?.map { $0["reason"] as? String }, ["class-count", "se-not-in-file"])
        XCTAssertEqual(fresh?.first?["tensors"] as? [String], ["classifier.weight", "classifier.bias"])
        XCTAssertEqual((fresh?.last?["tensors"] as? [String])?.count, 16) // 4 blocks × fc.0/fc.2 weight and bias
        XCTAssertEqual((report?["loaded"] as? [Any])?.count, plain.store.parameters.count + plain.store.buffers.count - 2)
        XCTAssertEqual(report?["unused"] as? [String], [])

        // Another architecture: an error naming the file and the first tensor that does not fit.
        let tiny = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/pretrained/tiny_densenet.pth")
        guard FileManager.default.fileExists(atPath: tiny.path) else { throw XCTSkip("\(tiny.path) is missing") }
        let wrong = try ablate(["model", "resnet18", "--init-from", tiny.path])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.err.contains("'\(tiny.path)' does not fit resnet18: tensor 'conv1.weight' is not in the file"), wrong.err)
    }
}
