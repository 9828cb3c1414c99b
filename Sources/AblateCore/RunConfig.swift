import Foundation

/// A fully resolved run configuration: every default filled in, shorthands expanded, settings that do not apply
/// (e.g. `momentum` with Adam) dropped. Its canonical JSON (`canonicalJSON`, sorted keys, no whitespace) is what
/// the config hash is computed from and what the run store keeps. Decoding that JSON gives the same value back.
public struct RunConfig: Codable, Equatable, Sendable {
    /// Version of this configuration format; bumped if the meaning of a field changes, so hashes change too.
    public var configVersion: Int
    /// Seed for weight initialisation, shuffling and augmentation (the data split has its own seed).
    public var seed: Int
    public var data: DataConfig
    public var training: TrainingConfig
    public var model: ModelConfig

    public static let currentVersion = 1

    public init(configVersion: Int, seed: Int, data: DataConfig, training: TrainingConfig, model: ModelConfig) {
        self.configVersion = configVersion; self.seed = seed; self.data = data; self.training = training; self.model = model
    }

    enum CodingKeys: String, CodingKey {
        case configVersion = "config_version", seed, data, training, model
    }

    public var jsonValue: JSONValue {
        .object(["config_version": .int(configVersion), "seed": .int(seed), "data": data.jsonValue,
                 "training": training.jsonValue, "model": model.jsonValue])
    }

    /// Compact JSON with sorted keys: the input of `hash`.
    public var canonicalJSON: String { jsonValue.canonical }

    /// Lower-case hex SHA-256 of `canonicalJSON`.
    public var hash: String { SHA256.hex(canonicalJSON) }

    /// Decodes a stored canonical JSON configuration.
    public static func decode(json: String) throws -> RunConfig {
        try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8))
    }
}

// MARK: - data

/// How a dataset is divided into training and test files (the experiment file's `data.split.protocol`, and the
/// strategy Datasets' `SplitConfig` executes).
public enum SplitProtocol: String, Codable, Sendable, CaseIterable {
    /// Shuffle all files, cut at `1 - test_fraction` (like PyTorch's `random_split`; what the course did). Leaks
    /// near-duplicates across the split on augmented data.
    case random
    /// The same cut within each class, so both sides keep the class proportions.
    case stratified
    /// Whole groups (`group`: same photograph or same patient) go to one side, the cut made per class on the
    /// groups' file counts: no leakage.
    case grouped
    /// The split is given by folders: `path/train/<class>/…`, `path/test/<class>/…` (and optionally `val/`);
    /// nothing is shuffled.
    case folders
}

/// How file names are grouped for `grouped` splits.
public enum GroupKey: Equatable, Sendable, Codable {
    /// Same original photograph: the file name without extension and without its last `_NN` (`M01_02_07` → `M01_02`).
    case photo
    /// Same patient: the part of the name before the first `_` (`M01_02_07` → `M01`).
    case patient
    /// The first capture group of this regular expression (or the whole match) applied to the file name.
    case regex(String)

    public var jsonValue: JSONValue {
        switch self {
        case .photo: return .string("photo")
        case .patient: return .string("patient")
        case let .regex(r): return .object(["regex": .string(r)])
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let s = try? container.decode(String.self) {
            switch s {
            case "photo": self = .photo
            case "patient": self = .patient
            default: throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown group \(s)")
            }
        } else {
            self = .regex(try container.decode([String: String].self)["regex"] ?? "")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .photo: try container.encode("photo")
        case .patient: try container.encode("patient")
        case let .regex(r): try container.encode(["regex": r])
        }
    }
}

public struct SplitSettings: Codable, Equatable, Sendable {
    public var `protocol`: SplitProtocol
    /// Fraction of images (or groups) in the test set; nil for `folders`.
    public var testFraction: Double?
    /// `test_fraction` when the file leaves it out.
    public static let defaultTestFraction = 0.2
    /// The sub-folders a `folders` split reads (the only names supported).
    public static let trainFolder = "train", testFolder = "test"
    /// Grouping for `grouped`; nil otherwise.
    public var group: GroupKey?
    /// Seed of the split itself (fixed by default, so all runs of an experiment share one split); nil for `folders`.
    public var seed: Int?
    /// Sub-folders for `folders`; nil otherwise.
    public var trainDir: String?
    public var testDir: String?

    public init(protocol: SplitProtocol, testFraction: Double?, group: GroupKey?, seed: Int?, trainDir: String?, testDir: String?) {
        self.`protocol` = `protocol`; self.testFraction = testFraction; self.group = group; self.seed = seed; self.trainDir = trainDir; self.testDir = testDir
    }

