import AblateCore
@testable import Checkpoints
import Engine
import Foundation
@testable import Models
@testable import Verification
import XCTest

/// PyTorch-made weight files (`../shared/reference/pretrained/`, README there): from every file of a model,
/// ablate's eval-mode pooled features and logits match PyTorch's (`expected.json`).
final class PretrainedTests: XCTestCase {
    struct Expected {
        let input: Tensor
        let models: [String: (spec: ModelSpec, features: TorchTensor, logits: TorchTensor, files: [String])]
    }

    static func expected() throws -> Expected {
        let path = try Shared.reference("pretrained/expected.json")
        let doc = try ReferenceDocument(path: path)
        let input = Layout.nhwc(try ReferenceDocument.tensor(doc.root["input"], "input", in: path))
        var models: [String: (ModelSpec, TorchTensor, TorchTensor, [String])] = [:]
        for (name, any) in doc.root["models"] as? [String: Any] ?? [:] {
            let m = any as! [String: Any], c = m["config"] as! [String: Any]
            let classes = c["num_classes"] as! Int
            let spec: ModelSpec = name.contains("resnet")
                ? .resNet(ResNetConfig(block: ResidualBlockKind(rawValue: c["block"] as! String)!, layers: c["layers"] as! [Int],
                                       width: c["width"] as! Int, classes: classes, seReduction: nil))
                : .denseNet(DenseNetConfig(growthRate: c["growth_rate"] as! Int, blockConfig: c["block_config"] as! [Int],
                                           initChannels: c["init_channel"] as! Int, bnSize: c["bn_size"] as! Int,
                                           compression: c["compression_rate"] as! Double,
                                           dropRate: DenseNetConfig.standardDropRate, classes: classes, seReduction: nil,
                                           sePlacement: .standard))
            let files = (m["files"] as! [[String: Any]]).map { $0["file"] as! String }
            models[name] = (spec, try ReferenceDocument.tensor(m["features"], "features", in: path),
                            try ReferenceDocument.tensor(m["logits"], "logits", in: path), files)
        }
        XCTAssertEqual(Set(models.keys), ["tiny_densenet", "tiny_resnet_basic"])
        return Expected(input: input, models: models)
    }

    static func file(_ name: String) throws -> URL { URL(fileURLWithPath: try Shared.reference("pretrained/\(name)")) }

