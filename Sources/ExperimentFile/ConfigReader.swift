import AblateCore
import Foundation

/// Reads one run's document (the experiment file with one matrix combination applied) into a `RunConfig`,
/// reporting every problem to `diag`. Returns nil when there was any problem.
enum ConfigReader {
    static let topKeys = ["name", "description", "seed", "data", "training", "model", "target", "matrix"]
    static let dataKeys = ["path", "split", "size", "augment", "normalize", "synthesize", "max_pixels"]
    static let splitKeys = ["protocol", "test_fraction", "group", "seed", "train_dir", "test_dir"]
    static let augmentKeys = ["hflip", "random_resized_crop", "brightness", "contrast"]
    static let cropKeys = ["scale", "ratio"]
    static let normalizeKeys = ["mean", "std"]
    static let synthesizeKeys = ["classes", "per_class", "size"]
    static let trainingKeys = ["epochs", "batch_size", "optimizer", "schedule", "threads", "eval_every"]
    static let optimizerKeys = ["name", "lr", "momentum", "nesterov", "betas", "eps", "weight_decay"]
    static let scheduleKeys = ["name", "step_size", "gamma", "min_lr"]
    static let denseNetKeys = ["growth_rate", "block_config", "init_channels", "bn_size", "compression", "drop_rate",
                               "se_placement"]
    static let resNetKeys = ["block", "layers", "width"]
    static let modelKeys = ["name"] + denseNetKeys + resNetKeys + ["se_reduction", "classes"]

    /// Sections that may be written as a single value, meaning that value for the given key:
    /// `model: densenet121-se16` = `model: {name: densenet121-se16}`, `training.optimizer: adam`,
    /// `training.schedule: cosine`, `data.split: grouped` (= `{protocol: grouped}`).
    static let shorthands: [String: String] = [
        "model": "name", "training.optimizer": "name", "training.schedule": "name", "data.split": "protocol",
    ]

    /// Names a user may type for `model.name` (suggestions): Models' presets, a few SE variants and the custom
    /// architectures; any `-seN` suffix (and for a DenseNet `-seN-layer` / `-seN-transition`) is accepted.
    static let modelNames = DenseNetConfig.presets.map(\.name)
        + ["densenet121-se16", "densenet121-se16-layer", "densenet121-se16-transition", "custom"]
        + ResNetConfig.presets.map(\.name) + ["resnet18-se16", "resnet50-se16", "resnet-custom"]

    static let modelNameHelp = "Known models: \(modelNames.joined(separator: ", ")); append -seN for "
        + "Squeeze-and-Excitation with reduction N (e.g. densenet121-se16, resnet50-se16), and for a DenseNet "
        + "-layer or -transition to put it on each dense layer's new maps or after each transition instead of each "
        + "block's output (e.g. densenet121-se16-layer); `custom` (DenseNet) needs growth_rate and block_config, "
        + "`resnet-custom` needs block and layers"

    static func read(_ doc: YNode, diag: Diagnostics) -> RunConfig? {
        let before = diag.issues.count
        let top = Section(doc, path: "", allowed: topKeys, diag: diag)
        let seed = top.int("seed", example: "1", min: 0) ?? 1
        let data = readData(top, diag: diag)
        let training = readTraining(top, diag: diag)
        let model = readModel(top, diag: diag)
        if let data, let model { checkModelFitsImage(model, data: data, top: top, diag: diag) }
        guard diag.issues.count == before, let data, let training, let model else { return nil }
        return RunConfig(configVersion: RunConfig.currentVersion, seed: seed, data: data, training: training,
                         model: model)
    }

    // MARK: data

