// The scalars both trackers show for one epoch, named once so that MLflow and TensorBoard agree with each other
// and with the store's epochs table (train/test loss and accuracy, learning rate, seconds, images per second).
import AblateCore

public enum TrackedMetrics {
    /// Every key, in the order the epochs table has its columns.
    public static let keys = ["train/loss", "train/accuracy", "test/loss", "test/accuracy", "learning_rate",
                              "seconds_per_epoch", "images_per_second"]

    /// The epoch's values by key; test metrics are absent on an epoch that was not evaluated.
    public static func values(_ m: EpochMetrics) -> [(key: String, value: Double)] {
        let all: [(String, Double?)] = [
            ("train/loss", m.trainLoss), ("train/accuracy", m.trainAccuracy),
            ("test/loss", m.testLoss), ("test/accuracy", m.testAccuracy),
            ("learning_rate", m.learningRate), ("seconds_per_epoch", m.seconds),
            ("images_per_second", m.imagesPerSecond),
        ]
        return all.compactMap { key, value in value.map { (key, $0) } }
    }
}
