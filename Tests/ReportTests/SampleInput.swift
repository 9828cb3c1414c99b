import AblateCore
import Foundation
import Report

/// SplitMix64: a tiny seeded generator so the sample input is identical on every run and machine.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Roughly normal (sum of 4 uniforms, rescaled to unit variance): enough for plausible noise.
    mutating func gaussian() -> Double { ((0..<4).reduce(0) { s, _ in s + uniform() } - 2) * 3.0.squareRoot() }
}

/// 3 configurations × 3 seeds × 10 epochs of synthetic-but-plausible DenseNet/SE curves on a 4-class,
/// Monkeypox-style test set of 80 images, with final-model predictions consistent with the last test accuracy.
enum SampleInput {
    static let classNames = ["Monkeypox", "Chickenpox", "Measles", "Normal"]
    static let configurations: [(name: String, parameters: Int, multiplyAdds: Int, plateau: Double, seconds: Double)] = [
        ("DenseNet-121", 6_957_956, 2_865_672_192, 0.862, 412),
        ("SE-DenseNet-121 r=16", 7_226_628, 2_866_940_416, 0.889, 437),
        ("SE-DenseNet-121 r=8", 7_495_300, 2_868_208_640, 0.897, 441),
    ]
    static let seeds = [1, 2, 3]
    static let epochCount = 10
    static let trainImages = 2_142
    /// Labels of the 80 test images: 28 Monkeypox, 20 Chickenpox, 16 Measles, 16 Normal.
    static let testLabels: [Int] = Array(repeating: 0, count: 28) + Array(repeating: 1, count: 20)
        + Array(repeating: 2, count: 16) + Array(repeating: 3, count: 16)

    static func make() -> ReportInput {
        var runs: [ReportRun] = []
        for (c, config) in configurations.enumerated() {
            for seed in seeds {
                var rng = SplitMix64(state: UInt64(c * 1000 + seed))
                let predictions = makePredictions(plateau: config.plateau, rng: &rng)
                let finalAccuracy = Double(predictions.filter { $0.predicted == $0.label }.count) / Double(testLabels.count)
                var epochs: [EpochMetrics] = []
                for e in 1...epochCount {
                    let progress = 1 - exp(-Double(e) / 2.6)
                    let trainAccuracy = min(0.995, 0.42 + (config.plateau + 0.06 - 0.42) * progress + 0.006 * rng.gaussian())
                    var testAccuracy = min(0.99, 0.40 + (config.plateau - 0.40) * progress + 0.012 * rng.gaussian())
                    if e == epochCount { testAccuracy = finalAccuracy }
                    let trainLoss = 0.18 + 1.15 * exp(-Double(e) / 2.8) + 0.015 * rng.gaussian()
                    let testLoss = 0.30 + 1.05 * exp(-Double(e) / 3.0) + 0.03 * rng.gaussian()
                    let seconds = config.seconds * (1 + 0.02 * rng.gaussian())
                    epochs.append(EpochMetrics(epoch: e, trainLoss: trainLoss, trainAccuracy: trainAccuracy, testLoss: testLoss,
                                               testAccuracy: testAccuracy, learningRate: 0.001, seconds: seconds,
                                               imagesPerSecond: Double(trainImages) / (seconds * 0.9)))
                }
                runs.append(ReportRun(configuration: config.name, seed: seed, parameters: config.parameters,
                                      multiplyAdds: config.multiplyAdds, status: .finished, epochs: epochs,
                                      predictions: predictions))
            }
        }
        return ReportInput(title: "DenseNet-121 vs SE-DenseNet-121 (sample)", runs: runs,
                           configurationOrder: configurations.map(\.name), baseline: configurations[0].name,
                           plannedSeedsPerConfiguration: seeds.count, targetAccuracy: 0.85,
                           classNames: classNames, positiveClass: 0)
    }

    /// Each image is right with probability ≈ plateau; a right answer puts 0.55–0.95 on the true class.
    static func makePredictions(plateau: Double, rng: inout SplitMix64) -> [Prediction] {
        testLabels.enumerated().map { i, label in
            let correct = rng.uniform() < plateau
            let guess = correct ? label : (label + 1 + Int(rng.next() % 3)) % classNames.count
            let top = 0.55 + 0.4 * rng.uniform()
            var probabilities = Array(repeating: (1 - top) / Double(classNames.count - 1), count: classNames.count)
            probabilities[guess] = top
            return Prediction(file: "test/\(classNames[label])/img_\(String(format: "%03d", i)).jpg", label: label,
                                  probabilities: probabilities)
        }
    }
}