    static func readData(_ top: Section, diag: Diagnostics) -> DataConfig? {
        guard top.entry("data") != nil else {
            top.missing("data", example: "{path: ../shared/data/monkeypox}")
            return nil
        }
        let s = top.section("data", allowed: dataKeys)
        let path = s.string("path", example: "../shared/data/monkeypox")
        if path == nil && !s.has("path") { s.missing("path", example: "../shared/data/monkeypox") }
        if path == "" { s.report("path", "the path is empty", fix: "Write the data folder, e.g. `path: ../shared/data/monkeypox`") }
        let size = s.int("size", example: "224", min: 8, max: 4096) ?? 224

        // split
        let sp = s.section("split", allowed: splitKeys)
        let proto = sp.choice("protocol", SplitProtocol.allCases.map(\.rawValue)).flatMap(SplitProtocol.init) ?? .random
        var split = SplitSettings(protocol: proto, testFraction: nil, group: nil, seed: nil, trainDir: nil, testDir: nil)
        let fraction = sp.double("test_fraction", example: "0.2", min: 0, max: 1, openMin: true, openMax: true)
            ?? SplitSettings.defaultTestFraction
        let splitSeed = sp.int("seed", example: "0", min: 0) ?? 0
        let group = readGroup(sp, diag: diag)
        // Folder splits read `train/` and `test/`: other names are refused here, where the file can be pointed at,
        // not when a run starts. (The keys stay so a file may spell the defaults out.)
        let trainDir = sp.string("train_dir", example: SplitSettings.trainFolder) ?? SplitSettings.trainFolder
        let testDir = sp.string("test_dir", example: SplitSettings.testFolder) ?? SplitSettings.testFolder
        for (key, value, wanted) in [("train_dir", trainDir, SplitSettings.trainFolder), ("test_dir", testDir, SplitSettings.testFolder)]
            where value != wanted {
            sp.report(key, "folder splits read the sub-folder `\(wanted)/`; other names are not supported (got '\(value)')",
                      fix: "Rename the data folder's sub-folder to `\(wanted)` and drop `\(key)`")
        }
        switch proto {
        case .folders:
            split.trainDir = trainDir
            split.testDir = testDir
        case .grouped:
            split.testFraction = fraction
            split.seed = splitSeed
            split.group = group
            if group == nil && !sp.has("group") {
                diag.report(sp.keyPath("group"), sp.location, "required when protocol is grouped",
                            fix: "Add `group: photo` (same original photograph), `group: patient`, "
                                + "or `group: {regex: '^([A-Z]+\\d+)_'}` under data.split")
            }
        case .random, .stratified:
            split.testFraction = fraction
            split.seed = splitSeed
        }

        // augment
        let a = s.section("augment", allowed: augmentKeys)
        var crop: RandomResizedCrop?
        if let n = a.node("random_resized_crop") {
            if case let .scalar(text, true, _) = n, let on = Section.boolean(text) {
                crop = on ? .standard : nil
            } else {
                let c = a.section("random_resized_crop", allowed: cropKeys)
                let scale = c.doubles("scale", count: 2, example: "[0.08, 1.0]", min: 0, max: 1, openMin: true) ?? [0.08, 1.0]
                let ratio = c.doubles("ratio", count: 2, example: "[0.75, 1.3333]", min: 0, openMin: true) ?? [3.0 / 4.0, 4.0 / 3.0]
                if scale[0] > scale[1] { c.report("scale", "the minimum \(scale[0]) is larger than the maximum \(scale[1])", fix: "Write [min, max], e.g. [0.08, 1.0]") }
                if ratio[0] > ratio[1] { c.report("ratio", "the minimum \(ratio[0]) is larger than the maximum \(ratio[1])", fix: "Write [min, max], e.g. [0.75, 1.3333]") }
                crop = RandomResizedCrop(scale: scale, ratio: ratio)
            }
        }
        let augment = AugmentConfig(hflip: a.bool("hflip") ?? false, randomResizedCrop: crop,
                                    brightness: a.double("brightness", example: "0.2", min: 0, max: 1) ?? 0,
                                    contrast: a.double("contrast", example: "0.2", min: 0, max: 1) ?? 0)

        // normalize
        let nz = s.section("normalize", allowed: normalizeKeys)
        let normalize = NormalizeConfig(
            mean: nz.doubles("mean", count: 3, example: "[0.485, 0.456, 0.406]", min: 0, max: 1) ?? NormalizeConfig.imageNet.mean,
            std: nz.doubles("std", count: 3, example: "[0.229, 0.224, 0.225]", min: 0, openMin: true) ?? NormalizeConfig.imageNet.std)

        // synthesize
        var synthesize: SynthesizeConfig?
        if s.has("synthesize") {
            let sy = s.section("synthesize", allowed: synthesizeKeys)
            let classes = sy.int("classes", example: "2", min: 2, max: 1000)
            let perClass = sy.int("per_class", example: "60", min: 2, max: 100_000)
            let imageSize = sy.int("size", example: "48", min: 8, max: 4096)
            if !sy.has("classes") { sy.missing("classes", example: "2") }
            if !sy.has("per_class") { sy.missing("per_class", example: "60") }
            if let classes, let perClass {
                synthesize = SynthesizeConfig(classes: classes, perClass: perClass, size: imageSize ?? size)
            }
        }
        let maxPixels = s.int("max_pixels", example: "100000000", min: 1)
        guard let path, !path.isEmpty else { return nil }
        return DataConfig(path: path, split: split, size: size, augment: augment, normalize: normalize,
                          synthesize: synthesize, maxPixels: maxPixels)
    }

