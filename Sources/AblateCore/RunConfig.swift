// A run's configuration, section by section. Each section declares its settings once, in `settings` (see
// Settings.swift): key, property, values, default, when it applies, example and meaning. The experiment file's
// reader (ExperimentFile), the canonical JSON and config hash, decoding stored configurations and the reference
// docs/experiment-file.md all come from those tables.
import Foundation

/// A fully resolved run configuration: every default filled in, shorthands expanded, settings that do not apply
/// (e.g. `momentum` with Adam) dropped. Its canonical JSON (`canonicalJSON`, sorted keys, no whitespace) is what
/// the config hash is computed from and what the run store keeps. Decoding that JSON gives the same value back.
public struct RunConfig: SettingsSection {
    /// Version of this configuration format; bumped if the meaning of a field changes, so hashes change too.
    public var configVersion = RunConfig.currentVersion
    /// Seed for weight initialisation, shuffling and augmentation (the data split has its own seed).
    public var seed = defaultSeed
    public var data = DataSection()
    public var training = TrainingSection()
    public var model = ModelSection()

    public static let currentVersion = 1
    /// `seed` when the file leaves it out.
    public static let defaultSeed = 1

    public init() {}

    public static let settings: [Setting<RunConfig>] = [
        .init("config_version", \.configVersion, .integer(), default: .value(currentVersion), example: "1",
              inFile: false, "version of the configuration format (not written in the file)"),
        .init("seed", \.seed, .integer(min: 0), default: .value(defaultSeed), example: "1",
              "run seed: weight initialisation, shuffling and augmentation (the split has its own seed)"),
        .init("data", \.data, .section(DataSection.self), default: .required,
              example: "{path: ../shared/data/monkeypox}", "the images and how they are split, sized and augmented"),
        .init("training", \.training, .section(TrainingSection.self), default: .required, example: "{epochs: 10}",
              "epochs, batches, optimiser and learning-rate schedule"),
        .init("model", \.model, .section(ModelSection.self, shorthand: "name"), default: .required,
              example: "densenet121", "the network: a model name, or a section that spells it out"),
    ]

    /// Compact JSON with sorted keys: the input of `hash`.
    public var canonicalJSON: String { jsonValue.canonical }

    /// Lower-case hex SHA-256 of `canonicalJSON`.
    public var hash: String { SHA256.hex(canonicalJSON) }

    /// Decodes a stored canonical JSON configuration.
    public static func decode(json: String) throws -> RunConfig {
        try RunConfig(json: JSONValue.parse(json))
    }
}

// MARK: - data

/// How a dataset is divided into training and test files (the experiment file's `data.split.protocol`, and the
/// strategy Datasets' `SplitConfig` executes).
public enum SplitProtocol: String, Codable, Sendable, CaseIterable, SettingValue {
    /// Shuffle all files, cut at `1 - test_fraction` (like PyTorch's `random_split`; what the course did). Leaks
    /// near-duplicates across the split on augmented data.
    case random
    /// The same cut within each class, so both sides keep the class proportions.
    case stratified
    /// Whole groups (`group`: same photograph or same patient) go to one side, the cut made per class on the
    /// groups' file counts: no leakage.
    case grouped
    /// The split is given by folders: `path/train/<class>/…`, `path/test/<class>/…`;
    /// nothing is shuffled.
    case folders
    /// Grouped k-fold cross-validation: whole groups dealt to `folds` folds keeping the class balance as far as
    /// the groups allow (stratified group k-fold); the run tests on fold `fold` and trains on the others, so over
    /// the folds every group is tested exactly once.
    case kfold
}

/// How file names are grouped for `grouped` splits.
public enum GroupKey: Equatable, Sendable, SettingValue {
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

    public init(json: JSONValue) throws {
        switch json {
        case .string("photo"): self = .photo
        case .string("patient"): self = .patient
        case .object(let o):
            guard let r = o["regex"]?.stringValue else { throw SettingError.missing(key: "regex") }
            self = .regex(r)
        default: throw SettingError.unknownValue(key: "", value: json.canonical)
        }
    }
}

