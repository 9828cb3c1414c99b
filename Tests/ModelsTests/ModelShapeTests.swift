import Engine
@testable import Models
import XCTest

final class ModelShapeTests: XCTestCase {
    /// PyTorch's counts for the seed's models with 2 classes (and torchvision's DenseNet-169/201 features).
    func testParameterCountsMatchPyTorch() throws {
        let expected = ["densenet121": 6_955_906, "densenet121-se8": 7_565_282, "densenet121-se16": 7_262_002,
                        "densenet121-se32": 7_110_362,
                        // torchvision: 14,149,480 − (1664·1000 + 1000) + (1664·2 + 2)
                        "densenet169": 12_487_810,
                        // torchvision: 20,013,928 − (1920·1000 + 1000) + (1920·2 + 2)
                        "densenet201": 18_096_770]
        for (name, count) in expected {
            let net = try DenseNet(try DenseNetConfig.named(name), seed: 1)
            XCTAssertEqual(net.store.parameterScalars, count, name)
        }
    }

    func testMultiplyAdds() throws {
        let plain = try DenseNet(.densenet121, seed: 1).summary(inputSize: 224)
        XCTAssertEqual(plain.multiplyAdds, 2_833_139_712)
        XCTAssertEqual(plain.outputShape, [1, 2])
        // SE adds two Linear layers per block: 2·C·⌊C/r⌋ multiply-adds, C = 256, 512, 1024, 1024.
        for r in [8, 16, 32] {
            let se = try DenseNet(try DenseNetConfig.named("densenet121-se\(r)"), seed: 1).summary(inputSize: 224)
            let extra = [256, 512, 1024, 1024].reduce(0) { $0 + 2 * $1 * ($1 / r) }
            XCTAssertEqual(se.multiplyAdds, 2_833_139_712 + extra, "r=\(r)")
        }
    }

    func testNamesAndValidation() throws {
        XCTAssertEqual(try DenseNetConfig.named("DenseNet121-SE16").seReduction, 16)
        XCTAssertThrowsError(try DenseNetConfig.named("resnet50")) { XCTAssertTrue("\($0)".contains("resnet50")) }
        XCTAssertThrowsError(try DenseNetConfig.named("densenet121-se2048")) { e in
            XCTAssertTrue("\(e)".contains("leaves 0 channels"), "\(e)")
        }
        var bad = DenseNetConfig.densenet121
        bad.compression = 0
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("compression")) }
    }

    /// Global pooling is adaptive: any input ≥ 32 gives [N, classes]; odd sizes work.
    func testAnyInputSize() throws {
        var config = DenseNetConfig(growthRate: 4, blockConfig: [2, 2, 2, 2], initChannels: 8, bnSize: 2, classes: 3)
        config.seReduction = 4
        let net = try DenseNet(config, seed: 3)
        for s in [32, 45, 64] {
            let x = Tensor([2, s, s, 3])
            var rng = SeededGenerator(seed: UInt64(s))
            for i in 0..<x.count { x[i] = Float(rng.normal()) }
            let y = try net.forward(x, training: false)
            XCTAssertEqual(y.shape, [2, 3])
            XCTAssertTrue(y.array.allSatisfy(\.isFinite))
        }
        XCTAssertThrowsError(try net.forward(Tensor([1, 8, 8, 3]), training: false)) { e in
            XCTAssertTrue("\(e)".contains("too small"), "\(e)")
        }
    }

    func testLayerTreeNamesEveryBlock() throws {
        let tree = try DenseNet(try DenseNetConfig.named("densenet121-se16"), seed: 0).layerTree(inputSize: 224)
        XCTAssertTrue(tree.contains("(denseblock3): DenseBlockWithSE(  # → [1, 1024, 14, 14]"))
        XCTAssertTrue(tree.contains("(transition1): _Transition(  # → [1, 128, 28, 28]"))
        XCTAssertTrue(tree.contains("(classifier): Linear(in_features=1024, out_features=2, bias=True)"))
        XCTAssertEqual(tree.components(separatedBy: "_DenseLayer(").count - 1, 58)
    }
}
