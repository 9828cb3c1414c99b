import Foundation
import Engine
import XCTest

/// Σ|terms| of each gradient element is the gradient of the same layer with every factor made positive: the
/// recorder's numbers equal the layer's own backward on |x| and |dy|.
final class GradientTermTests: XCTestCase {
    func positive(_ t: Tensor) -> Tensor {
        let out = Tensor(t.shape)
        for i in 0..<t.count { out[i] = abs(t[i]) }
        return out
    }

    func random(_ shape: [Int], _ rng: inout SeededGenerator) -> Tensor {
        let t = Tensor(shape)
        for i in 0..<t.count { t[i] = Float(rng.normal()) }
        return t
    }

    func testConvolutionAndLinearTermsAreTheirBackwardOnAbsoluteValues() throws {
        var rng = SeededGenerator(seed: 7)
        for (kernel, stride, padding) in [(3, 1, 1), (1, 1, 0), (3, 2, 1)] {
            let store = ParameterStore()
            let conv = Conv2D(store, name: "conv", in: 5, out: 4, kernel: kernel, stride: stride, padding: padding)
            store.finalize(rng: &rng)
            let (n, h, w) = (2, 7, 6)
            let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
            let x = random([n, h, w, 5], &rng), dy = random([n, oh, ow, 4], &rng)
            let ws = Workspace()
            let recorder = GradientTermRecorder()
            recorder.recording {
                conv.backward(FeatureMap(x.data, n: n, h: h, w: w, c: 5, stride: 5),
                              FeatureMap(dy.data, n: n, h: oh, w: ow, c: 4, stride: 4), dx: nil, ws)
            }
            store.zeroGrad()
            let (ax, ady) = (positive(x), positive(dy))
            conv.backward(FeatureMap(ax.data, n: n, h: h, w: w, c: 5, stride: 5),
                          FeatureMap(ady.data, n: n, h: oh, w: ow, c: 4, stride: 4), dx: nil, ws)
            let got = try XCTUnwrap(recorder.torchMagnitudes(conv.weight))
            for (a, b) in zip(got, conv.weight.torchGrad) { XCTAssertEqual(a, Double(b), accuracy: 1e-4 * max(1, abs(a))) }
            XCTAssertEqual(recorder.termCounts["conv.weight"], n * oh * ow)
        }
        let store = ParameterStore()
        let linear = Linear(store, name: "fc", in: 6, out: 3)
        store.finalize(rng: &rng)
        let x = random([4, 6], &rng), dy = random([4, 3], &rng)
        let recorder = GradientTermRecorder()
        recorder.recording { linear.backward(x.data, dy.data, dx: nil, batch: 4) }
        store.zeroGrad()
        let (ax, ady) = (positive(x), positive(dy))
        linear.backward(ax.data, ady.data, dx: nil, batch: 4)
        for p in [linear.weight, linear.bias] {
            let got = try XCTUnwrap(recorder.torchMagnitudes(p))
            for (a, b) in zip(got, p.torchGrad) { XCTAssertEqual(a, Double(b), accuracy: 1e-5 * max(1, abs(a))) }
        }
    }

    /// BatchNorm: Σ|g| for β and Σ|g·x̂| for γ, with the ReLU mask of the output; nothing is recorded when no
    /// recorder is active (training).
    func testBatchNormTermsAndNoRecordingByDefault() throws {
        var rng = SeededGenerator(seed: 3)
        let store = ParameterStore()
        let bn = BatchNorm2D(store, name: "bn", channels: 3)
        store.finalize(rng: &rng)
        let (rows, c) = (10, 3)
        let x = random([1, 2, 5, c], &rng), dy = random([1, 2, 5, c], &rng), dx = Tensor([1, 2, 5, c])
        let map = { (t: Tensor) in FeatureMap(t.data, n: 1, h: 2, w: 5, c: c, stride: c) }
        let y = Tensor([1, 2, 5, c])
        withExtendedLifetime(y) { bn.forward(map(x), map(y), training: true, relu: true) }
        XCTAssertNil(GradientTermRecorder.active)
        let recorder = GradientTermRecorder()
        recorder.recording { bn.backward(map(x), map(dy), map(dx), relu: true, accumulate: false) }
        var mean = [Double](repeating: 0, count: c), variance = mean
        for r in 0..<rows { for i in 0..<c { mean[i] += Double(x[r * c + i]) / Double(rows) } }
        for r in 0..<rows { for i in 0..<c { variance[i] += pow(Double(x[r * c + i]) - mean[i], 2) / Double(rows) } }
        for i in 0..<c {
            var sumG = 0.0, sumGX = 0.0
            for r in 0..<rows {
                let xhat = (Double(x[r * c + i]) - mean[i]) / (variance[i] + 1e-5).squareRoot()
                if xhat * Double(bn.weight.value[i]) + Double(bn.bias.value[i]) <= 0 { continue }
                sumG += abs(Double(dy[r * c + i])); sumGX += abs(Double(dy[r * c + i]) * xhat)
            }
            XCTAssertEqual(recorder.magnitudes["bn.bias"]![i], sumG, accuracy: 1e-5)
            XCTAssertEqual(recorder.magnitudes["bn.weight"]![i], sumGX, accuracy: 1e-4)
        }
        XCTAssertEqual(recorder.termCounts["bn.bias"], rows)
    }
}