    static func readGroup(_ sp: Section, diag: Diagnostics) -> GroupKey? {
        guard let n = sp.node("group") else { return nil }
        if case let .scalar(text, _, _) = n {
            switch text.lowercased() {
            case "photo": return .photo
            case "patient": return .patient
            default:
                let suggestion = nearest(text, in: ["photo", "patient"]).map { "Did you mean '\($0)'? " } ?? ""
                sp.report("group", "'\(text)' is not a group preset",
                          fix: "\(suggestion)Use `group: photo`, `group: patient`, or a regular expression as "
                              + "`group: {regex: '...'}` (its first capture group is the group key)")
                return nil
            }
        }
        let g = sp.section("group", allowed: ["regex"])
        guard let pattern = g.string("regex", example: "'^(M|NM)\\d+'") else {
            if !g.has("regex") { g.missing("regex", example: "'^(M|NM)\\d+'") }
            return nil
        }
        do {
            _ = try NSRegularExpression(pattern: pattern)
        } catch {
            g.report("regex", "'\(pattern)' is not a valid regular expression",
                     fix: "Fix the pattern (ICU syntax; quote it in single quotes so YAML leaves backslashes alone)")
            return nil
        }
        return .regex(pattern)
    }

    // MARK: training

    static func readTraining(_ top: Section, diag: Diagnostics) -> TrainingConfig? {
        guard top.entry("training") != nil else {
            top.missing("training", example: "{epochs: 10}")
            return nil
        }
        let t = top.section("training", allowed: trainingKeys)
        let epochs = t.int("epochs", example: "10", min: 1)
        if !t.has("epochs") && t.entry("epochs") == nil { t.missing("epochs", example: "10") }
        let batch = t.int("batch_size", example: "32", min: 1) ?? 32
        let threads = t.int("threads", example: "2", min: 1, max: 1024)
        // The trainer evaluates after every epoch: checkpoints, best weights, the store's epochs and the report's
        // curves all assume a test point per epoch. The key stays so files can say so explicitly.
        let evalEvery = t.int("eval_every", example: "1", min: 1, max: 1,
                              why: " (ablate evaluates the test split after every epoch)") ?? 1

        let o = t.section("optimizer", allowed: optimizerKeys)
        let kind = o.choice("name", OptimizerKind.allCases.map(\.rawValue)).flatMap(OptimizerKind.init) ?? .adam
        let lr = o.double("lr", example: kind == .adam ? "0.001" : "0.01", min: 0, openMin: true)
            ?? (kind == .adam ? 1e-3 : 1e-2)
        var optimizer = OptimizerSettings(name: kind, lr: lr, momentum: nil, nesterov: nil, betas: nil, eps: nil,
                                        weightDecay: o.double("weight_decay", example: "0.0001", min: 0) ?? 0)
        let momentum = o.double("momentum", example: "0.9", min: 0, max: 1, openMax: true)
        let nesterov = o.bool("nesterov")
        let betas = o.doubles("betas", count: 2, example: "[0.9, 0.999]", min: 0, max: 1)
        let eps = o.double("eps", example: "1.0e-8", min: 0, openMin: true)
        switch kind {
        case .sgd:
            optimizer.momentum = momentum ?? OptimizerSettings.defaultSGDMomentum
            optimizer.nesterov = nesterov ?? false
            if optimizer.nesterov == true && optimizer.momentum == 0 {
                o.report("nesterov", "Nesterov momentum needs momentum > 0",
                         fix: "Set training.optimizer.momentum (e.g. 0.9) or `nesterov: false`")
            }
        case .adam:
            optimizer.betas = betas ?? OptimizerSettings.defaultAdamBetas
            optimizer.eps = eps ?? OptimizerSettings.defaultAdamEps
            if let b = optimizer.betas, b.contains(1.0) {
                o.report("betas", "each beta must be below 1", fix: "Write e.g. `betas: [0.9, 0.999]`")
            }
        }

        let sc = t.section("schedule", allowed: scheduleKeys)
        let sk = sc.choice("name", ScheduleKind.allCases.map(\.rawValue)).flatMap(ScheduleKind.init) ?? .constant
        var schedule = ScheduleSettings(name: sk, stepSize: nil, gamma: nil, minLR: nil)
        let stepSize = sc.int("step_size", example: "10", min: 1)
        let gamma = sc.double("gamma", example: "0.1", min: 0, max: 1, openMin: true)
        let minLR = sc.double("min_lr", example: "0", min: 0)
        switch sk {
        case .constant: break
        case .step:
            schedule.stepSize = stepSize
            schedule.gamma = gamma ?? ScheduleSettings.defaultGamma
            if stepSize == nil && !sc.has("step_size") {
                sc.missing("step_size", example: "10")
            }
        case .cosine:
            schedule.minLR = minLR ?? 0
            if let m = schedule.minLR, m >= lr {
                sc.report("min_lr", "must be below the learning rate \(lr), got \(m)",
                          fix: "Lower training.schedule.min_lr (0 is usual)")
            }
        }
        guard let epochs else { return nil }
        return TrainingConfig(epochs: epochs, batchSize: batch, optimizer: optimizer, schedule: schedule,
                              threads: threads, evalEvery: evalEvery)
    }

