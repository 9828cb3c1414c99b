import AblateCore

/// Metrics for one class against the rest ("positive" vs "negative").
/// A metric whose denominator is zero is nil (undefined), never NaN.
public struct BinaryMetrics: Sendable, Equatable {
    public var truePositives: Int, falsePositives: Int, trueNegatives: Int, falseNegatives: Int
    /// TP / (TP + FN), the recall of the positive class.
    public var sensitivity: Double?
    /// TN / (TN + FP).
    public var specificity: Double?
    /// TP / (TP + FP).
    public var precision: Double?
    /// 2 · precision · sensitivity / (precision + sensitivity).
    public var f1: Double?
    /// (TP + TN) / N: binary accuracy of positive-vs-rest (not k-class accuracy).
    public var accuracy: Double?
    /// Area under the ROC curve of the positive-class score, nil without both positives and negatives.
    public var rocAUC: Double?
}

public enum ClassificationMetrics {
    /// Positive-vs-rest metrics. `predicted[i]` is the predicted class, `positiveScores[i]` the score (e.g.
    /// softmax probability) of the positive class used for the ROC-AUC.
    public static func binary(labels: [Int], predicted: [Int], positiveScores: [Double], positiveClass: Int) throws -> BinaryMetrics {
        guard labels.count == predicted.count else {
            throw ReportError.lengthMismatch(what: "binary metrics labels/predictions", left: labels.count, right: predicted.count)
        }
        guard labels.count == positiveScores.count else {
            throw ReportError.lengthMismatch(what: "binary metrics labels/scores", left: labels.count, right: positiveScores.count)
        }
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (label, guess) in zip(labels, predicted) {
            switch (label == positiveClass, guess == positiveClass) {
            case (true, true): tp += 1
            case (true, false): fn += 1
            case (false, true): fp += 1
            case (false, false): tn += 1
            }
        }
        func ratio(_ num: Int, _ den: Int) -> Double? { den == 0 ? nil : Double(num) / Double(den) }
        let sensitivity = ratio(tp, tp + fn), precision = ratio(tp, tp + fp)
        var f1: Double? = nil
        if let p = precision, let r = sensitivity { f1 = p + r == 0 ? 0 : 2 * p * r / (p + r) }
        let positives = zip(labels, positiveScores).filter { $0.0 == positiveClass }.map { $0.1 }
        let negatives = zip(labels, positiveScores).filter { $0.0 != positiveClass }.map { $0.1 }
        return BinaryMetrics(truePositives: tp, falsePositives: fp, trueNegatives: tn, falseNegatives: fn,
                             sensitivity: sensitivity, specificity: ratio(tn, tn + fp), precision: precision, f1: f1,
                             accuracy: ratio(tp + tn, labels.count),
                             rocAUC: positives.isEmpty || negatives.isEmpty ? nil : try rocAUC(positiveScores: positives, negativeScores: negatives))
    }

    /// Positive-vs-rest metrics from predictions, scoring with the positive class's probability.
    public static func binary(predictions: [Prediction], positiveClass: Int) throws -> BinaryMetrics {
        for p in predictions where !p.probabilities.indices.contains(positiveClass) {
            throw ReportError.classOutOfRange(what: "positive class for \(p.file)", index: positiveClass, classCount: p.probabilities.count)
        }
        return try binary(labels: predictions.map(\.label), predicted: predictions.map(\.predicted),
                          positiveScores: predictions.map { $0.probabilities[positiveClass] }, positiveClass: positiveClass)
    }

    /// ROC-AUC as the Mann–Whitney statistic: the probability that a random positive scores above a random
    /// negative, ties counting ½:  AUC = (Σ_{p,n} [s_p > s_n] + ½ [s_p = s_n]) / (n₊ n₋).
    /// Computed from mid-ranks in O(N log N): AUC = (R₊ − n₊(n₊+1)/2) / (n₊ n₋), R₊ = sum of positive ranks.
    public static func rocAUC(positiveScores: [Double], negativeScores: [Double]) throws -> Double {
        guard !positiveScores.isEmpty, !negativeScores.isEmpty else {
            throw ReportError.insufficientData(what: "ROC-AUC (needs positives and negatives)", needed: 1,
                                               got: min(positiveScores.count, negativeScores.count))
        }
        try Statistics.requireFinite(positiveScores + negativeScores, what: "ROC-AUC scores")
        let all = positiveScores.map { ($0, true) } + negativeScores.map { ($0, false) }
        let sorted = all.sorted { $0.0 < $1.0 }
        var positiveRankSum = 0.0
        var start = 0
        while start < sorted.count {
            var end = start
            while end + 1 < sorted.count && sorted[end + 1].0 == sorted[start].0 { end += 1 }
            let midRank = Double(start + end + 2) / 2  // ranks are 1-based: (start+1 + end+1) / 2
            for i in start...end where sorted[i].1 { positiveRankSum += midRank }
            start = end + 1
        }
        let nPos = Double(positiveScores.count), nNeg = Double(negativeScores.count)
        return (positiveRankSum - nPos * (nPos + 1) / 2) / (nPos * nNeg)
    }

    /// k × k confusion matrix, rows = true class, columns = predicted class.
    public static func confusionMatrix(labels: [Int], predicted: [Int], classCount: Int) throws -> [[Int]] {
        guard labels.count == predicted.count else {
            throw ReportError.lengthMismatch(what: "confusion matrix", left: labels.count, right: predicted.count)
        }
        guard classCount >= 1 else { throw ReportError.invalidValue(what: "class count", value: "\(classCount)") }
        var matrix = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
        for (label, guess) in zip(labels, predicted) {
            guard (0..<classCount).contains(label) else { throw ReportError.classOutOfRange(what: "true label", index: label, classCount: classCount) }
            guard (0..<classCount).contains(guess) else { throw ReportError.classOutOfRange(what: "predicted class", index: guess, classCount: classCount) }
            matrix[label][guess] += 1
        }
        return matrix
    }
}
