import AblateCore
import Engine
import Foundation
@testable import Models
import XCTest

final class WeightFileTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-weights-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testRoundTripRestoresEveryTensorAndTheOutput() throws {
        let a = try DenseNet(tinySE, seed: 1)
        let (x, _) = randomBatch(2, 32, classes: 2, seed: 3)
        _ = try a.forward(x, training: true) // move running statistics away from their initial values
        let url = dir.appendingPathComponent("a.safetensors")
        try a.store.save(to: url, metadata: ["model": "tiny"])
        let b = try DenseNet(tinySE, seed: 99)
        XCTAssertNotEqual(a.store.values.array, b.store.values.array)
        try b.store.load(from: url)
        XCTAssertEqual(a.store.values.array, b.store.values.array)
        XCTAssertEqual(a.store.bufferValues.array, b.store.bufferValues.array)
        XCTAssertEqual(b.store.batchesTracked, 1)
        XCTAssertEqual(try a.forward(x, training: false).array, try b.forward(x, training: false).array)
        // PyTorch names and layouts on disk.
        let (tensors, meta) = try Safetensors.read(url)
        XCTAssertEqual(meta["model"], "tiny")
        XCTAssertEqual(tensors["features.conv0.weight"]?.shape, [8, 3, 7, 7])
        XCTAssertEqual(tensors["features.denseblock1.dense_block.denselayer1.conv2.weight"]?.shape, [4, 8, 3, 3])
        XCTAssertEqual(tensors["features.denseblock2.se.fc.0.weight"]?.shape, [8, 16])
        XCTAssertEqual(tensors["features.norm0.num_batches_tracked"]?.values, [1])
    }

    /// The file layout follows the safetensors spec: u64 header length, JSON header, data offsets.
    func testHeaderFormat() throws {
        let url = dir.appendingPathComponent("t.safetensors")
        try Safetensors.write(["w": TorchTensor(shape: [2, 2], values: [1, 2, 3, 4])], to: url)
        let data = try Data(contentsOf: url)
        let len = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + len))) as! [String: Any]
        let w = header["w"] as! [String: Any]
        XCTAssertEqual(w["dtype"] as? String, "F32")
        XCTAssertEqual(w["data_offsets"] as? [Int], [0, 16])
        XCTAssertEqual(data.count, 8 + len + 16)
        XCTAssertEqual(try Safetensors.read(url).tensors["w"]?.values, [1, 2, 3, 4])
    }

    func testMissingExtraAndMisshapenTensorsAreClearErrors() throws {
        let net = try DenseNet(tinySE, seed: 1)
        let good = net.store.stateDict()
        var missing = good; missing["features.norm5.bias"] = nil
        XCTAssertThrowsError(try net.store.load(stateDict: missing)) { e in
            XCTAssertEqual(e as? StateDictError, .missing(["features.norm5.bias"]))
            XCTAssertTrue("\(e)".contains("features.norm5.bias"))
        }
        var extra = good; extra["features.bogus.weight"] = TorchTensor(shape: [1], values: [0])
        XCTAssertThrowsError(try net.store.load(stateDict: extra)) { e in
            XCTAssertTrue("\(e)".contains("features.bogus.weight"), "\(e)")
        }
        var shaped = good; shaped["classifier.weight"] = TorchTensor(shape: [3, 16], values: .init(repeating: 0, count: 48))
        XCTAssertThrowsError(try net.store.load(stateDict: shaped)) { e in
            XCTAssertEqual(e as? StateDictError, .shapeMismatch(name: "classifier.weight", expected: [2, 16], found: [3, 16]))
        }
        // Nothing changed by the failed loads.
        XCTAssertEqual(net.store.stateDict(), good)
        // Through a file too, and a plain DenseNet file into an SE model.
        let plain = try DenseNet(DenseNetConfig(growthRate: 4, blockConfig: [2, 2], initChannels: 8, bnSize: 2, compression: 0.5, dropRate: 0, classes: 2, seReduction: nil, sePlacement: .block), seed: 1)
        let url = dir.appendingPathComponent("plain.safetensors")
        try plain.store.save(to: url)
        XCTAssertThrowsError(try net.store.load(from: url)) { e in XCTAssertTrue("\(e)".contains("missing"), "\(e)") }
    }

    func testCorruptFilesAreClearErrors() throws {
        let url = dir.appendingPathComponent("bad.safetensors")
        try Data([1, 2, 3]).write(to: url)
        XCTAssertThrowsError(try Safetensors.read(url)) { XCTAssertTrue("\($0)".contains("bad.safetensors")) }
        var d = Data(); var len = UInt64(1 << 40); withUnsafeBytes(of: &len) { d.append(contentsOf: $0) }
        try d.write(to: url)
        XCTAssertThrowsError(try Safetensors.read(url)) { XCTAssertTrue("\($0)".contains("header length")) }
        XCTAssertThrowsError(try Safetensors.read(dir.appendingPathComponent("nope.safetensors"))) {
            XCTAssertTrue("\($0)".contains("nope.safetensors"))
        }
    }
}