    /// max |a − b| / max |b|.
    func relativeError(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        let scale = max(b.map(abs).max() ?? 0, 1e-12)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    func testEveryFileGivesPyTorchsFeaturesAndLogits() throws {
        let expected = try Self.expected()
        for (model, m) in expected.models.sorted(by: { $0.key < $1.key }) {
            XCTAssertGreaterThanOrEqual(m.files.count, 4, model)
            for name in m.files {
                let net = try m.spec.build(seed: 5)
                let report = try Pretrained.load(contentsOf: try Self.file(name), into: net)
                let logits = try net.forward(expected.input, training: false).array
                // Float16 files hold the weights rounded to 11 significant bits.
                let tolerance: Float = name.contains("fp16") ? 1e-2 : 1e-5
                XCTAssertLessThanOrEqual(relativeError(logits, m.logits.values), tolerance, "\(name) logits")
                XCTAssertLessThanOrEqual(relativeError(pooledFeatures(net, batch: 2), m.features.values), tolerance, "\(name) features")

                XCTAssertEqual(report.loaded.count, net.store.parameters.count + net.store.buffers.count, name)
                XCTAssertEqual(report.fresh, [], name)
                XCTAssertEqual(report.unused, [], name)
                XCTAssertEqual(report.sha256, SHA256.hex(bytes: [UInt8](try Data(contentsOf: try Self.file(name)))), name)
                XCTAssertNotNil(report.batchesTracked, name)
                let format: CheckpointFormat = name.hasSuffix(".safetensors") ? .safetensors
                    : name.contains("legacy_format") ? .torchLegacy : .torchZip
                XCTAssertEqual(report.format, format, name)
                XCTAssertEqual(report.stateDictKey, name.contains("wrapped") ? "state_dict" : nil, name)
                XCTAssertEqual(report.renames.contains { $0.contains("'module.'") }, name.contains("wrapped"), name)
                XCTAssertEqual(report.renames.contains { $0.contains("legacy DenseNet") }, name.contains("legacy"), name)
                if name.contains("fp16") { XCTAssertTrue(report.storedTypes.contains("float16"), name) }
            }
        }
    }

    func testAnotherClassCountKeepsTheFeaturesAndReinitialisesTheHead() throws {
        let expected = try Self.expected()
        for (model, m) in expected.models.sorted(by: { $0.key < $1.key }) {
            var spec = m.spec
            switch spec {
            case .denseNet(var c): c.classes = 2; spec = .denseNet(c)
            case .resNet(var c): c.classes = 2; spec = .resNet(c)
            }
            let net = try spec.build(seed: 5), fresh = try spec.build(seed: 5)
            let report = try Pretrained.load(contentsOf: try Self.file(m.files[0]), into: net)
            let logits = try net.forward(expected.input, training: false)
            XCTAssertEqual(logits.shape, [2, 2])
            XCTAssertLessThanOrEqual(relativeError(pooledFeatures(net, batch: 2), m.features.values), 1e-5, model)
            let head = net.headName
            XCTAssertEqual(report.fresh.map(\.reason), [.classCount], model)
            XCTAssertEqual(report.freshTensors, ["\(head).weight", "\(head).bias"], model)
            XCTAssertTrue(report.fresh[0].detail.contains("10 classes, this model 2"), report.fresh[0].detail)
            XCTAssertTrue(report.lines.joined().contains("10 classes, this model 2"))
            // The head is exactly the fresh network's initialisation.
            for name in report.freshTensors {
                XCTAssertEqual(net.store.parameter(named: name)!.torchValues, fresh.store.parameter(named: name)!.torchValues, name)
            }
            XCTAssertEqual(report.unused, [], model)
        }
    }

    func testPlainDenseNetIntoEachSEPlacementLeavesSEFresh() throws {
        let expected = try Self.expected()
        guard case .denseNet(let plain) = expected.models["tiny_densenet"]!.spec else { return XCTFail("not a DenseNet") }
        let reference = try DenseNet(plain, seed: 5)
        _ = try Pretrained.load(contentsOf: try Self.file("tiny_densenet.pth"), into: reference)
        for placement in SEPlacement.allCases {
            var config = plain; config.seReduction = 4; config.sePlacement = placement
            let net = try DenseNet(config, seed: 5), fresh = try DenseNet(config, seed: 5)
            let report = try Pretrained.load(contentsOf: try Self.file("tiny_densenet_legacy_format.pth"), into: net)
            XCTAssertEqual(report.fresh.map(\.reason), [.seNotInFile], "\(placement)")
            let se = net.store.parameters.map(\.name).filter { $0.contains(".se.") }
            XCTAssertFalse(se.isEmpty)
            XCTAssertEqual(report.freshTensors, se, "\(placement)")
            XCTAssertTrue(report.lines.joined().contains("Squeeze-and-Excitation"))
            XCTAssertEqual(report.unused, [], "\(placement)")
            XCTAssertEqual(report.loaded.count, reference.store.parameters.count + reference.store.buffers.count)
            for p in net.store.parameters + net.store.buffers {
                let want = p.name.contains(".se.") ? fresh.store.parameters.first { $0.name == p.name }!.torchValues
                    : (reference.store.parameters + reference.store.buffers).first {
                        $0.name == p.name.replacingOccurrences(of: ".dense_block.", with: ".")
                    }!.torchValues
                XCTAssertEqual(p.torchValues, want, "\(placement) \(p.name)")
            }
        }
    }

    /// An SE network's file into the plain network: the SE tensors are reported unused.
    func testSEFileIntoPlainNetworkReportsSEUnused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-pretrained-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = DenseNetConfig(growthRate: 4, blockConfig: [2, 2], initChannels: 8, bnSize: 2,
                                   compression: DenseNetConfig.standardCompression, dropRate: DenseNetConfig.standardDropRate,
                                   classes: 3, seReduction: nil, sePlacement: .standard)
        var withSE = plain; withSE.seReduction = 2
        let url = dir.appendingPathComponent("se.safetensors")
        try DenseNet(withSE, seed: 1).store.save(to: url)
        let net = try DenseNet(plain, seed: 2)
        let report = try Pretrained.load(contentsOf: url, into: net)
        XCTAssertEqual(report.fresh, [])
        XCTAssertEqual(report.unused.count, 8)
        XCTAssertTrue(report.unused.allSatisfy { $0.contains(".se.fc.") }, "\(report.unused)")
        let json = try JSONEncoder().encode(report)
        XCTAssertEqual(try JSONDecoder().decode(LoadReport.self, from: json), report)
    }
}

/// The pooled features that entered the classifier in the last forward (`[batch, C]`, row-major).
func pooledFeatures(_ net: any Network, batch: Int) -> [Float] {
    let t: Tensor
    switch net {
    case let d as DenseNet: t = d.acts!.features
    case let r as ResNet: t = r.evaluation?.features ?? r.acts!.features  // eval without a training plan: evaluation buffers
    default: preconditionFailure("unknown network")
    }
    return Array(t.array.prefix(batch * (t.shape.last ?? 0)))
}