    enum CodingKeys: String, CodingKey {
        case `protocol`, testFraction = "test_fraction", group, seed, trainDir = "train_dir", testDir = "test_dir"
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["protocol": .string(`protocol`.rawValue)]
        if let testFraction { o["test_fraction"] = .double(testFraction) }
        if let group { o["group"] = group.jsonValue }
        if let seed { o["seed"] = .int(seed) }
        if let trainDir { o["train_dir"] = .string(trainDir) }
        if let testDir { o["test_dir"] = .string(testDir) }
        return .object(o)
    }
}

public struct RandomResizedCrop: Codable, Equatable, Sendable {
    /// Area fraction range [min, max] of the crop.
    public var scale: [Double]
    /// Aspect ratio range [min, max] of the crop.
    public var ratio: [Double]

    /// torchvision's `RandomResizedCrop` ranges: what `random_resized_crop: true` means, and Datasets' defaults.
    public static let standardScale = [0.08, 1.0]
    public static let standardRatio = [3.0 / 4.0, 4.0 / 3.0]
    public static let standard = RandomResizedCrop(scale: standardScale, ratio: standardRatio)

    public init(scale: [Double], ratio: [Double]) {
        self.scale = scale; self.ratio = ratio
    }

    public var jsonValue: JSONValue {
        .object(["scale": .array(scale.map(JSONValue.double)), "ratio": .array(ratio.map(JSONValue.double))])
    }
}

public struct AugmentConfig: Codable, Equatable, Sendable {
    public var hflip: Bool
    /// nil: no random resized crop (images are resized to `size`).
    public var randomResizedCrop: RandomResizedCrop?
    /// Brightness jitter: factor drawn from [1 - b, 1 + b]; 0 = off.
    public var brightness: Double
    /// Contrast jitter: factor drawn from [1 - c, 1 + c]; 0 = off.
    public var contrast: Double

    public init(hflip: Bool, randomResizedCrop: RandomResizedCrop?, brightness: Double, contrast: Double) {
        self.hflip = hflip; self.randomResizedCrop = randomResizedCrop; self.brightness = brightness; self.contrast = contrast
    }

    enum CodingKeys: String, CodingKey {
        case hflip, randomResizedCrop = "random_resized_crop", brightness, contrast
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["hflip": .bool(hflip), "brightness": .double(brightness),
                                      "contrast": .double(contrast)]
        if let randomResizedCrop { o["random_resized_crop"] = randomResizedCrop.jsonValue }
        return .object(o)
    }
}

public struct NormalizeConfig: Codable, Equatable, Sendable {
    public var mean: [Double]
    public var std: [Double]

    public static let imageNet = NormalizeConfig(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    public init(mean: [Double], std: [Double]) {
        self.mean = mean; self.std = std
    }

    public var jsonValue: JSONValue {
        .object(["mean": .array(mean.map(JSONValue.double)), "std": .array(std.map(JSONValue.double))])
    }
}

/// Synthetic data the runner generates at `data.path` when that folder is missing (for demos and CI).
public struct SynthesizeConfig: Codable, Equatable, Sendable {
    public var classes: Int
    public var perClass: Int
    /// Side of the generated square images, in pixels.
    public var size: Int

    public init(classes: Int, perClass: Int, size: Int) {
        self.classes = classes; self.perClass = perClass; self.size = size
    }

    enum CodingKeys: String, CodingKey { case classes, perClass = "per_class", size }

    public var jsonValue: JSONValue {
        .object(["classes": .int(classes), "per_class": .int(perClass), "size": .int(size)])
    }
}

public struct DataConfig: Codable, Equatable, Sendable {
    /// The data folder as written in the file (or given with --data); see `ResolvedRun.dataDirectory`.
    public var path: String
    public var split: SplitSettings
    /// Side of the square network input, in pixels.
    public var size: Int
    public var augment: AugmentConfig
    public var normalize: NormalizeConfig
    public var synthesize: SynthesizeConfig?
    /// Images with more pixels (after JPEG DCT scaling) are skipped; nil: the decoder's default limit.
    /// Left out of the canonical JSON when unset, so files without it keep their config hashes.
    public var maxPixels: Int?

    public init(path: String, split: SplitSettings, size: Int, augment: AugmentConfig, normalize: NormalizeConfig, synthesize: SynthesizeConfig?, maxPixels: Int?) {
        self.path = path; self.split = split; self.size = size; self.augment = augment; self.normalize = normalize; self.synthesize = synthesize; self.maxPixels = maxPixels
    }