public struct SplitSection: SettingsSection {
    public var `protocol` = SplitProtocol.random
    /// Fraction of images (or groups) in the test set; nil for `folders`.
    public var testFraction: Double?
    /// Grouping for `grouped`; nil otherwise.
    public var group: GroupKey?
    /// Seed of the split itself (fixed by default, so all runs of an experiment share one split); nil for `folders`.
    public var seed: Int?
    /// Sub-folders for `folders`; nil otherwise.
    public var trainDir: String?
    public var testDir: String?
    /// Fraction of all files held out of training for validation (epoch selection, early stopping), drawn like
    /// the test part from what it leaves; nil: no validation part.
    public var validationFraction: Double?
    /// `kfold`: the number of folds, and the fold this run tests on.
    public var folds: Int?
    public var fold: Int?

    /// `test_fraction` when the file leaves it out.
    public static let defaultTestFraction = 0.2
    /// `seed` when the file leaves it out (also `ablate data audit --seed`'s default, so it audits the runs' split).
    public static let defaultSeed = 0
    /// The sub-folders a `folders` split reads (the only names supported).
    public static let trainFolder = "train", testFolder = "test"
    /// `folds` when the file leaves it out (the usual choice, and the published protocol of this data set's MSLD).
    public static let defaultFolds = 5

    public init() {}

    static let shuffled = Condition<SplitSection>("random, stratified, grouped, kfold") { $0.protocol != .folders }
    static let byFraction = Condition<SplitSection>("random, stratified, grouped") {
        $0.protocol != .folders && $0.protocol != .kfold
    }
    static let byGroups = Condition<SplitSection>("grouped, kfold") { $0.protocol == .grouped || $0.protocol == .kfold }
    static let byFolders = Condition<SplitSection>("folders") { $0.protocol == .folders }
    static let crossValidated = Condition<SplitSection>("kfold") { $0.protocol == .kfold }

    public static let settings: [Setting<SplitSection>] = [
        .init("protocol", \.protocol, .choice(of: SplitProtocol.self), default: .value(.random), example: "random",
              "random: shuffle all files; stratified: the same cut within each class; grouped: whole groups to one "
                + "side (no leakage); folders: `path/train/` and `path/test/` as given; kfold: grouped k-fold "
                + "cross-validation (each run tests on one fold)"),
        .init("test_fraction", \.testFraction, .number(NumberRange(min: 0, max: 1, openMin: true, openMax: true)),
              default: .value(defaultTestFraction), when: byFraction, example: "0.2",
              "fraction of the images (grouped: of the groups' files) in the test set"),
        .init("group", \.group, .groupKey, default: .described("required for grouped and kfold"),
              when: byGroups, example: "photo",
              "what makes files one group: photo (the name without its last `_NN`), patient (the name before its "
                + "first `_`), or `{regex: '…'}` (its first capture group)"),
        .init("seed", \.seed, .integer(min: 0), default: .value(defaultSeed), when: shuffled, example: "0",
              "split seed: the same split for every run unless it is a matrix axis"),
        .init("train_dir", \.trainDir, .text, default: .value(trainFolder), when: byFolders, example: trainFolder,
              "the training sub-folder (only `train` is supported; the key may spell it out)"),
        .init("test_dir", \.testDir, .text, default: .value(testFolder), when: byFolders, example: testFolder,
              "the test sub-folder (only `test` is supported)"),
        .init("folds", \.folds, .integer(min: 2, max: 100), default: .value(defaultFolds), when: crossValidated,
              example: "5", "number of folds the groups are dealt to"),
        .init("fold", \.fold, .integer(min: 0, max: 99), default: .described("required for kfold"),
              when: crossValidated, example: "0",
              "the fold this run tests on, 0..<folds; usually a matrix axis: `data.split.fold: all`"),
        .init("validation_fraction", \.validationFraction,
              .number(NumberRange(min: 0, max: 1, openMin: true, openMax: true)), default: .described("none"),
              when: shuffled, example: "0.15",
              "fraction of all images held out of training for validation (epoch selection, early stopping), "
                + "drawn like the test set from what it leaves (whole groups when grouped; kfold: from the "
                + "training folds); never a test image"),
    ]
}

