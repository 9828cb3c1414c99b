// One optimisation step and one evaluation pass: the only place that strings forward, loss, backward and the
// optimiser together, so the trainer, the benchmark and the reference checks all run the same code.
import Engine
import Models

public struct StepResult: Sendable {
    public let loss: Float
    /// Samples whose arg-max logit equals the label.
    public let correct: Int
}

public enum TrainStep {
    /// zero_grad → forward (training) → mean cross-entropy → backward → optimiser update with `lr`.
    public static func run(_ net: any Network, _ optimizer: Optimizer, input: Tensor, labels: [Int32], lr: Float) throws -> StepResult {
        net.store.zeroGrad()
        let logits = try net.forward(input, training: true)
        let dLogits = Tensor(logits.shape)
        let loss = Profiler.shared.measure("head", .forward) {
            CrossEntropy.forward(logits: logits.data, labels: labels, classes: net.classes, dlogits: dLogits.data)
        }
        let correct = countCorrect(logits, labels)
        try net.backward(input, dLogits: dLogits)
        Profiler.shared.measure("optimizer", .update) { optimizer.update(lr: lr) }
        return StepResult(loss: loss, correct: correct)
    }

    /// Eval-mode forward: loss, correct count and the logits.
    public static func evaluate(_ net: any Network, input: Tensor, labels: [Int32]) throws -> (StepResult, Tensor) {
        let logits = try net.forward(input, training: false)
        let loss = CrossEntropy.forward(logits: logits.data, labels: labels, classes: net.classes, dlogits: nil)
        return (StepResult(loss: loss, correct: countCorrect(logits, labels)), logits)
    }

    static func countCorrect(_ logits: Tensor, _ labels: [Int32]) -> Int {
        let k = logits.shape[1]
        var correct = 0
        for (i, label) in labels.enumerated() {
            var best = 0
            for j in 1..<k where logits[i * k + j] > logits[i * k + best] { best = j }
            if best == Int(label) { correct += 1 }
        }
        return correct
    }
}
