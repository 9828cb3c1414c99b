// oneDNN direct convolutions for the `onednn` backend: plans (primitives for forward, backward data and
// backward weights) are created once per shape and kept for the life of the process. oneDNN wants dense NHWC
// tensors, so channel slices of a dense-block buffer are packed into scratch first (a layer's 32 growth
// channels: a few MB, against a convolution that reads and writes the whole bottleneck).
import CDNNL
import Foundation

/// The oneDNN plan for one convolution shape, or nil when oneDNN has no optimised kernel for it.
final class OneDNNPlan: @unchecked Sendable {
    struct Shape: Hashable { let n, h, w, cin, cout, kernel, stride, padding: Int; let winograd: Bool }

    let handle: OpaquePointer

    private init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { abl_conv_destroy(handle) }

    nonisolated(unsafe) private static var plans: [Shape: OneDNNPlan?] = [:]
    private static let lock = NSLock()

    static func plan(_ shape: Shape) -> OneDNNPlan? {
        lock.lock(); defer { lock.unlock() }
        if let cached = plans[shape] { return cached }
        let created = abl_conv_create(shape.n, shape.h, shape.w, shape.cin, shape.cout, shape.kernel,
                                      shape.stride, shape.padding, shape.winograd ? 1 : 0).map(OneDNNPlan.init)
        plans[shape] = created
        return created
    }

    func available(_ direction: Int32) -> Bool { abl_conv_available(handle, direction) != 0 }
    func implementation(_ direction: Int32) -> String { String(cString: abl_conv_implementation(handle, direction)) }

    static let forward = Int32(ABL_CONV_FORWARD), backwardData = Int32(ABL_CONV_BACKWARD_DATA),
               backwardWeights = Int32(ABL_CONV_BACKWARD_WEIGHTS)
}

extension Conv2D {
    func oneDNNPlan(_ x: FeatureMap) -> OneDNNPlan? {
        guard Backend.current == .onednn, !isPointwise else { return nil }
        return OneDNNPlan.plan(.init(n: x.n, h: x.h, w: x.w, cin: inChannels, cout: outChannels,
                                     kernel: kernel, stride: stride, padding: padding, winograd: Backend.winograd))
    }

    /// Names of the oneDNN kernels this convolution runs on for input `x` (forward, backward data, backward
    /// weights), or nil on the OpenBLAS path. For `ablate bench` and the tests.
    public func oneDNNImplementations(_ x: FeatureMap) -> [String]? {
        guard let plan = oneDNNPlan(x) else { return nil }
        return [OneDNNPlan.forward, OneDNNPlan.backwardData, OneDNNPlan.backwardWeights].map(plan.implementation)
    }

    /// 16 when this convolution, on input shaped like `x`, can take its input and give its input gradient in
    /// oneDNN's nChw16c layout (`inputBlock:` of forward and backward): a BN-ReLU then writes x and reads dx in
    /// that layout directly and oneDNN's Winograd kernels skip reordering them per call. 0 otherwise (NHWC only).
    public func inputBlock(_ x: FeatureMap) -> Int {
        guard let plan = oneDNNPlan(x) else { return 0 }
        return Int(abl_conv_source_block(plan.handle))
    }

    /// y = conv(x) through oneDNN; false when this shape has no optimised oneDNN forward kernel.
    func forwardOneDNN(_ x: FeatureMap, _ y: FeatureMap, inputBlock: Int, _ ws: Workspace) -> Bool {
        guard let plan = oneDNNPlan(x), plan.available(OneDNNPlan.forward) else {
            precondition(inputBlock == 0, "blocked input without a oneDNN plan that reads it")
            return false
        }
        let src = inputBlock != 0 ? x.base : dense(x, ws, .oneDNNInput)
        let dst = y.isDense ? y : ws.map(EngineScratch.oneDNNOutput, like: y)
        // Not `precondition`: an -Ounchecked build drops its condition, side effects included. A failure here
        // is oneDNN's (out of memory), never the user's input: stop rather than train on garbage.
        if abl_conv_forward(plan.handle, src, weight.value, dst.base, inputBlock != 0 ? 1 : 0) != 0 {
            fatalError("oneDNN convolution forward failed (\(x.n)×\(x.h)×\(x.w)×\(inChannels) → \(outChannels))")
        }
        if !y.isDense { copyMap(dst, y) }
        return true
    }

    /// dW += ∂L/∂W (unless the weight is frozen) and dx (= or +=) ∂L/∂x through oneDNN; false (nothing touched)
    /// when a direction this call needs has no optimised oneDNN kernel. Whether oneDNN runs does not depend on
    /// what is frozen (the weights' kernel must exist either way), so dx is the same with a frozen weight.
    func backwardOneDNN(_ x: FeatureMap, _ dy: FeatureMap, dx: FeatureMap?, accumulate: Bool, inputBlock: Int,
                        _ ws: Workspace) -> Bool {
        guard let plan = oneDNNPlan(x), plan.available(OneDNNPlan.backwardWeights),
              dx == nil || plan.available(OneDNNPlan.backwardData) else {
            precondition(inputBlock == 0, "blocked input without a oneDNN plan that reads it")
            return false
        }
        let gradient = dense(dy, ws, .oneDNNOutputGradient)
        if !weight.frozen {
            let src = inputBlock != 0 ? x.base : dense(x, ws, .oneDNNInput)
            if abl_conv_backward_weights(plan.handle, src, gradient, weight.grad, inputBlock != 0 ? 1 : 0) != 0 {
                fatalError("oneDNN convolution backward (weights) failed (\(x.n)×\(x.h)×\(x.w)×\(inChannels) → \(outChannels))")
            }
        }
        guard let dx else { return true }
        precondition(inputBlock == 0 || (dx.isDense && !accumulate), "a blocked dx is written whole")
        let direct = dx.isDense && !accumulate
        let target = direct ? dx : ws.map(EngineScratch.oneDNNInputGradient, like: dx)
        if abl_conv_backward_data(plan.handle, gradient, weight.value, target.base, inputBlock != 0 ? 1 : 0) != 0 {
            fatalError("oneDNN convolution backward (data) failed (\(x.n)×\(x.h)×\(x.w)×\(inChannels) → \(outChannels))")
        }
        if !direct {
            if accumulate { addMap(target, into: dx) } else { copyMap(target, dx) }
        }
        return true
    }
}

/// `m`'s memory when it is dense, else a dense copy in scratch `buffer`.
private func dense(_ m: FeatureMap, _ ws: Workspace, _ buffer: EngineScratch) -> UnsafeMutablePointer<Float> {
    if m.isDense { return m.base }
    let copy = ws.map(buffer, like: m)
    copyMap(m, copy)
    return copy.base
}