public struct RandomResizedCropSection: SettingsSection {
    /// Area fraction range [min, max] of the crop.
    public var scale = standardScale
    /// Aspect ratio range [min, max] of the crop.
    public var ratio = standardRatio

    /// torchvision's `RandomResizedCrop` ranges: what `random_resized_crop: true` means, and Datasets' defaults.
    public static let standardScale = [0.08, 1.0]
    public static let standardRatio = [3.0 / 4.0, 4.0 / 3.0]
    public static let standard = RandomResizedCropSection()

    public init() {}

    public static let settings: [Setting<RandomResizedCropSection>] = [
        .init("scale", \.scale, .numbers(count: 2, NumberRange(min: 0, max: 1, openMin: true)),
              default: .value(standardScale), example: "[0.08, 1.0]", "[min, max] fraction of the image's area"),
        .init("ratio", \.ratio, .numbers(count: 2, .positive), default: .value(standardRatio),
              example: "[0.75, 1.3333]", "[min, max] aspect ratio (width / height)"),
    ]
}

public struct AugmentSection: SettingsSection {
    public var hflip = false
    /// nil: no random resized crop (images are resized to `size`).
    public var randomResizedCrop: RandomResizedCropSection?
    /// Brightness jitter: factor drawn from [1 - b, 1 + b]; 0 = off.
    public var brightness = 0.0
    /// Contrast jitter: factor drawn from [1 - c, 1 + c]; 0 = off.
    public var contrast = 0.0

    /// The probability of a mirror with `hflip: true`.
    public static let flipProbability = 0.5

    public init() {}

    public static let settings: [Setting<AugmentSection>] = [
        .init("hflip", \.hflip, .flag, default: .value(false), example: "true",
              "mirror left–right with probability 0.5"),
        .init("random_resized_crop", \.randomResizedCrop, .section(RandomResizedCropSection.self, switchable: true),
              default: .described("off"), example: "true",
              "crop a random part of the image and resize it back (torchvision's RandomResizedCrop); `true` for "
                + "its standard ranges"),
        .init("brightness", \.brightness, .number(.unit), default: .value(0.0), example: "0.2",
              "brightness factor drawn from [1 - b, 1 + b]; 0 = off"),
        .init("contrast", \.contrast, .number(.unit), default: .value(0.0), example: "0.2",
              "contrast factor drawn from [1 - c, 1 + c]; 0 = off"),
    ]
}

public struct NormalizeSection: SettingsSection {
    public var mean = imageNetMean
    public var std = imageNetStd

    /// ImageNet's channel statistics (torchvision's pretrained models), the default.
    public static let imageNetMean = [0.485, 0.456, 0.406], imageNetStd = [0.229, 0.224, 0.225]
    public static let imageNet = NormalizeSection()

    public init() {}

    public static let settings: [Setting<NormalizeSection>] = [
        .init("mean", \.mean, .numbers(count: 3, .unit), default: .value(imageNetMean),
              example: "[0.485, 0.456, 0.406]", "per-channel (R, G, B) mean subtracted from pixels scaled to [0, 1]"),
        .init("std", \.std, .numbers(count: 3, .positive), default: .value(imageNetStd),
              example: "[0.229, 0.224, 0.225]", "per-channel standard deviation pixels are divided by"),
    ]
}

/// Synthetic data the runner generates at `data.path` when that folder is missing (for demos and CI).
public struct SynthesizeSection: SettingsSection {
    public var classes = 0
    public var perClass = 0
    /// Side of the generated square images, in pixels.
    public var size = 0

    public init() {}

    public static let settings: [Setting<SynthesizeSection>] = [
        .init("classes", \.classes, .integer(min: 2, max: 1000), default: .required, example: "2",
              "number of classes (one folder each)"),
        .init("per_class", \.perClass, .integer(min: 2, max: 100_000), default: .required, example: "60",
              "images per class"),
        .init("size", \.size, .integer(min: 8, max: 4096), default: .described("data.size"), example: "48",
              "side of the generated square images, in pixels"),
    ]
}

