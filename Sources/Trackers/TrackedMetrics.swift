// The scalars both trackers show for one epoch, named once so that MLflow and TensorBoard agree with each other
// and with the store's epochs table (train, validation and test loss and accuracy, learning rate, seconds, images
// per second), and what a run decided about its epochs (the selected epoch, the epoch early stopping ended it).
import AblateCore
import Store

public enum TrackedMetrics {
    /// Every key: training, validation, test, then the rest.
    public static let keys = ["train/loss", "train/accuracy", "val/loss", "val/accuracy", "test/loss", "test/accuracy",
                              "learning_rate", "seconds_per_epoch", "images_per_second"]

    /// The epoch's values by key; validation metrics are absent without a validation part, test metrics on an epoch
    /// that was not evaluated.
    public static func values(_ m: EpochMetrics) -> [(key: String, value: Double)] {
        let all: [(String, Double?)] = [
            ("train/loss", m.trainLoss), ("train/accuracy", m.trainAccuracy),
            ("val/loss", m.validationLoss), ("val/accuracy", m.validationAccuracy),
            ("test/loss", m.testLoss), ("test/accuracy", m.testAccuracy),
            ("learning_rate", m.learningRate), ("seconds_per_epoch", m.seconds),
            ("images_per_second", m.imagesPerSecond),
        ]
        return all.compactMap { key, value in value.map { (key, $0) } }
    }

    /// TensorBoard's scalar of the epoch selected so far (`training.select` on validation), at every step.
    public static let selectedEpochKey = "selected_epoch"
    /// TensorBoard's scalar of the epoch after which early stopping ended the run, at that step.
    public static let stoppedEarlyKey = "stopped_early_at"

    /// How the run picks its epoch, from its stored configuration; nil when that cannot be read.
    public static func selection(_ run: RunRecord) -> EpochSelection? {
        try? RunConfig.decode(json: run.configJSON).training.selection
    }
}
