import AblateCore
import Foundation

/// McNemar's exact test on two classifiers' predictions for the same test images, optionally with the images in
/// clusters (copies of one photograph, images of one patient) whose errors go together.
public struct McNemarResult: Sendable, Equatable {
    /// Images the baseline got right and the candidate got wrong.
    public var baselineOnlyCorrect: Int
    /// Images the candidate got right and the baseline got wrong.
    public var candidateOnlyCorrect: Int
    public var pValue: Double
}

public enum McNemar {
    /// Exact two-sided p-value on the discordant counts b and c: under H₀ each discordant image is a fair coin,
    ///   p = min(1, 2 · Σ_{i=0}^{min(b,c)} C(b+c, i) / 2^(b+c)),   p = 1 when b + c = 0.
    /// Terms are summed in log space (log-sum-exp over lgamma) so b + c in the tens of thousands does not
    /// overflow or underflow.
    public static func exactPValue(b: Int, c: Int) throws -> Double {
        guard b >= 0, c >= 0 else { throw ReportError.invalidValue(what: "McNemar counts", value: "b=\(b) c=\(c)") }
        let n = b + c
        if n == 0 { return 1 }
        let k = min(b, c)
        let nD = Double(n)
        let logTerms = (0...k).map { i -> Double in
            let iD = Double(i)
            return lgamma(nD + 1) - lgamma(iD + 1) - lgamma(nD - iD + 1) - nD * log(2.0)
        }
        let largest = logTerms.max()!
        let logSum = largest + log(logTerms.reduce(0) { $0 + exp($1 - largest) })
        return min(1, 2 * exp(logSum))
    }

    /// Exact two-sided p-value of the clustered McNemar test. Cluster k contributes dₖ = cₖ − bₖ (images only the
    /// candidate got right minus images only the baseline got right). Under H₀ (the two models are equally good)
    /// each cluster's dₖ is as likely to be +dₖ as −dₖ, whatever the correlation inside the cluster, so
    ///   p = P(|Σ εₖ dₖ| ≥ |Σ dₖ|)   over the 2^K equally likely signs εₖ = ±1,
    /// computed exactly by convolving the K two-point distributions over the integer sums. With one image per
    /// cluster every dₖ is 0 or ±1 and this is `exactPValue(b:c:)`; Durkalski et al. (2003) give its
    /// large-sample χ² form, (Σ dₖ)² / Σ dₖ².
    public static func clusteredExactPValue(differences: [Int]) -> Double {
        let nonzero = differences.filter { $0 != 0 }.map(abs).sorted()   // sorted: the same bits whatever the order
        let observed = abs(differences.reduce(0, +))
        let total = nonzero.reduce(0, +)
        if total == 0 { return 1 }
        // probability[s + total] = P(Σ εₖ dₖ = s) over the clusters folded in so far.
        var probability = [Double](repeating: 0, count: 2 * total + 1)
        probability[total] = 1
        var reach = 0
        for d in nonzero {
            var next = [Double](repeating: 0, count: probability.count)
            for s in -reach...reach where probability[s + total] != 0 {
                next[s + d + total] += 0.5 * probability[s + total]
                next[s - d + total] += 0.5 * probability[s + total]
            }
            probability = next
            reach += d
        }
        var p = 0.0
        for s in -total...total where abs(s) >= observed { p += probability[s + total] }
        return min(1, p)
    }

    /// Pairs predictions by file name and tests whether the two runs' error rates differ. `clusterOf` names each
    /// file's cluster (nil: every image is its own case, McNemar's exact test); images of one cluster are counted
    /// as one case whose discordant images may go together (`clusteredExactPValue`).
    /// Throws when the two runs were not evaluated on the same files.
    public static func test(candidate: [Prediction], baseline: [Prediction],
                            clusterOf: ((String) -> String)? = nil) throws -> McNemarResult {
        guard candidate.count == baseline.count else {
            throw ReportError.lengthMismatch(what: "McNemar predictions", left: candidate.count, right: baseline.count)
        }
        var baselineByFile: [String: Prediction] = [:]
        for p in baseline { baselineByFile[p.file] = p }
        guard baselineByFile.count == baseline.count, Set(candidate.map(\.file)).count == candidate.count else {
            throw ReportError.invalidValue(what: "McNemar predictions", value: "duplicate file names")
        }
        var b = 0, c = 0
        var differenceOfCluster: [String: Int] = [:]
        for p in candidate {
            guard let q = baselineByFile[p.file] else {
                throw ReportError.invalidValue(what: "McNemar predictions", value: "file \(p.file) missing from baseline")
            }
            guard q.label == p.label else {
                throw ReportError.invalidValue(what: "McNemar predictions", value: "file \(p.file) has different labels")
            }
            let candidateRight = p.predicted == p.label, baselineRight = q.predicted == q.label
            guard candidateRight != baselineRight else { continue }
            if baselineRight { b += 1 } else { c += 1 }
            differenceOfCluster[clusterOf?(p.file) ?? p.file, default: 0] += candidateRight ? 1 : -1
        }
        let p = clusterOf == nil ? try exactPValue(b: b, c: c)
            : clusteredExactPValue(differences: Array(differenceOfCluster.values))
        return McNemarResult(baselineOnlyCorrect: b, candidateOnlyCorrect: c, pValue: p)
    }
}