public struct DataSection: SettingsSection {
    /// The data folder as written in the file (or given with --data); see `ResolvedRun.dataDirectory`.
    public var path = ""
    public var split = SplitSection()
    /// Side of the square network input, in pixels.
    public var size = defaultSize
    public var augment = AugmentSection()
    public var normalize = NormalizeSection()
    public var synthesize: SynthesizeSection?
    /// Images with more pixels (after JPEG DCT scaling) are skipped; nil: the decoder's default limit.
    /// Left out of the canonical JSON when unset, so files without it keep their config hashes.
    public var maxPixels: Int?

    /// `size` when the file leaves it out (torchvision's ImageNet models' input).
    public static let defaultSize = 224

    public init() {}

    public static let settings: [Setting<DataSection>] = [
        .init("path", \.path, .text, default: .required, example: "../shared/data/monkeypox",
              "the image folder, one sub-folder per class; a relative path is resolved against the current "
                + "directory (run ablate from the project root); `--data PATH` replaces it"),
        .init("split", \.split, .section(SplitSection.self, shorthand: "protocol"), default: .described("random"),
              example: "grouped", "how the images are divided into training and test sets"),
        .init("size", \.size, .integer(min: 8, max: 4096), default: .value(defaultSize), example: "224",
              "side of the square network input, in pixels"),
        .init("augment", \.augment, .section(AugmentSection.self), default: .described("all off"),
              example: "{hflip: true}", "training-time augmentation"),
        .init("normalize", \.normalize, .section(NormalizeSection.self), default: .described("ImageNet's"),
              example: "{mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}", "per-channel normalisation"),
        .init("synthesize", \.synthesize, .section(SynthesizeSection.self), default: .described("off"),
              example: "{classes: 2, per_class: 60, size: 48}",
              "generate a synthetic image set at `path` when that folder is missing (demos, CI)"),
        .init("max_pixels", \.maxPixels, .integer(min: 1), default: .described("the decoder's limit (50 MP)"),
              example: "100000000", "skip images with more pixels (after JPEG DCT scaling)"),
    ]
}

// MARK: - training

public enum OptimizerKind: String, Codable, Sendable, CaseIterable, SettingValue { case sgd, adam }

public struct OptimizerSection: SettingsSection {
    public var name = OptimizerKind.adam
    public var lr = defaultAdamLR
    /// SGD only.
    public var momentum: Double?
    /// SGD only.
    public var nesterov: Bool?
    /// Adam only: [beta1, beta2].
    public var betas: [Double]?
    /// Adam only.
    public var eps: Double?
    /// L2 penalty added to the gradient (both optimisers).
    public var weightDecay = 0.0
    /// The classifier's learning rate as a multiple of `lr`; nil: the same rate (left out of the canonical JSON, so
    /// configurations without it keep their hashes; the reader writes 1 as nil).
    public var headLRMultiplier: Double?

    /// Adam's `betas` and `eps` when the file leaves them out (PyTorch's defaults).
    public static let defaultAdamBetas = [0.9, 0.999]
    public static let defaultAdamEps = 1e-8
    /// SGD's momentum when the file leaves it out.
    public static let defaultSGDMomentum = 0.9
    /// `lr` when the file leaves it out, by optimiser.
    public static let defaultAdamLR = 0.001, defaultSGDLR = 0.01

    public init() {}

    static let sgd = Condition<OptimizerSection>("sgd") { $0.name == .sgd }
    static let adam = Condition<OptimizerSection>("adam") { $0.name == .adam }

    public static let settings: [Setting<OptimizerSection>] = [
        .init("name", \.name, .choice(of: OptimizerKind.self), default: .value(.adam), example: "adam",
              "sgd (`torch.optim.SGD`) or adam (`torch.optim.Adam`)"),
        .init("lr", \.lr, .number(.positive),
              default: .computed("\(defaultAdamLR) (adam), \(defaultSGDLR) (sgd)") { $0.name == .adam ? defaultAdamLR : defaultSGDLR },
              example: "0.001",
              "learning rate (the schedule's starting rate)"),
        .init("momentum", \.momentum, .number(NumberRange(min: 0, max: 1, openMax: true)),
              default: .value(defaultSGDMomentum), when: sgd, example: "0.9", "momentum"),
        .init("nesterov", \.nesterov, .flag, default: .value(false), when: sgd, example: "true",
              "Nesterov momentum (needs momentum > 0)"),
        .init("betas", \.betas, .numbers(count: 2, .unit), default: .value(defaultAdamBetas), when: adam,
              example: "[0.9, 0.999]", "[beta1, beta2], each below 1"),
        .init("eps", \.eps, .number(.positive), default: .value(defaultAdamEps), when: adam, example: "1.0e-8",
              "term added to Adam's denominator"),
        .init("weight_decay", \.weightDecay, .number(.nonNegative), default: .value(0.0), example: "0.0001",
              "L2 penalty added to the gradient (both optimisers, as PyTorch's `weight_decay`)"),
        .init("head_lr_multiplier", \.headLRMultiplier, .number(.positive), default: .described("1"), example: "10",
              "the classifier (DenseNet `classifier`, ResNet `fc`) trains at lr × this at every epoch of the schedule "
                + "(a PyTorch parameter group): a fresh head learning faster than a pretrained body"),
    ]
}

