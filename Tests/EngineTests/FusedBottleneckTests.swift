@testable import Engine
import XCTest

/// The fused BN-ReLU → 1×1 convolution paths against the plain sequence of layers, on both backends, with more
/// rows than one chunk and a strided input (a channel prefix of a dense-block buffer).
final class FusedBottleneckTests: XCTestCase {
    override func tearDown() { Backend.current = .onednn }

    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let t = Tensor(shape)
        for i in 0..<t.count { t[i] = Float(rng.normal()) }
        return t
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String) {
        XCTAssertEqual(a.count, b.count, what)
        let scale = max(b.map(abs).max() ?? 0, 1e-6)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, 1e-5, "\(what): max |Δ| \(worst) of scale \(scale)")
    }

    func testFusedPathsMatchTheLayerSequence() {
        let (n, h, w, cin, wide, cout) = (4, 16, 15, 300, 311, 24)
        XCTAssertGreaterThan(n * h * w, FusedBottleneck.chunkRows(cin), "the test must span several chunks")
        for backend in Backend.allCases {
            Backend.current = backend
            let store = ParameterStore()
            let bn = BatchNorm2D(store, name: "bn", channels: cin)
            let conv = Conv2D(store, name: "conv", in: cin, out: cout, kernel: 1)
            var rng = SeededGenerator(seed: 4)
            store.finalize(rng: &rng)
            let ws = Workspace()
            let buffer = random([n, h, w, wide], seed: 1)
            let x = buffer.map.channels(0, cin)
            let dy = random([n, h, w, cout], seed: 2)
            let dxStart = random([n, h, w, wide], seed: 3)

            // Plain sequence: BN-ReLU into a buffer, GEMM, GEMM backward, BN backward accumulating into dx.
            let act = Tensor([n, h, w, cin]), y1 = Tensor([n, h, w, cout]), dAct = Tensor([n, h, w, cin])
            let dx1 = Tensor(dxStart.shape); dx1.data.update(from: dxStart.data, count: dxStart.count)
            bn.forward(x, act.map, training: true, relu: true)
            conv.forward(act.map, y1.map, ws)
            conv.backward(act.map, dy.map, dx: dAct.map, ws)
            bn.backward(x, dAct.map, dx1.map.channels(0, cin), relu: true, accumulate: true)
            let grads1 = store.grads.array

            // Fused.
            store.zeroGrad()
            let y2 = Tensor([n, h, w, cout]), da = Tensor([n, h, w, cin])
            let dx2 = Tensor(dxStart.shape); dx2.data.update(from: dxStart.data, count: dxStart.count)
            bn.prepare(x, training: true)
            FusedBottleneck.forward(bn, conv, x, y2.map, ws)
            FusedBottleneck.weightGradient(bn, conv, x, dy.map, ws)
            FusedBottleneck.backwardData(bn, conv, x, dy.map, da: da.map, dx: dx2.map.channels(0, cin), accumulate: true)

            assertClose(y2.array, y1.array, "\(backend) output")
            assertClose(da.array, dAct.array, "\(backend) gradient of the activations")
            assertClose(dx2.array, dx1.array, "\(backend) input gradient (accumulated, channels past the prefix kept)")
            assertClose(store.grads.array, grads1, "\(backend) parameter gradients (conv weight, BN γ and β)")
        }
    }
}