    // MARK: model

    static func readModel(_ top: Section, diag: Diagnostics) -> ModelConfig? {
        guard top.entry("model") != nil else {
            top.missing("model", example: "densenet121")
            return nil
        }
        let m = top.section("model", allowed: modelKeys)
        guard let typed = m.string("name", example: "densenet121") else {
            if !m.has("name") { m.missing("name", example: "densenet121") }
            return nil
        }
        let name = typed.lowercased()
        let denseNames = DenseNetConfig.presets.map(\.name).joined(separator: "|")
        let resNames = ResNetConfig.presets.map(\.name).joined(separator: "|")
        let denseGrammar = try! Regex<(Substring, Substring, Substring?, Substring?)>(
            "^(\(denseNames)|custom)(?:-se(\\d+)(?:-(block|layer|transition))?)?$")
        let resGrammar = try! Regex<(Substring, Substring, Substring?)>("^(\(resNames)|resnet-custom)(?:-se(\\d+))?$")
        if let match = name.firstMatch(of: resGrammar) {
            return readResNet(m, typed: typed, base: String(match.1), nameSE: match.2.flatMap { Int($0) })
        }
        guard let match = name.firstMatch(of: denseGrammar) else {
            let suggestion = nearest(name, in: modelNames).map { "Did you mean '\($0)'? " } ?? ""
            m.report("name", "unknown model '\(typed)'", fix: suggestion + modelNameHelp)
            return nil
        }
        return readDenseNet(m, typed: typed, base: String(match.1), nameSE: match.2.flatMap { Int($0) },
                            namePlacement: match.3.flatMap { SEPlacement(rawValue: String($0)) })
    }