public enum ScheduleKind: String, Codable, Sendable, CaseIterable, SettingValue { case constant, step, cosine }

public struct ScheduleSection: SettingsSection {
    public var name = ScheduleKind.constant
    /// `step`: multiply the rate by `gamma` every `stepSize` epochs.
    public var stepSize: Int?
    public var gamma: Double?
    /// `cosine`: anneal from `lr` to `minLR` over all epochs (training runs Engine's `LRSchedule`).
    public var minLR: Double?

    /// `gamma` when the file leaves it out.
    public static let defaultGamma = 0.1

    public init() {}

    static let step = Condition<ScheduleSection>("step") { $0.name == .step }

    public static let settings: [Setting<ScheduleSection>] = [
        .init("name", \.name, .choice(of: ScheduleKind.self), default: .value(.constant), example: "constant",
              "constant; step: multiply the rate by gamma every step_size epochs; cosine: anneal from lr to min_lr, "
                + "reaching min_lr in the last epoch"),
        .init("step_size", \.stepSize, .integer(min: 1), default: .described("required for step"), when: step,
              example: "10", "epochs between two multiplications by gamma"),
        .init("gamma", \.gamma, .number(NumberRange(min: 0, max: 1, openMin: true)), default: .value(defaultGamma),
              when: step, example: "0.1", "factor the rate is multiplied by"),
        .init("min_lr", \.minLR, .number(.nonNegative), default: .value(0.0),
              when: Condition("cosine") { $0.name == .cosine }, example: "0", "the rate of the last epoch (below lr)"),
    ]
}

/// Which epoch's weights a run reports and keeps (`training.select`): the last, or the one a validation metric
/// prefers (the first of equals). Its test accuracy is the run's headline; the best epoch on test stays a separate,
/// optimistic number.
public enum EpochSelection: String, Codable, Sendable, CaseIterable, SettingValue {
    case last
    case bestValAcc = "best_val_acc"
    case bestValLoss = "best_val_loss"

    /// The validation metric it follows; nil for `last`.
    public var metric: ValidationMetric? {
        switch self {
        case .last: return nil
        case .bestValAcc: return .accuracy
        case .bestValLoss: return .loss
        }
    }

    /// The epoch this selection picks among `epochs` (in order, each with its validation values): the first of
    /// the best, as the trainer picks it. Nil for `last`, whose selected epoch is simply the last one, and when no
    /// epoch has a validation value.
    public func selectedEpoch(in epochs: [EpochMetrics]) -> Int? {
        guard let metric else { return nil }
        var best: (epoch: Int, value: Double)?
        for e in epochs {
            guard let value = metric == .loss ? e.validationLoss : e.validationAccuracy else { continue }
            if metric.improves(value, on: best?.value) { best = (e.epoch, value) }
        }
        return best?.epoch
    }
}

/// A validation metric epochs are compared by; `loss` is better lower, `accuracy` higher.
public enum ValidationMetric: String, Codable, Sendable, CaseIterable, SettingValue {
    case loss = "val_loss"
    case accuracy = "val_acc"

    /// True when `value` improves on `best` by more than `minDelta`.
    public func improves(_ value: Double, on best: Double?, minDelta: Double = 0) -> Bool {
        guard let best else { return true }
        switch self {
        case .loss: return value < best - minDelta
        case .accuracy: return value > best + minDelta
        }
    }
}