    enum CodingKeys: String, CodingKey {
        case path, split, size, augment, normalize, synthesize, maxPixels = "max_pixels"
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["path": .string(path), "split": split.jsonValue, "size": .int(size),
                                      "augment": augment.jsonValue, "normalize": normalize.jsonValue]
        if let synthesize { o["synthesize"] = synthesize.jsonValue }
        if let maxPixels { o["max_pixels"] = .int(maxPixels) }
        return .object(o)
    }
}

// MARK: - training

public enum OptimizerKind: String, Codable, Sendable, CaseIterable { case sgd, adam }

public struct OptimizerSettings: Codable, Equatable, Sendable {
    public var name: OptimizerKind
    public var lr: Double
    /// SGD only.
    public var momentum: Double?
    /// SGD only.
    public var nesterov: Bool?
    /// Adam only: [beta1, beta2].
    public var betas: [Double]?
    /// Adam only.
    public var eps: Double?
    /// Adam's `betas` and `eps` when the file leaves them out (PyTorch's defaults).
    public static let defaultAdamBetas = [0.9, 0.999]
    public static let defaultAdamEps = 1e-8
    /// SGD's momentum when the file leaves it out.
    public static let defaultSGDMomentum = 0.9
    /// L2 penalty added to the gradient (both optimisers).
    public var weightDecay: Double

    public init(name: OptimizerKind, lr: Double, momentum: Double?, nesterov: Bool?, betas: [Double]?, eps: Double?, weightDecay: Double) {
        self.name = name; self.lr = lr; self.momentum = momentum; self.nesterov = nesterov; self.betas = betas; self.eps = eps; self.weightDecay = weightDecay
    }

    enum CodingKeys: String, CodingKey {
        case name, lr, momentum, nesterov, betas, eps, weightDecay = "weight_decay"
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name.rawValue), "lr": .double(lr),
                                      "weight_decay": .double(weightDecay)]
        if let momentum { o["momentum"] = .double(momentum) }
        if let nesterov { o["nesterov"] = .bool(nesterov) }
        if let betas { o["betas"] = .array(betas.map(JSONValue.double)) }
        if let eps { o["eps"] = .double(eps) }
        return .object(o)
    }
}

public enum ScheduleKind: String, Codable, Sendable, CaseIterable { case constant, step, cosine }

public struct ScheduleSettings: Codable, Equatable, Sendable {
    public var name: ScheduleKind
    /// `step`: multiply the rate by `gamma` every `stepSize` epochs.
    public var stepSize: Int?
    public var gamma: Double?
    /// `gamma` when the file leaves it out.
    public static let defaultGamma = 0.1
    /// `cosine`: anneal from `lr` to `minLR` over all epochs (training runs Engine's `LRSchedule`).
    public var minLR: Double?

    public init(name: ScheduleKind, stepSize: Int?, gamma: Double?, minLR: Double?) {
        self.name = name; self.stepSize = stepSize; self.gamma = gamma; self.minLR = minLR
    }

    enum CodingKeys: String, CodingKey { case name, stepSize = "step_size", gamma, minLR = "min_lr" }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name.rawValue)]
        if let stepSize { o["step_size"] = .int(stepSize) }
        if let gamma { o["gamma"] = .double(gamma) }
        if let minLR { o["min_lr"] = .double(minLR) }
        return .object(o)
    }
}

public struct TrainingConfig: Codable, Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerSettings
    public var schedule: ScheduleSettings
    /// Worker threads; nil = all cores.
    public var threads: Int?
    /// Evaluate on the test set every N epochs (and always after the last one).
    public var evalEvery: Int

    public init(epochs: Int, batchSize: Int, optimizer: OptimizerSettings, schedule: ScheduleSettings, threads: Int?, evalEvery: Int) {
        self.epochs = epochs; self.batchSize = batchSize; self.optimizer = optimizer; self.schedule = schedule; self.threads = threads; self.evalEvery = evalEvery
    }

    enum CodingKeys: String, CodingKey {
        case epochs, batchSize = "batch_size", optimizer, schedule, threads, evalEvery = "eval_every"
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["epochs": .int(epochs), "batch_size": .int(batchSize),
                                      "optimizer": optimizer.jsonValue, "schedule": schedule.jsonValue,
                                      "eval_every": .int(evalEvery)]
        if let threads { o["threads"] = .int(threads) }
        return .object(o)
    }
}

// MARK: - model