    /// The SE reduction from the name's `-seN` and `se_reduction` (which must agree), or nil.
    static func readSEReduction(_ m: Section, typed: String, base: String, nameSE: Int?) -> (Int?, ok: Bool) {
        var se = nameSE
        if let nameSE, nameSE < 1 {
            m.report("name", "SE reduction must be at least 1, got \(nameSE)", fix: "Use e.g. \(base)-se16")
            return (nil, false)
        }
        if let r = m.int("se_reduction", example: "16", min: 1) {
            if let nameSE, nameSE != r {
                m.report("se_reduction", "\(r) contradicts the model name '\(typed)' (reduction \(nameSE))",
                         fix: "Remove model.se_reduction or use the name without -se\(nameSE)")
            }
            se = r
        }
        return (se, true)
    }

    /// Settings of the other family are errors, not silently ignored.
    static func rejectForeignKeys(_ m: Section, _ keys: [String], family: String, typed: String) {
        for key in keys where m.has(key) {
            m.report(key, "applies only to \(family == "ResNet" ? "DenseNets" : "ResNets"), not to '\(typed)' (a \(family))",
                     fix: "Remove model.\(key)")
        }
    }

    static func readDenseNet(_ m: Section, typed: String, base: String, nameSE: Int?, namePlacement: SEPlacement?) -> ModelConfig? {
        rejectForeignKeys(m, resNetKeys, family: "DenseNet", typed: typed)
        let preset = DenseNetConfig.presets.first { $0.name == base }?.config
        if base == "custom" {
            if !m.has("growth_rate") { m.missing("growth_rate", example: "12") }
            if !m.has("block_config") { m.missing("block_config", example: "[2, 2]") }
        }
        let growth = m.int("growth_rate", example: "32", min: 1, max: 4096) ?? preset?.growthRate
        let blocks = m.ints("block_config", example: "[6, 12, 24, 16]", min: 1) ?? preset?.blockConfig
        let initChannels = m.int("init_channels", example: "64", min: 1, max: 4096) ?? preset?.initChannels ?? 2 * (growth ?? 32)
        let bnSize = m.int("bn_size", example: "4", min: 1, max: 64) ?? 4
        let compression = m.double("compression", example: "0.5", min: 0, max: 1, openMin: true) ?? 0.5
        let dropRate = m.double("drop_rate", example: "0", min: 0, max: 1, openMax: true) ?? 0
        let classes = m.int("classes", example: "2", min: 2, max: 100_000)
        let (se, ok) = readSEReduction(m, typed: typed, base: base, nameSE: nameSE)
        guard ok else { return nil }
        var placement = namePlacement
        if let p = m.choice("se_placement", SEPlacement.allCases.map(\.rawValue)).flatMap(SEPlacement.init) {
            if let namePlacement, namePlacement != p {
                m.report("se_placement", "\(p.rawValue) contradicts the model name '\(typed)' (placement \(namePlacement.rawValue))",
                         fix: "Remove model.se_placement or the -\(namePlacement.rawValue) suffix of the name")
            }
            if se == nil {
                m.report("se_placement", "places SE, but this model has none",
                         fix: "Add `se_reduction: 16` (or use a name with -seN, e.g. \(base)-se16-\(p.rawValue))")
            }
            placement = p
        }
        guard let growth, let blocks else { return nil }
        let engine = DenseNetConfig(growthRate: growth, blockConfig: blocks, initChannels: initChannels, bnSize: bnSize,
                                    compression: compression, dropRate: dropRate, classes: 2, seReduction: se,
                                    sePlacement: placement ?? .block)
        // Squeeze-and-Excitation squeezes C channels to C / r (integer division): r > C leaves zero channels.
        if let r = se, let site = engine.seSites.first(where: { $0.channels / r < 1 }) {
            let narrowest = engine.seSites.map(\.channels).min()!
            let key = m.has("se_reduction") ? "se_reduction" : "name"
            let suffix = engine.sePlacement == .block ? "" : "-\(engine.sePlacement.rawValue)"
            m.report(key, "SE reduction \(r) leaves zero channels at \(site.name), whose output "
                     + "has \(site.channels) channels (\(site.channels) / \(r) = 0)",
                     fix: "Use a reduction of at most \(narrowest) (the narrowest place SE sees), e.g. "
                         + "\(base)-se\(min(16, narrowest))\(suffix)")
        }
        return ModelConfig(engine, classes: classes)
    }