/// `training.early_stop`: stop once the validation metric has not improved for `patience` epochs.
public struct EarlyStopSection: SettingsSection {
    public var metric = ValidationMetric.loss
    public var patience = 0
    public var minDelta = 0.0

    public init() {}

    public static let settings: [Setting<EarlyStopSection>] = [
        .init("metric", \.metric, .choice(of: ValidationMetric.self), default: .value(.loss), example: "val_loss",
              "the validation metric watched: val_loss (lower is better) or val_acc"),
        .init("patience", \.patience, .integer(min: 1, max: 10_000), default: .required, example: "5",
              "epochs without an improvement after which training stops"),
        .init("min_delta", \.minDelta, .number(.nonNegative), default: .value(0.0), example: "0.001",
              "the least change that counts as an improvement"),
    ]
}

public struct TrainingSection: SettingsSection {
    public var epochs = 0
    public var batchSize = defaultBatchSize
    public var optimizer = OptimizerSection()
    public var schedule = ScheduleSection()
    /// Worker threads; nil = all cores.
    public var threads: Int?
    /// The most worker threads a run (or a command's --threads, or a Slurm task's CPUs) may ask for.
    public static let maxThreads = 1024
    /// `batch_size` when the file leaves it out.
    public static let defaultBatchSize = 32
    /// `eval_every`: 1, the only value accepted (ablate evaluates the test split after every epoch). Nothing reads
    /// it; it stays declared because every stored configuration has it, so its canonical JSON and config hash keep it
    /// (and experiment files may write it). A validation split that evaluates less often would make it live.
    public var evalEvery = 1
    /// nil: `last` (left out of the canonical JSON, so configurations without a validation split keep their hashes).
    public var select: EpochSelection?
    public var earlyStop: EarlyStopSection?
    /// State_dict prefixes left out of training (`FreezeList`); nil: nothing frozen (left out of the canonical JSON,
    /// so configurations without it keep their hashes; the reader writes an empty list as nil).
    public var freeze: [String]?

    public init() {}

    public static let settings: [Setting<TrainingSection>] = [
        .init("epochs", \.epochs, .integer(min: 1), default: .required, example: "10", "epochs to train"),
        .init("batch_size", \.batchSize, .integer(min: 1), default: .value(defaultBatchSize), example: "32",
              "images per training batch (an epoch drops its last partial batch)"),
        .init("optimizer", \.optimizer, .section(OptimizerSection.self, shorthand: "name"),
              default: .described("adam"), example: "adam", "the optimiser"),
        .init("schedule", \.schedule, .section(ScheduleSection.self, shorthand: "name"),
              default: .described("constant"), example: "cosine", "the learning-rate schedule over the epochs"),
        .init("threads", \.threads, .integer(min: 1, max: maxThreads), default: .described("all cores"), example: "2",
              "worker threads (`--threads` replaces it)"),
        .init("eval_every", \.evalEvery,
              .integer(min: 1, max: 1, why: " (ablate evaluates the test split after every epoch)"),
              default: .value(1), example: "1", "evaluate on the test split every N epochs: 1, the only value supported"),
        .init("select", \.select, .choice(of: EpochSelection.self), default: .described("last"), example: "best_val_acc",
              "the epoch whose weights the run keeps and reports (its test accuracy is the headline): last, or the "
                + "best on validation (needs data.split.validation_fraction)"),
        .init("early_stop", \.earlyStop, .section(EarlyStopSection.self), default: .described("off"),
              example: "{metric: val_loss, patience: 5}",
              "stop when the validation metric has not improved for `patience` epochs (needs a validation split)"),
        .init("freeze", \.freeze, .texts, default: .described("nothing frozen"),
              example: "[features.conv0, features.norm0, features.denseblock1]",
              "prefixes of state_dict names left out of training (`features.denseblock1` covers "
                + "`features.denseblock1.…`, not `features.denseblock10.…`): frozen parameters are never updated "
                + "(no weight decay, no optimiser state) and get no gradient; a frozen BatchNorm normalises with its "
                + "running statistics and keeps them (PyTorch's `requires_grad = False` and `.eval()`); the backward "
                + "pass stops where everything before is frozen"),
    ]