public struct ModelConfig: Codable, Equatable, Sendable {
    /// Canonical name derived from the architecture: a preset's (`densenet121`, `resnet50`, …), or `custom`
    /// (DenseNet) / `resnet-custom`, then `-seN` with SE and, for a DenseNet, `-layer` or `-transition` when SE is
    /// not on the block outputs.
    public var name: String
    // DenseNet settings (nil for a ResNet).
    public var growthRate: Int?
    public var blockConfig: [Int]?
    public var initChannels: Int?
    public var bnSize: Int?
    public var compression: Double?
    public var dropRate: Double?
    /// Where SE sits in a DenseNet; nil = on each block's output (the default, omitted from the JSON so the
    /// configurations and hashes written before placements existed stay the same).
    public var sePlacement: SEPlacement?
    // ResNet settings (nil for a DenseNet).
    public var block: ResidualBlockKind?
    public var layers: [Int]?
    public var width: Int?
    /// Squeeze-and-Excitation reduction (DenseNet: at `sePlacement`; ResNet: on every residual branch); nil = no SE.
    public var seReduction: Int?
    /// Output classes; nil = the number of class folders found in the data.
    public var classes: Int?

    enum CodingKeys: String, CodingKey {
        case name, growthRate = "growth_rate", blockConfig = "block_config", initChannels = "init_channels",
             bnSize = "bn_size", compression, dropRate = "drop_rate", sePlacement = "se_placement", block, layers,
             width, seReduction = "se_reduction", classes
    }

    /// A DenseNet from its engine configuration (`classes` left to the data unless given).
    public init(_ c: DenseNetConfig, classes: Int? = nil) {
        growthRate = c.growthRate; blockConfig = c.blockConfig; initChannels = c.initChannels; bnSize = c.bnSize
        compression = c.compression; dropRate = c.dropRate; seReduction = c.seReduction
        sePlacement = c.seReduction == nil || c.sePlacement == .block ? nil : c.sePlacement
        self.classes = classes
        name = ""
        name = Self.canonicalName(self)
    }

    /// A ResNet from its engine configuration.
    public init(_ c: ResNetConfig, classes: Int? = nil) {
        block = c.block; layers = c.layers; width = c.width; seReduction = c.seReduction
        self.classes = classes
        name = ""
        name = Self.canonicalName(self)
    }

    public var isResNet: Bool { block != nil }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name)]
        if let block, let layers, let width {
            o["block"] = .string(block.rawValue); o["layers"] = .array(layers.map(JSONValue.int)); o["width"] = .int(width)
        } else {
            o["growth_rate"] = .int(growthRate ?? 0); o["block_config"] = .array((blockConfig ?? []).map(JSONValue.int))
            o["init_channels"] = .int(initChannels ?? 0); o["bn_size"] = .int(bnSize ?? 0)
            o["compression"] = .double(compression ?? 0); o["drop_rate"] = .double(dropRate ?? 0)
            if let sePlacement, sePlacement != .block { o["se_placement"] = .string(sePlacement.rawValue) }
        }
        if let seReduction { o["se_reduction"] = .int(seReduction) }
        if let classes { o["classes"] = .int(classes) }
        return .object(o)
    }

    /// The engine's model with `classes` outputs.
    public func spec(classes: Int) -> ModelSpec {
        if let block, let layers, let width {
            return .resNet(ResNetConfig(block: block, layers: layers, width: width, classes: classes, seReduction: seReduction))
        }
        return .denseNet(DenseNetConfig(growthRate: growthRate ?? 32, blockConfig: blockConfig ?? [], initChannels: initChannels ?? 64,
                                        bnSize: bnSize ?? 4, compression: compression ?? 0.5, dropRate: dropRate ?? 0,
                                        classes: classes, seReduction: seReduction, sePlacement: sePlacement ?? .block))
    }

    /// DenseNet: channels at the output of each dense block, before its transition (empty for a ResNet).
    public var blockOutputChannels: [Int] {
        guard case .denseNet(let c) = spec(classes: 2) else { return [] }
        return c.blockChannels.map(\.output)
    }

    /// Canonical name of an architecture: the preset's name when it matches one of Models' presets (classes,
    /// dropout and SE aside), otherwise `custom` / `resnet-custom`; then `-seN` and a non-default placement.
    static func canonicalName(_ m: ModelConfig) -> String {
        switch m.spec(classes: 2) {
        case .denseNet(let c):
            var name = (c.presetName ?? "custom") + (c.seReduction.map { "-se\($0)" } ?? "")
            if c.seReduction != nil, c.sePlacement != .block { name += "-\(c.sePlacement.rawValue)" }
            return name
        case .resNet(let c):
            return (c.presetName ?? "resnet-custom") + (c.seReduction.map { "-se\($0)" } ?? "")
        }
    }
}