    static func readResNet(_ m: Section, typed: String, base: String, nameSE: Int?) -> ModelConfig? {
        rejectForeignKeys(m, denseNetKeys, family: "ResNet", typed: typed)
        let preset = ResNetConfig.presets.first { $0.name == base }?.config
        if base == "resnet-custom" {
            if !m.has("block") { m.missing("block", example: "basic") }
            if !m.has("layers") { m.missing("layers", example: "[2, 2, 2, 2]") }
        }
        let block = m.choice("block", ResidualBlockKind.allCases.map(\.rawValue)).flatMap(ResidualBlockKind.init) ?? preset?.block
        let layers = m.ints("layers", example: "[2, 2, 2, 2]", min: 1) ?? preset?.layers
        let width = m.int("width", example: "64", min: 1, max: 4096) ?? preset?.width ?? 64
        let classes = m.int("classes", example: "2", min: 2, max: 100_000)
        let (se, ok) = readSEReduction(m, typed: typed, base: base, nameSE: nameSE)
        guard ok, let block, let layers else { return nil }
        let engine = ResNetConfig(block: block, layers: layers, width: width, classes: 2, seReduction: se)
        if let r = se, engine.outChannels(stage: 0) / r < 1 {
            let c = engine.outChannels(stage: 0)
            m.report(m.has("se_reduction") ? "se_reduction" : "name",
                     "SE reduction \(r) leaves zero channels in the first stage's blocks, whose output has \(c) channels (\(c) / \(r) = 0)",
                     fix: "Use a reduction of at most \(c), e.g. \(base)-se\(min(16, c))")
        }
        return ModelConfig(engine, classes: classes)
    }

    /// The stem divides the side by 4 and each transition by 2: the input must stay at least 1×1 until the last
    /// block.
    /// (A ResNet's stride-2 stages round up, so any accepted size keeps at least 1×1.)
    static func checkModelFitsImage(_ model: ModelConfig, data: DataConfig, top: Section, diag: Diagnostics) {
        guard let blockConfig = model.blockConfig else { return }
        func finalSide(_ size: Int) -> Int {
            var s = (size - 1) / 2 + 1  // 7×7 conv, stride 2, padding 3
            s = (s - 1) / 2 + 1         // 3×3 max pool, stride 2, padding 1
            for _ in 1..<max(blockConfig.count, 1) { s /= 2 }  // 2×2 average pools
            return s
        }
        guard finalSide(data.size) < 1 else { return }
        var need = data.size
        while finalSide(need) < 1 { need += 1 }
        let d = top.section("data", allowed: dataKeys)
        d.report("size", "image size \(data.size) is too small for a model with \(blockConfig.count) dense "
                 + "blocks: the feature map shrinks to nothing before the last block",
                 fix: "Use data.size ≥ \(need), or fewer blocks in model.block_config")
    }
}