    /// The epoch selection in effect.
    public var selection: EpochSelection { select ?? .last }
}

// MARK: - model

public struct ModelSection: SettingsSection {
    /// Canonical name derived from the architecture: a preset's (`densenet121`, `resnet50`, …), or `custom`
    /// (DenseNet) / `resnet-custom`, then `-seN` with SE and, for a DenseNet, `-layer` or `-transition` when SE is
    /// not on the block outputs.
    public var name = ""
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
    /// A PyTorch weight file (`torch.save`'s zip or legacy format, or safetensors) loaded before training, as
    /// written in the file (relative paths: against the current directory, like `data.path`); nil: fresh weights.
    public var initFrom: String?
    /// Lower-case hex SHA-256 of that file, taken when the experiment is read: the weights a run starts from are part
    /// of its configuration and hash, whatever the file is called.
    public var initFromSHA256: String?

    public init() {}

    /// Settings of one family only (the reader refuses the other family's).
    public static let denseNetOnly = Condition<ModelSection>("DenseNet") { !$0.isResNet }
    public static let resNetOnly = Condition<ModelSection>("ResNet") { $0.isResNet }

    // The model section is read by its own reader (names, presets, families); these declarations give its keys,
    // the values each takes, its canonical JSON and its reference.
    public static let settings: [Setting<ModelSection>] = [
        .init("name", \.name, .modelName, default: .required, example: "densenet121",
              "densenet121|161|169|201 or custom, optionally -seN (SE with reduction N) and then -layer or "
                + "-transition (SE placement); resnet18|34|50 or resnet-custom, optionally -seN"),
        .init("growth_rate", \.growthRate, .integer(min: 1, max: 4096), default: .described("the preset's; custom: required"),
              when: denseNetOnly, example: "32", "channels each dense layer adds (k)"),
        .init("block_config", \.blockConfig, .integers(min: 1), default: .described("the preset's; custom: required"),
              when: denseNetOnly, example: "[6, 12, 24, 16]", "dense layers per block"),
        .init("init_channels", \.initChannels, .integer(min: 1, max: 4096),
              default: .described("the preset's, else 2 × growth_rate"), when: denseNetOnly, example: "64",
              "channels of the stem convolution"),
        .init("bn_size", \.bnSize, .integer(min: 1, max: 64), default: .described(decimal(Double(DenseNetConfig.standardBNSize))), when: denseNetOnly,
              example: "4", "bottleneck width factor: the 1×1 convolution outputs bn_size · k channels"),
        .init("compression", \.compression, .number(NumberRange(min: 0, max: 1, openMin: true)),
              default: .described(decimal(DenseNetConfig.standardCompression)), when: denseNetOnly, example: "0.5",
              "transition compression θ: a transition keeps ⌊θ·C⌋ channels"),
        .init("drop_rate", \.dropRate, .number(NumberRange(min: 0, max: 1, openMax: true)), default: .described(decimal(DenseNetConfig.standardDropRate)),
              when: denseNetOnly, example: "0", "dropout after each dense layer's 3×3 convolution (training only)"),
        .init("se_placement", \.sePlacement, .choice(of: SEPlacement.self), default: .described(SEPlacement.standard.rawValue),
              when: denseNetOnly, example: "layer",
              "DenseNet with SE: block (each block's output), layer (each dense layer's new maps) or transition "
                + "(after each transition); the same as the name's suffix"),
        .init("block", \.block, .choice(of: ResidualBlockKind.self),
              default: .described("the preset's; resnet-custom: required"), when: resNetOnly, example: "basic",
              "residual block: basic (ResNet-18/34) or bottleneck (ResNet-50)"),
        .init("layers", \.layers, .integers(min: 1), default: .described("the preset's; resnet-custom: required"),
              when: resNetOnly, example: "[2, 2, 2, 2]", "blocks per stage"),
        .init("width", \.width, .integer(min: 1, max: 4096), default: .described(decimal(Double(ResNetConfig.standardWidth))), when: resNetOnly,
              example: "64", "channels of the stem and planes of the first stage"),
        .init("se_reduction", \.seReduction, .integer(min: 1), default: .described("no SE"), example: "16",
              "Squeeze-and-Excitation reduction; the same as the name's -seN"),
        .init("classes", \.classes, .integer(min: 2, max: 100_000),
              default: .described("the number of class folders in the data"), example: "2", "output classes"),
        .init("init_from", \.initFrom, .text, default: .described("fresh initialisation"),
              example: "weights/densenet121-a639ec97.pth",
              "start from these PyTorch weights (torch.save zip or legacy .pth, safetensors; float32/16, bfloat16; a "
                + "bare state_dict or one under state_dict/model; DataParallel's module. prefix; torchvision's legacy "
                + "DenseNet names); a classifier of another class count and SE layers the file lacks start fresh "
                + "(the load report says which); the file's SHA-256 enters the config hash"),
        .init("init_from_sha256", \.initFromSHA256, .text, default: .described("the file's"),
              example: "a639ec97…", inFile: false, "SHA-256 of the init_from file (taken when the experiment is read; not written in the file)"),
    ]

