// Mean softmax cross-entropy, PyTorch's `F.cross_entropy(logits, labels)`.
import Foundation

public enum CrossEntropy {
    /// Returns the mean loss over the batch and writes ∂loss/∂logits = (softmax − onehot) / N.
    /// Shapes: logits `[N, K]`, labels `N` values in `0..<K`, dlogits `[N, K]`.
    public static func forward(logits: UnsafePointer<Float>, labels: [Int32], classes k: Int,
                               dlogits: UnsafeMutablePointer<Float>?) -> Float {
        let n = labels.count
        var total = 0.0
        for i in 0..<n {
            let row = logits + i * k
            var mx = row[0]
            for j in 1..<k where row[j] > mx { mx = row[j] }
            var sum = 0.0
            for j in 0..<k { sum += exp(Double(row[j] - mx)) }
            let label = Int(labels[i])
            precondition(label >= 0 && label < k, "label \(label) outside 0..<\(k)")
            total += log(sum) - Double(row[label] - mx)
            if let d = dlogits {
                for j in 0..<k {
                    let p = exp(Double(row[j] - mx)) / sum
                    d[i * k + j] = Float((p - (j == label ? 1 : 0)) / Double(n))
                }
            }
        }
        return Float(total / Double(n))
    }

    /// Softmax probabilities of each row, `[N, K]`.
    public static func softmax(_ logits: UnsafePointer<Float>, batch n: Int, classes k: Int) -> [[Float]] {
        (0..<n).map { i in
            let row = logits + i * k
            let mx = (0..<k).map { row[$0] }.max()!
            let e = (0..<k).map { exp(Double(row[$0] - mx)) }
            let s = e.reduce(0, +)
            return e.map { Float($0 / s) }
        }
    }
}

/// Inverted dropout (PyTorch `F.dropout` in training): zero each element with probability p, scale the rest by
/// 1/(1 − p). The keep mask is drawn from the caller's seeded generator and kept for backward.
public struct Dropout {
    public let p: Float
    public init(p: Float) { precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)"); self.p = p }

    /// In place on a feature map; `mask` receives 0 or 1/(1 − p) per element (`rows × c` floats, dense).
    public func forward(_ x: FeatureMap, mask: UnsafeMutablePointer<Float>, rng: inout SeededGenerator) {
        let keep = 1 / (1 - p), c = x.c
        for r in 0..<x.rows {
            let row = x.base + r * x.stride
            for ch in 0..<c {
                let m: Float = rng.uniformFloat() < p ? 0 : keep
                mask[r * c + ch] = m
                row[ch] *= m
            }
        }
    }

    /// dx = dy · mask, in place on the gradient map.
    public func backward(_ dy: FeatureMap, mask: UnsafePointer<Float>) {
        let c = dy.c
        for r in 0..<dy.rows {
            let row = dy.base + r * dy.stride
            for ch in 0..<c { row[ch] *= mask[r * c + ch] }
        }
    }
}
