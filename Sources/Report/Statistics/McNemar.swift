import AblateCore
import Foundation

/// McNemar's exact test on two classifiers' predictions for the same test images.
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

    /// Pairs predictions by file name and tests whether the two runs' error rates differ.
    /// Throws when the two runs were not evaluated on the same files.
    public static func test(candidate: [Prediction], baseline: [Prediction]) throws -> McNemarResult {
        guard candidate.count == baseline.count else {
            throw ReportError.lengthMismatch(what: "McNemar predictions", left: candidate.count, right: baseline.count)
        }
        var baselineByFile: [String: Prediction] = [:]
        for p in baseline { baselineByFile[p.file] = p }
        guard baselineByFile.count == baseline.count else {
            throw ReportError.invalidValue(what: "McNemar predictions", value: "duplicate file names in baseline")
        }
        var b = 0, c = 0
        for p in candidate {
            guard let q = baselineByFile[p.file] else {
                throw ReportError.invalidValue(what: "McNemar predictions", value: "file \(p.file) missing from baseline")
            }
            guard q.label == p.label else {
                throw ReportError.invalidValue(what: "McNemar predictions", value: "file \(p.file) has different labels")
            }
            let candidateRight = p.predicted == p.label, baselineRight = q.predicted == q.label
            if baselineRight && !candidateRight { b += 1 }
            if candidateRight && !baselineRight { c += 1 }
        }
        return McNemarResult(baselineOnlyCorrect: b, candidateOnlyCorrect: c, pValue: try exactPValue(b: b, c: c))
    }
}

extension Array where Element == Prediction {
    /// One prediction per group of copies, for tests whose cases must be independent: the copies' softmax outputs
    /// are averaged, and the pooled prediction is named by the group key (so McNemar pairs two runs by group).
    /// Copies that carry different labels stay apart. Groups are sorted by key and copies summed in file order, so
    /// the result, to the last bit, does not depend on the order of the input.
    /// Every prediction has one probability per class (`ReportInput.validate` checks it).
    public func pooled(by grouping: TestGrouping) -> [Prediction] {
        let groups = Dictionary(grouping: self) { (grouping.groupOfFile[$0.file] ?? $0.file) + "#\($0.label)" }
        return groups.keys.sorted().map { key in
            let copies = groups[key]!.sorted { $0.file < $1.file }
            var mean = [Double](repeating: 0, count: copies[0].probabilities.count)
            for copy in copies { for i in mean.indices { mean[i] += copy.probabilities[i] } }
            return Prediction(file: key, label: copies[0].label, probabilities: mean.map { $0 / Double(copies.count) })
        }
    }
}
