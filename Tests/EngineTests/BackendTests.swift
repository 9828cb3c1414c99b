import AblateCore
@testable import Engine
import Foundation
import XCTest

/// The oneDNN backend (the default) against the OpenBLAS/im2col reference: same convolutions and GEMMs within
/// float rounding, on the shapes DenseNet uses (Winograd-eligible 3×3, the strided 7×7 stem, strided channel
/// views, accumulation), and never on oneDNN's slow reference kernels.
final class BackendTests: XCTestCase {
    override func tearDown() {
        Backend.current = .onednn
        Backend.winograd = true
    }

    func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let t = Tensor(shape)
        for i in 0..<t.count { t[i] = scale * Float(rng.normal()) }
        return t
    }

    /// oneDNN 2.x has Winograd kernels only for AVX-512 (x86-64; an arm64 `flags` line does not exist, so false
    /// there and the Winograd-specific checks are skipped).
    let hasAVX512 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx512f ") ?? false

    struct ConvResult { let y: [Float], dx: [Float], dw: [Float] }

    /// Forward and backward of one convolution, optionally on channel views of wider buffers (input channels
    /// 2..<2+cin of a buffer with 3 extra channels, output and dx written/accumulated into slices).
    func run(_ backend: Backend, winograd: Bool = true, cin: Int, cout: Int, kernel: Int, stride: Int,
             padding: Int, n: Int = 2, h: Int, w: Int, strided: Bool) -> ConvResult {
        Backend.current = backend; Backend.winograd = winograd
        let store = ParameterStore()
        let conv = Conv2D(store, name: "c", in: cin, out: cout, kernel: kernel, stride: stride, padding: padding)
        var rng = SeededGenerator(seed: 5)
        store.finalize(rng: &rng)
        let ws = Workspace()
        let (oh, ow) = conv.outputSize(h, w)
        let extra = strided ? 3 : 0
        let x = random([n, h, w, cin + extra], seed: 11)
        let xMap = x.map.channels(strided ? 2 : 0, cin)
        let y = Tensor([n, oh, ow, cout + extra])
        let yMap = y.map.channels(strided ? 1 : 0, cout)
        conv.forward(xMap, yMap, ws)
        let dy = random([n, oh, ow, cout + extra], seed: 12)
        let dx = random([n, h, w, cin + extra], seed: 13)          // accumulated into when strided
        conv.backward(xMap, dy.map.channels(strided ? 1 : 0, cout), dx: dx.map.channels(strided ? 2 : 0, cin),
                      accumulate: strided, ws)
        conv.backward(xMap, dy.map.channels(strided ? 1 : 0, cout), dx: nil, ws)   // dW accumulates twice
        return ConvResult(y: y.array, dx: dx.array, dw: Array(UnsafeBufferPointer(start: conv.weight.grad, count: conv.weight.count)))
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, relative: Float = 2e-5) {
        XCTAssertEqual(a.count, b.count, what)
        let scale = max(a.map(abs).max() ?? 0, 1e-6)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, relative, "\(what): max |Δ| \(worst) of scale \(scale)")
    }

    func testConvolutionsMatchTheReference() {
        let cases: [(cin: Int, cout: Int, k: Int, s: Int, p: Int, h: Int, w: Int)] = [
            (32, 16, 3, 1, 1, 12, 10),   // a dense layer's 3×3 (Winograd-eligible: channels in multiples of 16)
            (5, 7, 3, 1, 1, 9, 8),       // odd channel counts: direct kernels
            (3, 8, 7, 2, 3, 19, 17),     // the stem
            (6, 4, 3, 2, 1, 9, 11),      // strided 3×3
            (12, 8, 1, 1, 0, 6, 5),      // 1×1: a GEMM (oneDNN sgemm vs OpenBLAS)
        ]
        for c in cases {
            for strided in [false, true] {
                let label = "\(c.cin)→\(c.cout) k\(c.k) s\(c.s) strided=\(strided)"
                let reference = run(.openblas, cin: c.cin, cout: c.cout, kernel: c.k, stride: c.s, padding: c.p,
                                    h: c.h, w: c.w, strided: strided)
                for winograd in [true, false] {
                    if c.k == 3 && c.s == 1 && c.cin % 16 == 0 && c.cout % 16 == 0 && hasAVX512 {
                        Backend.current = .onednn; Backend.winograd = winograd
                        let store = ParameterStore()
                        let conv = Conv2D(store, name: "c", in: c.cin, out: c.cout, kernel: 3, padding: 1)
                        let x = FeatureMap(UnsafeMutablePointer(bitPattern: 64)!, n: 2, h: c.h, w: c.w, c: c.cin, stride: c.cin)
                        let names = conv.oneDNNImplementations(x) ?? []
                        XCTAssertEqual(names.filter { $0.contains("wino") }.count, winograd ? 3 : 0,
                                       "\(label) winograd=\(winograd): \(names)")
                    }
                    let fast = run(.onednn, winograd: winograd, cin: c.cin, cout: c.cout, kernel: c.k, stride: c.s,
                                   padding: c.p, h: c.h, w: c.w, strided: strided)
                    assertClose(fast.y, reference.y, "\(label) winograd=\(winograd) output")
                    assertClose(fast.dx, reference.dx, "\(label) winograd=\(winograd) input gradient")
                    assertClose(fast.dw, reference.dw, "\(label) winograd=\(winograd) weight gradient")
                }
            }
        }
    }

    /// oneDNN must run every convolution DenseNet-121 has on an optimised kernel: a fixed weight layout once made
    /// it fall back to its reference kernels (~0.1 GFLOP/s) without any error.
    func testDenseNetConvolutionsAvoidReferenceKernels() {
        Backend.current = .onednn
        let store = ParameterStore()
        let shapes: [(Conv2D, FeatureMap)] = [
            (Conv2D(store, name: "stem", in: 3, out: 64, kernel: 7, stride: 2, padding: 3),
             FeatureMap(UnsafeMutablePointer(bitPattern: 64)!, n: 32, h: 224, w: 224, c: 3, stride: 3)),
            (Conv2D(store, name: "l", in: 128, out: 32, kernel: 3, padding: 1),
             FeatureMap(UnsafeMutablePointer(bitPattern: 64)!, n: 32, h: 56, w: 56, c: 128, stride: 128)),
            (Conv2D(store, name: "l7", in: 128, out: 32, kernel: 3, padding: 1),
             FeatureMap(UnsafeMutablePointer(bitPattern: 64)!, n: 32, h: 7, w: 7, c: 128, stride: 128)),
        ]
        for (conv, x) in shapes {
            guard let names = conv.oneDNNImplementations(x) else { return XCTFail("no oneDNN plan for \(conv.kernel)×\(conv.kernel)") }
            // [forward, backward data, backward weights]; the stem never needs a gradient for the image.
            let used = conv.kernel == 7 ? [names[0], names[2]] : names
            for name in used { XCTAssertFalse(name.hasPrefix("ref") || name == "none", "\(conv.kernel)×\(conv.kernel) on \(x.h)×\(x.w): \(names)") }
        }
    }

    /// When Winograd works on 16-channel blocks, BN-ReLU writes its input and reads its input gradient in that
    /// layout itself; the chain BN-ReLU → conv → backward must give what the NHWC chain gives.
    func testBlockedLayoutBetweenBatchNormAndConvolutionMatchesNHWC() throws {
        Backend.current = .onednn; Backend.winograd = true
        let store = ParameterStore()
        let bn = BatchNorm2D(store, name: "bn", channels: 32)
        let conv = Conv2D(store, name: "c", in: 32, out: 16, kernel: 3, padding: 1)
        var rng = SeededGenerator(seed: 9)
        store.finalize(rng: &rng)
        let x = random([3, 10, 9, 32], seed: 21), dy = random([3, 10, 9, 16], seed: 22)
        let act = Tensor(x.shape), dAct = Tensor(x.shape)
        let block = conv.inputBlock(act.map)
        guard block == 16 else { throw XCTSkip("no blocked-layout oneDNN kernel on this machine (Winograd needs AVX-512)") }
        let ws = Workspace()
        func run(_ block: Int) -> [[Float]] {
            store.zeroGrad()
            bn.forward(x.map, act.map, training: true, relu: true, outputBlock: block)
            let y = Tensor(dy.shape), dx = Tensor(x.shape)
            conv.forward(act.map, y.map, ws, inputBlock: block)
            conv.backward(act.map, dy.map, dx: dAct.map, ws, inputBlock: block)
            bn.backward(x.map, dAct.map, dx.map, relu: true, accumulate: false, dyBlock: block)
            return [y.array, dx.array, store.grads.array]
        }
        let nhwc = run(0), blocked = run(16)
        for (i, what) in ["output", "input gradient", "parameter gradients"].enumerated() {
            assertClose(blocked[i], nhwc[i], what, relative: 1e-6)
        }
        XCTAssertGreaterThan(nhwc[1].map(abs).max() ?? 0, 0, "the gradient reached the input")
    }

    func testGEMMsMatchTheReference() {
        // Every transpose combination with leading dimensions wider than the matrices, alpha and beta.
        let (m, n, k) = (37, 29, 41)
        let a = random([64 * 64], seed: 1), b = random([64 * 64], seed: 2), c0 = random([64 * 64], seed: 3)
        for transA in [false, true] {
            for transB in [false, true] {
                var results: [[Float]] = []
                for backend in Backend.allCases {
                    Backend.current = backend
                    let c = Tensor([64 * 64]); c.data.update(from: c0.data, count: c0.count)
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a.data, lda: 50,
                          b: b.data, ldb: 45, beta: 0.25, c: c.data, ldc: 31)
                    results.append(c.array)
                }
                assertClose(results[1], results[0], "sgemm transA=\(transA) transB=\(transB)")
                XCTAssertEqual(results[1][31 * m - 1], c0[31 * m - 1], "outside the C matrix nothing changes")
            }
        }
    }

    /// Runs record the backend that ran: Winograd only where oneDNN has it, which on x86-64 is on AVX-512
    /// processors whose oneDNN is not capped below AVX-512 (`ONEDNN_MAX_CPU_ISA=AVX2`, as the test script's second
    /// pass sets it). Elsewhere (arm64) the probe itself is the only authority: the description must follow it.
    func testWinogradIsReportedOnlyWhereItRuns() throws {
        #if arch(x86_64)
        let available = ProcessorInfo.isa.hasPrefix("avx512") && OneDNNISACap.allowsAVX512
        XCTAssertEqual(Backend.winogradAvailable, available, "isa \(ProcessorInfo.isa), cap \(OneDNNISACap.value ?? "none")")
        #else
        let available = Backend.winogradAvailable
        #endif
        let saved = (Backend.current, Backend.winograd)
        defer { (Backend.current, Backend.winograd) = saved }
        (Backend.current, Backend.winograd) = (.onednn, true)
        XCTAssertEqual(Backend.description, available ? "onednn+winograd" : "onednn")
        Backend.winograd = false
        XCTAssertEqual(Backend.description, "onednn")
    }
}

final class SqueezeExcitationMomentsTests: XCTestCase {
    func testOutputMomentsEqualThoseOfTheOutput() {
        let store = ParameterStore()
        let se = SqueezeExcitation(store, name: "se", channels: 24, reduction: 4)
        var rng = SeededGenerator(seed: 3)
        store.finalize(rng: &rng)
        let x = Tensor([5, 7, 6, 24])
        for i in 0..<x.count { x[i] = 3 + 2 * Float(rng.normal()) }      // a mean well away from zero
        let y = Tensor(x.shape)
        se.forward(x.map, y.map)
        let fromSqueeze = se.outputMoments(rows: x.map.rows), direct = ChannelMoments(y.map)
        for c in 0..<24 {
            XCTAssertEqual(fromSqueeze.mean[c], direct.mean[c], accuracy: 1e-6 * max(1, abs(direct.mean[c])), "mean \(c)")
            XCTAssertEqual(fromSqueeze.variance[c], direct.variance[c], accuracy: 1e-5 * direct.variance[c], "variance \(c)")
        }
        XCTAssertGreaterThan(direct.variance.min() ?? 0, 0)
    }
}
