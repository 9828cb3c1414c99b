import AblateCore
import Engine
@testable import Models
import XCTest

/// Every convolution DenseNet-121 hands to oneDNN at 224 / batch 32 (the 7×7 stem and each dense layer's 3×3; the
/// 1×1s are GEMMs) gets an optimised kernel in all three directions from whichever oneDNN this process loaded, so
/// none silently falls back to oneDNN's reference kernels or to im2col.
final class DenseNetFastPathTests: XCTestCase {
    override func tearDown() { Backend.current = .onednn; Backend.winograd = true }

    func testEveryConvolutionHasAnOptimisedOneDNNKernel() throws {
        Backend.current = .onednn; Backend.winograd = true
        let net = try ModelSpec.named("densenet121").build(seed: 0) as! DenseNet
        let sizes = try net.spatialSizes(224, 224)
        func map(_ hw: (h: Int, w: Int), _ c: Int) -> FeatureMap {
            FeatureMap(UnsafeMutablePointer(bitPattern: 64)!, n: 32, h: hw.h, w: hw.w, c: c, stride: c)
        }
        var convs: [(Conv2D, FeatureMap)] = [(net.conv0, map((224, 224), 3))]
        for (i, stage) in net.stages.enumerated() {
            for layer in stage.layers { convs.append((layer.conv2, map(sizes[i + 1], layer.conv2.inChannels))) }
        }
        XCTAssertEqual(convs.count, 1 + 58)
        var seen = Set<String>()
        for (conv, x) in convs {
            let label = "\(conv.kernel)×\(conv.kernel) \(conv.inChannels)→\(conv.outChannels) on \(x.h)×\(x.w)"
            guard let names = conv.oneDNNImplementations(x) else { return XCTFail("\(label): no oneDNN plan") }
            for name in names { XCTAssertFalse(name.hasPrefix("ref") || name == "none", "\(label): \(names)") }
            if seen.insert(label).inserted { print("oneDNN \(Libraries.oneDNN) \(label): \(names)") }
        }
    }
}
