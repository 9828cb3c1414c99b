import AblateCore
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

    /// torchvision's counts with the 1000-class head replaced by a 2-class one (issue 14), and SE-ResNet-50 with
    /// r = 16: Σ over the 16 blocks of 2·C·C/16 + C/16 + C, C = 256·(3) + 512·(4) + 1024·(6) + 2048·(3).
    func testResNetParameterCounts() throws {
        let expected = ["resnet18": 11_177_538, "resnet50": 23_512_130, "resnet50-se16": 26_043_122,
                        // torchvision: 21,797,672 − (512·1000 + 1000) + (512·2 + 2)
                        "resnet34": 21_285_698]
        for (name, count) in expected {
            let net = try ModelSpec.named(name).build(seed: 1)
            XCTAssertEqual(net.store.parameterScalars, count, name)
            XCTAssertEqual(try net.summary(inputSize: 224).parameters, count, name)
        }
    }

    /// The multiply-adds commonly quoted for torchvision's models (1000 classes): ResNet-18 1.814 G, ResNet-50
    /// 4.089 G; SE adds 2·C·C/16 per block.
    func testResNetMultiplyAdds() throws {
        XCTAssertEqual(try ModelSpec.named("resnet18", classes: 1000).build(seed: 1).summary(inputSize: 224).multiplyAdds, 1_814_073_344)
        XCTAssertEqual(try ModelSpec.named("resnet50", classes: 1000).build(seed: 1).summary(inputSize: 224).multiplyAdds, 4_089_184_256)
        let extra = [(256, 3), (512, 4), (1024, 6), (2048, 3)].reduce(0) { $0 + $1.1 * 2 * $1.0 * ($1.0 / 16) }
        XCTAssertEqual(try ModelSpec.named("resnet50-se16").build(seed: 1).summary(inputSize: 224).multiplyAdds,
                       4_089_184_256 - 2048 * 998 + extra)
    }

    func testResNetLayerTree() throws {
        let tree = try ModelSpec.named("resnet50-se16").build(seed: 0).layerTree(inputSize: 224)
        XCTAssertTrue(tree.contains("(layer1): Sequential(  # → [1, 256, 56, 56]"), tree)
        XCTAssertTrue(tree.contains("(layer4): Sequential(  # → [1, 2048, 7, 7]"))
        XCTAssertTrue(tree.contains("(conv2): Conv2d(128, 128, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"),
                      "the stride is on the 3×3")
        XCTAssertEqual(tree.components(separatedBy: "Bottleneck(").count - 1, 16)
        XCTAssertEqual(tree.components(separatedBy: "(se): SELayer(").count - 1, 16)
        XCTAssertEqual(tree.components(separatedBy: "(downsample): Sequential(").count - 1, 4)
        let basic = try ModelSpec.named("resnet18").build(seed: 0).layerTree(inputSize: 224)
        XCTAssertEqual(basic.components(separatedBy: "BasicBlock(").count - 1, 8)
        XCTAssertFalse(basic.contains("SELayer"))
    }

    /// SE placements: names round-trip, parameters land where the reference files put them, and SE adds exactly
    /// its two Linear layers per site.
    func testDenseNetSEPlacements() throws {
        let layer = try DenseNetConfig.named("densenet121-se16-layer")
        XCTAssertEqual(layer.sePlacement, .layer)
        XCTAssertEqual(layer.displayName, "densenet121-se16-layer")
        XCTAssertEqual(try DenseNetConfig.named("DenseNet121-SE16-Transition").displayName, "densenet121-se16-transition")
        XCTAssertEqual(try DenseNetConfig.named("densenet121-se16-block"), try DenseNetConfig.named("densenet121-se16"))
        for bad in ["densenet121-layer", "densenet121-se16-everywhere", "densenet121-se16-layer-x", "resnet50-se16-layer"] {
            XCTAssertThrowsError(try ModelSpec.named(bad), bad) { XCTAssertTrue("\($0)".contains("unknown model"), "\($0)") }
        }
        // Layer SE at r = 16 squeezes 32 maps to 2: 58 layers × (32·2 + 2 + 2·32 + 32).
        XCTAssertEqual(try DenseNet(layer, seed: 1).store.parameterScalars, 6_955_906 + 58 * (32 * 2 + 2 + 2 * 32 + 32))
        // Transition SE on 128, 256, 512 channels.
        let transition = try DenseNet(try DenseNetConfig.named("densenet121-se16-transition"), seed: 1)
        XCTAssertEqual(transition.store.parameterScalars,
                       6_955_906 + [128, 256, 512].reduce(0) { $0 + 2 * $1 * ($1 / 16) + $1 / 16 + $1 })
        XCTAssertNotNil(transition.store.parameter(named: "features.transition3.se.fc.2.bias"))
        XCTAssertNotNil(transition.store.parameter(named: "features.denseblock1.denselayer1.conv1.weight"), "no dense_block wrapper")
        XCTAssertThrowsError(try DenseNetConfig.named("densenet121-se64-layer")) { XCTAssertTrue("\($0)".contains("each dense layer"), "\($0)") }
        let tree = try DenseNet(layer, seed: 0).layerTree(inputSize: 224)
        XCTAssertEqual(tree.components(separatedBy: "(se): SELayer(").count - 1, 58)
        XCTAssertFalse(tree.contains("DenseBlockWithSE"))
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
        XCTAssertEqual(try ModelSpec.named("ResNet50-SE16"), .resNet(ResNetConfig(block: .bottleneck, layers: [3, 4, 6, 3], width: 64, classes: 2, seReduction: 16)))
        XCTAssertThrowsError(try ModelSpec.named("resnet50-se512")) { XCTAssertTrue("\($0)".contains("leaves zero channels"), "\($0)") }
        XCTAssertThrowsError(try ModelSpec.named("resnet101")) { XCTAssertTrue("\($0)".contains("resnet18, resnet34, resnet50"), "\($0)") }
        XCTAssertThrowsError(try DenseNetConfig.named("densenet121-se2048")) { e in
            XCTAssertTrue("\(e)".contains("leaves zero channels"), "\(e)")
        }
        var bad = DenseNetConfig.densenet121
        bad.compression = 0
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("compression")) }
    }

    /// Global pooling is adaptive: any input ≥ 32 gives [N, classes]; odd sizes work.
    func testAnyInputSize() throws {
        var config = DenseNetConfig(growthRate: 4, blockConfig: [2, 2, 2, 2], initChannels: 8, bnSize: 2, compression: 0.5, dropRate: 0, classes: 3, seReduction: nil, sePlacement: .block)
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
