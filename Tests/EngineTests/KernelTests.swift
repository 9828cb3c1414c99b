@testable import Engine
import XCTest

/// Properties the golden files cannot show: strided channel views (dense blocks read prefixes and write slices
/// of one wide buffer) must give exactly what dense buffers give, and the fused BN+ReLU backward must equal
/// the finite differences of BN followed by ReLU.
final class KernelTests: XCTestCase {
    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let t = Tensor(shape)
        for i in 0..<t.count { t[i] = Float(rng.normal()) }
        return t
    }

    func testConvolutionOnStridedViewsMatchesDense() {
        for (k, pad) in [(1, 0), (3, 1)] {
            let store = ParameterStore()
            let conv = Conv2D(store, name: "c", in: 5, out: 4, kernel: k, padding: pad)
            var rng = SeededGenerator(seed: 2)
            store.finalize(rng: &rng)
            let ws = Workspace()
            let wide = random([2, 6, 7, 11], seed: 3)          // channels 0..<5 are the input
            let dense = Tensor([2, 6, 7, 5]); copyMap(wide.map.channels(0, 5), dense.map)
            let out1 = Tensor([2, 6, 7, 4]), outWide = Tensor([2, 6, 7, 9])
            conv.forward(dense.map, out1.map, ws)
            conv.forward(wide.map.channels(0, 5), outWide.map.channels(5, 4), ws)
            let slice = Tensor([2, 6, 7, 4]); copyMap(outWide.map.channels(5, 4), slice.map)
            XCTAssertEqual(out1.array, slice.array, "k=\(k) forward")
            // Backward: accumulate into a strided dx.
            let dy = random([2, 6, 7, 4], seed: 4)
            let dx1 = Tensor([2, 6, 7, 5]), dxWide = Tensor([2, 6, 7, 11])
            conv.backward(dense.map, dy.map, dx: dx1.map, ws)
            let g1 = conv.weight.torchGrad
            store.zeroGrad()
            conv.backward(wide.map.channels(0, 5), dy.map, dx: dxWide.map.channels(0, 5), accumulate: true, ws)
            let dxSlice = Tensor([2, 6, 7, 5]); copyMap(dxWide.map.channels(0, 5), dxSlice.map)
            for (a, b) in zip(dx1.array, dxSlice.array) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            XCTAssertEqual(g1, conv.weight.torchGrad, "k=\(k) weight grad")
            // Channels 5... of dxWide were not touched.
            XCTAssertTrue((0..<(2 * 6 * 7)).allSatisfy { r in (5..<11).allSatisfy { dxWide[r * 11 + $0] == 0 } })
        }
    }

    func testFusedBatchNormReLUBackwardMatchesFiniteDifferences() {
        let store = ParameterStore()
        let bn = BatchNorm2D(store, name: "bn", channels: 3)
        var rng = SeededGenerator(seed: 5)
        store.finalize(rng: &rng)
        for c in 0..<3 { bn.weight.value[c] = [0.5, 1.5, -0.7][c]; bn.bias.value[c] = [0.1, -0.2, 0.3][c] }
        let x = random([2, 3, 4, 3], seed: 6)
        for i in 0..<x.count { x[i] = x[i] * 2 + 5 } // a mean far from zero exercises the shifted moments
        let w = random([2, 3, 4, 3], seed: 7)
        func loss() -> Double {
            let y = Tensor(x.shape)
            let saved = store.bufferValues.array
            bn.forward(x.map, y.map, training: true, relu: true)
            for i in saved.indices { store.bufferValues[i] = saved[i] }
            return (0..<y.count).reduce(0.0) { $0 + Double(y[$1] * w[$1]) }
        }
        _ = loss()
        let dx = Tensor(x.shape)
        dx.fill(1) // accumulate: true must add to what is there
        bn.backward(x.map, w.map, dx.map, relu: true, accumulate: true)
        let eps: Float = 1e-3
        for i in stride(from: 0, to: x.count, by: 5) {
            let s = x[i]
            x[i] = s + eps; let up = loss()
            x[i] = s - eps; let down = loss()
            x[i] = s
            XCTAssertEqual(Double(dx[i] - 1), (up - down) / Double(2 * eps), accuracy: 2e-2, "x[\(i)]")
        }
        for c in 0..<3 {
            let s = bn.weight.value[c]
            bn.weight.value[c] = s + eps; let up = loss()
            bn.weight.value[c] = s - eps; let down = loss()
            bn.weight.value[c] = s
            XCTAssertEqual(Double(bn.weight.grad[c]), (up - down) / Double(2 * eps), accuracy: 2e-2, "gamma[\(c)]")
        }
    }

    func testDropoutKeepsExpectationAndMasksGradients() {
        let x = Tensor([1, 100, 100, 4]); x.fill(1)
        let mask = UnsafeMutablePointer<Float>.allocate(capacity: x.count); defer { mask.deallocate() }
        var rng = SeededGenerator(seed: 9)
        Dropout(p: 0.3).forward(x.map, mask: mask, rng: &rng)
        let mean = x.array.reduce(0, +) / Float(x.count)
        XCTAssertEqual(mean, 1, accuracy: 0.03)
        let zeros = x.array.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / Double(x.count), 0.3, accuracy: 0.02)
        let g = Tensor(x.shape); g.fill(2)
        Dropout(p: 0.3).backward(g.map, mask: mask)
        for i in 0..<x.count { XCTAssertEqual(g[i], 2 * x[i]) }
    }

    func testDeterministicReductionsForAnyThreadCount() {
        let x = random([4, 33, 31, 7], seed: 10)
        func stats(_ threads: Int) -> [Float] {
            Threads.set(threads)
            let store = ParameterStore(); let bn = BatchNorm2D(store, name: "b", channels: 7)
            var rng = SeededGenerator(seed: 0); store.finalize(rng: &rng)
            let y = Tensor(x.shape)
            bn.forward(x.map, y.map, training: true, relu: true)
            return y.array + store.bufferValues.array
        }
        let before = Threads.count
        defer { Threads.set(before) }
        XCTAssertEqual(stats(1), stats(2))
    }

    /// Dense blocks compute each channel's statistics once and reuse them: a channel's moments must not depend on
    /// which slice they were computed in.
    func testChannelMomentsOfASliceEqualThoseOfTheWholeMap() {
        let x = random([3, 17, 19, 40], seed: 12)
        let whole = ChannelMoments(x.map)
        let part = ChannelMoments(x.map.channels(13, 9))
        XCTAssertEqual(part.mean.map(\.bitPattern), whole.slice(13, 9).mean.map(\.bitPattern))
        XCTAssertEqual(part.variance.map(\.bitPattern), whole.slice(13, 9).variance.map(\.bitPattern))
        var stitched = ChannelMoments(mean: .init(repeating: 0, count: 40), variance: .init(repeating: 0, count: 40))
        stitched.store(ChannelMoments(x.map.channels(0, 13)), at: 0)
        stitched.store(ChannelMoments(x.map.channels(13, 27)), at: 13)
        XCTAssertEqual(stitched.mean, whole.mean)
        XCTAssertEqual(stitched.variance, whole.variance)
    }

    /// Subnormal results are flushed to zero on the engine's threads (they made SE-DenseNet's GEMMs 2× slower).
    func testSubnormalsAreFlushedToZero() {
        Threads.set(Threads.count)
        let store = ParameterStore(); let bn = BatchNorm2D(store, name: "b", channels: 1)
        var rng = SeededGenerator(seed: 0); store.finalize(rng: &rng)
        let x = Tensor([1, 1, 1, 1], [Float.leastNormalMagnitude]), y = Tensor([1, 1, 1, 1])
        bn.prepare(x.map, training: false)  // a forward saves an affine map (apply needs one); set it by hand
        bn.scale[0] = 0.25; bn.shift[0] = 0
        bn.apply(x.map, y.map, relu: false)
        XCTAssertEqual(y[0], 0, "leastNormalMagnitude × 0.25 is subnormal and must flush to 0")
    }
}
