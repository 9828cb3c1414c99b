import AblateCore
import Foundation

/// Per-channel normalisation: `(pixel / 255 - mean) / std`. Codable for the run record.
public struct Normalization: Codable, Equatable, Hashable, Sendable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// ImageNet statistics (what torchvision's pretrained models expect): the experiment file's declared default.
    public static let imagenet = Normalization(mean: NormalizeSection.imageNetMean.map(Float.init),
                                               std: NormalizeSection.imageNetStd.map(Float.init))
    /// Pixels / 255, no centring.
    public static let unit = Normalization(mean: [0, 0, 0], std: [1, 1, 1])

    func validate() throws {
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
            throw DatasetError.invalidConfiguration("normalisation needs 3 means and 3 positive standard deviations")
        }
    }
}

/// Training-time augmentation, applied to the cached size×size image. Deterministic: the random draws of one
/// sample come from `SplitMix64(seed, epoch, sampleIndex)`. Codable for the run record.
public struct AugmentationConfig: Codable, Equatable, Hashable, Sendable {
    /// Probability of a left–right mirror.
    public var horizontalFlipProbability: Double
    /// torchvision `RandomResizedCrop`: area fraction and aspect-ratio ranges of the crop, which is then resized
    /// back to size×size. nil: no crop. The crop is taken from the cached image (already at the model size), so
    /// small crops are upsampled from fewer pixels than torchvision would have.
    public var cropScale: [Double]?
    public var cropRatio: [Double]
    /// Colour jitter factors drawn from [1 - x, 1 + x] (0 = off), like `ColorJitter(brightness, contrast)`.
    public var brightness: Double
    public var contrast: Double
    /// Mixed with the epoch and sample index for each sample's draws.
    public var seed: UInt64

    /// Every value explicitly (a run's come from its experiment file, through `RunPlan`).
    public init(horizontalFlipProbability: Double, cropScale: [Double]?, cropRatio: [Double], brightness: Double,
                contrast: Double, seed: UInt64) {
        self.horizontalFlipProbability = horizontalFlipProbability
        self.cropScale = cropScale
        self.cropRatio = cropRatio
        self.brightness = brightness
        self.contrast = contrast
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case horizontalFlipProbability = "horizontal_flip_probability"
        case cropScale = "crop_scale"
        case cropRatio = "crop_ratio"
        case brightness, contrast, seed
    }

    /// Flip, RandomResizedCrop with torchvision's ranges (`RandomResizedCropSection.standard`: area 0.08–1, aspect
    /// ratio 3/4–4/3), brightness and contrast ±20 %: the loader benchmark's and tests' pipeline.
    public static let standard = AugmentationConfig(
        horizontalFlipProbability: AugmentSection.flipProbability, cropScale: RandomResizedCropSection.standardScale,
        cropRatio: RandomResizedCropSection.standardRatio, brightness: 0.2, contrast: 0.2, seed: 0)

    func validate() throws {
        func ordered(_ r: [Double], _ name: String, positive: Bool) throws {
            guard r.count == 2, r[0] <= r[1], positive ? r[0] > 0 : r[0] >= 0 else {
                throw DatasetError.invalidConfiguration("\(name) must be two increasing numbers [low, high], got \(r)")
            }
        }
        if let scale = cropScale { try ordered(scale, "crop scale", positive: true) }
        try ordered(cropRatio, "crop ratio", positive: true)
        guard (0...1).contains(horizontalFlipProbability), (0..<1).contains(brightness), (0..<1).contains(contrast) else {
            throw DatasetError.invalidConfiguration("flip probability must be in 0…1, brightness and contrast in 0..<1")
        }
    }

    /// The random choices for one sample of a `size`×`size` image.
    func draw(size: Int, epoch: Int, sample: Int) -> AugmentationDraw {
        var rng = SplitMix64(seed: seed, streams: UInt64(epoch), UInt64(sample))
        let flip = rng.nextUnit() < horizontalFlipProbability
        var region = PixelRegion(x: 0, y: 0, width: Double(size), height: Double(size))
        if let scale = cropScale { region = randomResizedCrop(size: size, scale: scale, rng: &rng) }
        let brightnessFactor = brightness > 0 ? rng.uniform((1 - brightness)...(1 + brightness)) : 1
        let contrastFactor = contrast > 0 ? rng.uniform((1 - contrast)...(1 + contrast)) : 1
        return AugmentationDraw(region: region, flip: flip, brightness: Float(brightnessFactor),
                                contrast: Float(contrastFactor))
    }

    /// torchvision's `RandomResizedCrop.get_params`: ten tries at a random area and log-uniform aspect ratio,
    /// then a centre crop clamped to the ratio range.
    private func randomResizedCrop(size: Int, scale: [Double], rng: inout SplitMix64) -> PixelRegion {
        let area = Double(size * size)
        let logRatio = log(cropRatio[0])...log(cropRatio[1])
        for _ in 0..<10 {
            let targetArea = area * rng.uniform(scale[0]...scale[1])
            let ratio = exp(rng.uniform(logRatio))
            let w = Int((targetArea * ratio).squareRoot().rounded())
            let h = Int((targetArea / ratio).squareRoot().rounded())
            if w > 0 && w <= size && h > 0 && h <= size {
                let top = rng.below(size - h + 1), left = rng.below(size - w + 1)
                return PixelRegion(x: Double(left), y: Double(top), width: Double(w), height: Double(h))
            }
        }
        // Fallback: the whole (square) image, narrowed to the ratio range if 1 lies outside it.
        var w = size, h = size
        if cropRatio[0] > 1 { h = max(1, Int((Double(size) / cropRatio[0]).rounded())) }
        if cropRatio[1] < 1 { w = max(1, Int((Double(size) * cropRatio[1]).rounded())) }
        return PixelRegion(x: Double((size - w) / 2), y: Double((size - h) / 2), width: Double(w), height: Double(h))
    }
}

/// One sample's random choices.
struct AugmentationDraw {
    var region: PixelRegion
    var flip: Bool
    var brightness: Float
    var contrast: Float
}
