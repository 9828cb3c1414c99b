// The one seam from the experiment file to the code that runs: a run's configuration (`RunConfig`, its sections as
// the file says them) becomes, once, the values the engine, the datasets and the trainer take (`ModelSpec`,
// `TrainingConfig`, `SplitConfig`, `AugmentationConfig`, `Normalization`, `ImageLoadOptions`). Those types have no
// defaults of their own; every default is a declaration's (`…Section.settings`).
import AblateCore
import Datasets
import Engine
import Training

/// What one run trains with, translated from its configuration.
public struct RunPlan: Equatable {
    /// Weight initialisation, shuffling and augmentation.
    public let seed: UInt64
    public let training: TrainingConfig
    public let split: SplitConfig
    /// nil: no augmentation.
    public let augmentation: AugmentationConfig?
    public let normalization: Normalization
    public let load: ImageLoadOptions
    /// Synthetic images to generate at the data folder when it is missing.
    public let synthesize: SynthesizeSection?
    /// The architecture; `model(classNames:)` gives it its classes.
    let modelSection: ModelSection

    /// The plan of a validated configuration. The reader writes every applicable default into the configuration,
    /// so a stored configuration says what ran; a value one stored before a default was written in stands for the
    /// declaration's default (`declared`), never for a constant of this file.
    public init(_ config: RunConfig) throws {
        seed = UInt64(max(0, config.seed))
        training = try Self.training(config.training)
        split = try Self.split(config.data.split)
        augmentation = Self.augmentation(config.data.augment, seed: seed)
        normalization = Normalization(mean: config.data.normalize.mean.map(Float.init),
                                      std: config.data.normalize.std.map(Float.init))
        load = ImageLoadOptions(size: config.data.size, maxPixels: config.data.maxPixels ?? ImageDecoder.defaultMaxPixels)
        synthesize = config.data.synthesize
        modelSection = config.model
    }

    /// The network for a dataset with these classes: `model.classes` when the file gives it (it must match), else
    /// the number of class folders.
    public func model(classNames: [String], directory: String) throws -> ModelSpec {
        let classes = modelSection.classes ?? classNames.count
        guard classes == classNames.count else {
            throw RunnerError.model("model.classes is \(classes) but \(directory) has \(classNames.count) classes (\(classNames.joined(separator: ", ")))")
        }
        return try model(classes: classes)
    }

    /// The network with `classes` outputs (a stored run's weights are read into it).
    public func model(classes: Int) throws -> ModelSpec {
        let spec = try modelSection.spec(classes: classes)
        try spec.validate()
        return spec
    }

    /// `value`, else the default `S`'s declaration of `key` gives for `section` (a configuration stored before the
    /// reader wrote that default in). Throws when the declaration has none (a required value is missing).
    static func declared<S: SettingsSection, V: SettingValue>(_ value: V?, _ key: String, of section: S,
                                                              at path: String) throws -> V {
        if let value { return value }
        guard let json = S.setting(key).fallback(section) else { throw SettingError.missing(key: "\(path).\(key)") }
        return try V(json: json)
    }

    static func training(_ t: TrainingSection) throws -> TrainingConfig {
        let o = t.optimizer, path = "training.optimizer"
        let optimizer: OptimizerConfig
        switch o.name {
        case .sgd:
            optimizer = .sgd(lr: Float(o.lr), momentum: Float(try declared(o.momentum, "momentum", of: o, at: path)),
                             dampening: 0, weightDecay: Float(o.weightDecay),
                             nesterov: try declared(o.nesterov, "nesterov", of: o, at: path))
        case .adam:
            let betas: [Double] = try declared(o.betas, "betas", of: o, at: path)
            optimizer = .adam(lr: Float(o.lr), beta1: Float(betas[0]), beta2: Float(betas[1]),
                              eps: Float(try declared(o.eps, "eps", of: o, at: path)), weightDecay: Float(o.weightDecay))
        }
        let s = t.schedule
        let schedule: LRSchedule
        switch s.name {
        case .constant: schedule = .constant
        case .step:
            guard let stepSize = s.stepSize else {
                throw RunnerError.model("training.schedule.step_size is missing from the stored configuration; "
                    + "the experiment file must give it for a step schedule")
            }
            schedule = .step(stepSize: stepSize, gamma: Float(try declared(s.gamma, "gamma", of: s, at: "training.schedule")))
        case .cosine: schedule = .cosine(minLR: Float(try declared(s.minLR, "min_lr", of: s, at: "training.schedule")))
        }
        let earlyStop = t.earlyStop.map { EarlyStopping(metric: $0.metric, patience: $0.patience, minDelta: $0.minDelta) }
        return TrainingConfig(epochs: t.epochs, batchSize: t.batchSize, optimizer: optimizer, schedule: schedule,
                              selection: t.selection, earlyStop: earlyStop, freeze: t.freeze ?? [],
                              headLRMultiplier: o.headLRMultiplier.map(Float.init))
    }

    /// The Datasets split. Split seeds default to one value (`SplitSection.defaultSeed`), so all runs share one split.
    /// (The reader refuses `train_dir` / `test_dir` other than `train` / `test`.)
    static func split(_ split: SplitSection) throws -> SplitConfig {
        let path = "data.split"
        switch split.protocol {
        case .random, .stratified, .grouped:
            let fraction: Double = try declared(split.testFraction, "test_fraction", of: split, at: path)
            let seed = UInt64(max(0, try declared(split.seed, "seed", of: split, at: path) as Int))
            var groupKey: GroupKeyRule?
            if split.protocol == .grouped {
                guard let group = split.group else { throw SettingError.missing(key: "\(path).group") }
                groupKey = try group.rule()
            }
            return SplitConfig(strategy: split.protocol, testFraction: fraction, seed: seed, groupKey: groupKey,
                               validationFraction: split.validationFraction)
        case .kfold:
            let seed = UInt64(max(0, try declared(split.seed, "seed", of: split, at: path) as Int))
            guard let group = split.group else { throw SettingError.missing(key: "\(path).group") }
            guard let fold = split.fold else { throw SettingError.missing(key: "\(path).fold") }
            let folds: Int = try declared(split.folds, "folds", of: split, at: path)
            // The test part is one fold; `testFraction` is unused and recorded as 1/folds.
            return SplitConfig(strategy: .kfold, testFraction: 1 / Double(folds), seed: seed, groupKey: try group.rule(),
                               validationFraction: split.validationFraction, folds: folds, fold: fold)
        case .folders:
            // Nothing is cut or shuffled: the fraction and seed are recorded as the declarations' defaults.
            return SplitConfig(strategy: .folders, testFraction: SplitSection.defaultTestFraction,
                               seed: UInt64(SplitSection.defaultSeed), groupKey: nil)
        }
    }

    static func augmentation(_ a: AugmentSection, seed: UInt64) -> AugmentationConfig? {
        let crop = a.randomResizedCrop
        if !a.hflip && crop == nil && a.brightness == 0 && a.contrast == 0 { return nil }
        return AugmentationConfig(horizontalFlipProbability: a.hflip ? AugmentSection.flipProbability : 0,
                                  cropScale: crop?.scale, cropRatio: crop?.ratio ?? RandomResizedCropSection.standardRatio,
                                  brightness: a.brightness, contrast: a.contrast, seed: seed)
    }
}

extension GroupKey {
    /// The Datasets rule that does the grouping (one implementation of `photo`, `patient` and regexes).
    public func rule() throws -> GroupKeyRule {
        switch self {
        case .photo: return .photo
        case .patient: return .patient
        case .regex(let pattern): return try GroupKeyRule.named(pattern)
        }
    }
}
