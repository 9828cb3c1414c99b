// Uncertainty from the test set. Training seeds vary the model; the test set is one sample of images, and its
// images come in groups (augmented copies of one photograph, photographs of one patient) that are right or wrong
// together. The cluster bootstrap resamples whole groups with replacement (Davison & Hinkley 1997, §3.8): each
// resample draws G groups out of the G there are, a metric is recomputed on the images of the drawn groups (a group
// drawn twice counts twice), and the 2.5th and 97.5th percentiles of the resampled metric are its 95% interval.
// Every configuration and every comparison in one report uses the same draws, so a difference Δ between two
// configurations is resampled paired: both are scored on the same drawn groups. The draws come from a fixed seed:
// a report rebuilds byte for byte.
import AblateCore

public enum ClusterBootstrap {
    /// Resamples per interval: percentile endpoints at 2.5%/97.5% move by about ±0.002 between seeds at this size.
    public static let resamples = 2000
    /// The draws' seed: fixed, so the same input gives the same intervals on every machine.
    public static let seed: UInt64 = 0x5EED_0001_B007_57A9
    /// Coverage of the intervals.
    public static let level = 0.95

    /// `resamples` draws of `groups` group indices with replacement, as multiplicities: `result[b][g]` is how often
    /// group g is in resample b (each row sums to `groups`). SplitMix64 and Lemire's multiply-shift reduction:
    /// integer arithmetic only, identical on every platform.
    public static func draws(groups: Int, resamples: Int = resamples, seed: UInt64 = seed) -> [[Int32]] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        guard groups > 0 else { return [] }
        return (0..<resamples).map { _ in
            var counts = [Int32](repeating: 0, count: groups)
            for _ in 0..<groups { counts[Int(next().multipliedFullWidth(by: UInt64(groups)).high)] += 1 }
            return counts
        }
    }

    /// The percentile interval (linear interpolation between order statistics) of the defined values; nil when
    /// fewer than 95% of the resamples define the metric (e.g. a sensitivity where most resamples hold no positive).
    public static func percentileInterval(_ values: [Double], level: Double = level) -> ClosedRange<Double>? {
        let defined = values.filter { $0.isFinite }.sorted()
        guard !defined.isEmpty, Double(defined.count) >= 0.95 * Double(values.count) else { return nil }
        func quantile(_ q: Double) -> Double {
            let position = q * Double(defined.count - 1)
            let low = Int(position.rounded(.down)), high = min(defined.count - 1, low + 1)
            return defined[low] + (position - Double(low)) * (defined[high] - defined[low])
        }
        let tail = (1 - level) / 2
        return quantile(tail)...quantile(1 - tail)
    }
}

/// One run's test predictions cut into the report's groups: per group, the counts the metrics need, and the
/// positive-class scores sorted once for ROC-AUC. Metrics take the group multiplicities of one resample
/// (`ClusterBootstrap.draws`), or all ones for the sample itself.
public struct GroupedOutcomes: Sendable {
    /// Per group index: images, images right, positives, true positives, negatives, true negatives.
    var images: [Double], correct: [Double], positives: [Double], truePositives: [Double]
    var negatives: [Double], trueNegatives: [Double]
    /// (score, is positive, group index), ascending by score.
    var scored: [(score: Double, positive: Bool, group: Int)]

    /// `groupIndex` maps a file to its group's index (0..<groups).
    public init(_ predictions: [Prediction], positiveClass: Int, groups: Int, groupIndex: (String) -> Int) {
        images = [Double](repeating: 0, count: groups)
        correct = images; positives = images; truePositives = images; negatives = images; trueNegatives = images
        scored = []
        for p in predictions {
            let g = groupIndex(p.file)
            images[g] += 1
            let right = p.predicted == p.label
            if right { correct[g] += 1 }
            let isPositive = p.label == positiveClass, saidPositive = p.predicted == positiveClass
            if isPositive { positives[g] += 1; if saidPositive { truePositives[g] += 1 } } else {
                negatives[g] += 1; if !saidPositive { trueNegatives[g] += 1 }
            }
            if positiveClass < p.probabilities.count {
                scored.append((p.probabilities[positiveClass], isPositive, g))
            }
        }
        scored.sort { $0.score < $1.score }
    }

    static func ratio(_ numerator: [Double], _ denominator: [Double], _ w: [Int32]) -> Double {
        var num = 0.0, den = 0.0
        for g in w.indices where w[g] != 0 { num += Double(w[g]) * numerator[g]; den += Double(w[g]) * denominator[g] }
        return den == 0 ? .nan : num / den
    }

    /// Metrics under group multiplicities `w`; NaN where undefined (no image, no positive, no negative).
    public func accuracy(_ w: [Int32]) -> Double { Self.ratio(correct, images, w) }
    public func sensitivity(_ w: [Int32]) -> Double { Self.ratio(truePositives, positives, w) }
    public func specificity(_ w: [Int32]) -> Double { Self.ratio(trueNegatives, negatives, w) }

    /// Weighted Mann–Whitney: P(score of a positive > score of a negative), ties ½, each image weighted by its
    /// group's multiplicity. One sweep over the scores sorted once.
    public func rocAUC(_ w: [Int32]) -> Double {
        var below = 0.0, pairs = 0.0, positivesSeen = 0.0, negativesSeen = 0.0
        var i = 0
        while i < scored.count {
            var j = i, tiedPositive = 0.0, tiedNegative = 0.0
            while j < scored.count && scored[j].score == scored[i].score {
                let weight = Double(w[scored[j].group])
                if scored[j].positive { tiedPositive += weight } else { tiedNegative += weight }
                j += 1
            }
            pairs += tiedPositive * (below + tiedNegative / 2)
            below += tiedNegative
            positivesSeen += tiedPositive; negativesSeen += tiedNegative
            i = j
        }
        return positivesSeen == 0 || negativesSeen == 0 ? .nan : pairs / (positivesSeen * negativesSeen)
    }

    /// Multiplicities of the sample itself (every group once).
    public static func sample(groups: Int) -> [Int32] { [Int32](repeating: 1, count: groups) }
}