    /// A number as the reference writes it (`4`, `0.5`, `0`).
    static func decimal(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }

    /// A DenseNet from its engine configuration (`classes` left to the data unless given).
    public init(_ c: DenseNetConfig, classes: Int?) {
        growthRate = c.growthRate; blockConfig = c.blockConfig; initChannels = c.initChannels; bnSize = c.bnSize
        compression = c.compression; dropRate = c.dropRate; seReduction = c.seReduction
        sePlacement = c.seReduction == nil || c.sePlacement == .standard ? nil : c.sePlacement
        self.classes = classes
        var engine = c
        engine.classes = 2
        name = Self.canonicalName(.denseNet(engine))
    }

    /// A ResNet from its engine configuration.
    public init(_ c: ResNetConfig, classes: Int?) {
        block = c.block; layers = c.layers; width = c.width; seReduction = c.seReduction
        self.classes = classes
        name = Self.canonicalName(.resNet(c))
    }

    public var isResNet: Bool { block != nil }

    /// The engine's model with `classes` outputs: the section's architecture as written (the reader fills in every
    /// setting of the family; nothing is defaulted here). Throws for a stored configuration that lacks one.
    public func spec(classes: Int) throws -> ModelSpec {
        func missing(_ key: String) -> SettingError { .missing(key: "model.\(key)") }
        if isResNet {
            guard let block else { throw missing("block") }
            guard let layers else { throw missing("layers") }
            guard let width else { throw missing("width") }
            return .resNet(ResNetConfig(block: block, layers: layers, width: width, classes: classes, seReduction: seReduction))
        }
        guard let growthRate else { throw missing("growth_rate") }
        guard let blockConfig else { throw missing("block_config") }
        guard let initChannels else { throw missing("init_channels") }
        guard let bnSize else { throw missing("bn_size") }
        guard let compression else { throw missing("compression") }
        guard let dropRate else { throw missing("drop_rate") }
        return .denseNet(DenseNetConfig(growthRate: growthRate, blockConfig: blockConfig, initChannels: initChannels,
                                        bnSize: bnSize, compression: compression, dropRate: dropRate, classes: classes,
                                        seReduction: seReduction, sePlacement: sePlacement ?? .standard))
    }

    /// DenseNet: channels at the output of each dense block, before its transition (empty for a ResNet).
    public var blockOutputChannels: [Int] {
        guard case .denseNet(let c)? = try? spec(classes: 2) else { return [] }
        return c.blockChannels.map(\.output)
    }

    /// Canonical name of an architecture: the preset's name when it matches one of the presets (classes,
    /// dropout and SE aside), otherwise `custom` / `resnet-custom`; then `-seN` and a non-default placement.
    static func canonicalName(_ spec: ModelSpec) -> String {
        switch spec {
        case .denseNet(let c):
            var name = (c.presetName ?? ModelName.customDenseNet) + (c.seReduction.map { "-se\($0)" } ?? "")
            if c.seReduction != nil, c.sePlacement != .standard { name += "-\(c.sePlacement.rawValue)" }
            return name
        case .resNet(let c):
            return (c.presetName ?? ModelName.customResNet) + (c.seReduction.map { "-se\($0)" } ?? "")
        }
    }
}
