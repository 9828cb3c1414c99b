import AblateCore
import Foundation

/// Reads one run's document (the experiment file with one matrix combination applied) into a `RunConfig`,
/// reporting every problem to `diag`. Returns nil when there was any problem.
///
/// Each setting is read as its declaration says (AblateCore's `settings` tables: kind, range, default, when it
/// applies); this file adds only what involves more than one setting: the `SectionRules` below and the model
/// section, whose name grammar and presets have a reader of their own.
enum ConfigReader {
    /// Sections that may be written as a single value, meaning that value for the given key:
    /// `model: densenet121-se16` = `model: {name: densenet121-se16}`, `training.optimizer: adam`,
    /// `training.schedule: cosine`, `data.split: grouped` (= `{protocol: grouped}`). From the declarations.
    static let shorthands: [String: String] = ExperimentSchema.shorthands

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
        let top = Section(doc, path: "", allowed: ExperimentSchema.topKeys, diag: diag)
        let config = top.readSettings(RunConfig.self)
        guard diag.issues.count == before else { return nil }
        return config
    }

    static func readGroup(_ sp: Section) -> GroupKey? {
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
}

// MARK: - reading declared settings

extension Section {
    /// The value of one declared setting as canonical JSON, checked against its kind; nil when absent or wrong
    /// (wrong values are reported). Sections are read by `readSettings`.
    func read(_ info: SettingInfo) -> JSONValue? {
        let key = info.key, example = info.example
        switch info.kind {
        case let .integer(min, max, why):
            return int(key, example: example, min: min, max: max, why: why).map(JSONValue.int)
        case .number(let r):
            return double(key, example: example, min: r.min, max: r.max, openMin: r.openMin, openMax: r.openMax)
                .map(JSONValue.double)
        case .flag: return bool(key).map(JSONValue.bool)
        case .text, .modelName, .special: return string(key, example: example).map(JSONValue.string)
        case .choice(let words): return choice(key, words).map(JSONValue.string)
        case let .numbers(count, r):
            return doubles(key, count: count, example: example, min: r.min, max: r.max, openMin: r.openMin)
                .map { .array($0.map(JSONValue.double)) }
        case .integers(let min): return ints(key, example: example, min: min).map { .array($0.map(JSONValue.int)) }
        case .texts: return strings(key, example: example).map { .array($0.map(JSONValue.string)) }
        case .groupKey: return ConfigReader.readGroup(self)?.jsonValue
        case let .section(type, _, switchable):
            if switchable, case let .scalar(text, true, _)? = node(key), let on = Section.boolean(text) {
                return on ? Section(nil, path: keyPath(key), allowed: type.keys, diag: diag).readSection(type) : nil
            }
            return section(key, allowed: type.keys).readSection(type)
        }
    }

    func readSection(_ type: any SettingsSection.Type) -> JSONValue { readSettings(type).jsonValue }

    /// Reads every declared setting of `S` from this section: its value, else its default (when it applies),
    /// a required one reported when missing; then the section's `SectionRules`. Problems go to `diag`; the value
    /// is only meaningful when none were reported.
    func readSettings<S: SettingsSection>(_ type: S.Type) -> S {
        if let custom = S.self as? any CustomSectionReader.Type { return Self.same(custom.read(from: self), as: S.self) }
        var value = S()
        for setting in S.settings where setting.info.inFile {
            let info = setting.info
            var v: JSONValue?
            if case .section = info.kind, info.isRequired || setting.clear != nil {
                // A required section must be there (empty is fine); an optional one is read only when given.
                let given = info.isRequired ? entry(info.key) != nil : has(info.key)
                if given { v = read(info) } else if info.isRequired { missing(info.key, example: info.example) }
            } else {
                v = read(info)
                if v == nil {
                    if info.isRequired {
                        if !has(info.key) { missing(info.key, example: info.example) }
                    } else {
                        v = setting.fallback(value)
                    }
                }
            }
            if let condition = setting.condition, !condition.test(value) { v = nil }
            if let v {
                // `read` checked the value against the declaration: a value it passes that the property refuses is
                // a declaration at odds with its property, said where it shows instead of dropped.
                do { try setting.set(&value, v) } catch {
                    report(info.key, "\(error)", fix: "Report this: the declaration of \(S.self).\(info.key) and its property disagree")
                }
            } else {
                setting.clear?(&value)
            }
        }
        if let ruled = value as? any SectionRules { value = Self.same(ruled.checked(in: self), as: S.self) }
        return value
    }

    /// `value` as the section type it was made as (`CustomSectionReader.read` and `SectionRules.checked` return
    /// `Self`; an existential hides that from the compiler).
    private static func same<S>(_ value: Any, as _: S.Type) -> S {
        guard let typed = value as? S else { preconditionFailure("\(type(of: value)) is not \(S.self)") }
        return typed
    }
}

/// A section with rules that involve several settings (its own, or its children's), applied after its settings
/// were read: the one place for the experiment language's cross-setting validation.
protocol SectionRules {
    func checked(in section: Section) -> Self
}

/// A section read by code of its own instead of setting by setting (the model).
protocol CustomSectionReader {
    static func read(from section: Section) -> Self
}

extension RunConfig: SectionRules {
    /// The input must keep at least 1×1 feature maps until the last dense block (`DenseNetConfig.featureSides`).
    /// (A ResNet's stride-2 stages round up, so any accepted size keeps at least 1×1.) Selecting an epoch on
    /// validation, or stopping early, needs a validation part (`folders` splits may bring theirs as `val/`).
    /// `training.freeze` must name the model's modules and leave something to train.
    func checked(in top: Section) -> RunConfig {
        if let freeze = training.freeze, top.entry("model") != nil, let spec = try? model.spec(classes: 2),
           let problem = FreezeList(freeze).problem(in: spec) {
            var suggestion = ""
            if case let .unknownPrefix(prefix, _, modules) = problem, let near = nearest(prefix, in: modules) {
                suggestion = "Did you mean '\(near)'? "
            }
            top.section("training", allowed: TrainingSection.keys).report("freeze", problem.problem, fix: suggestion + problem.fix)
        }
        let split = data.split
        if split.validationFraction == nil, split.protocol != .folders, top.entry("training") != nil {
            let training = top.section("training", allowed: TrainingSection.keys)
            let fix = "Add `validation_fraction: 0.15` under data.split (whole groups when grouped), or drop it"
            if let select = self.training.select, select != .last {
                training.report("select", "\(select.rawValue) picks the epoch on a validation split, and there is none", fix: fix)
            }
            if self.training.earlyStop != nil {
                training.report("early_stop", "early stopping watches a validation split, and there is none", fix: fix)
            }
        }
        return checkedSize(in: top)
    }

    func checkedSize(in top: Section) -> RunConfig {
        guard top.entry("data") != nil, top.entry("model") != nil, data.size >= 1,
              case .denseNet(let c)? = try? model.spec(classes: 2), data.size < c.minimumInputSize else { return self }
        top.section("data", allowed: DataSection.keys)
            .report("size", "image size \(data.size) is too small for a model with \(c.blockConfig.count) dense "
                    + "blocks: the feature map shrinks to nothing before the last block",
                    fix: "Use data.size ≥ \(c.minimumInputSize), or fewer blocks in model.block_config")
        return self
    }
}

extension DataSection: SectionRules {
    func checked(in s: Section) -> DataSection {
        var data = self
        if s.has("path") && path.isEmpty {
            s.report("path", "the path is empty", fix: "Write the data folder, e.g. `path: ../shared/data/monkeypox`")
        }
        // The generated images default to the network's input size.
        if data.synthesize != nil, !s.section("synthesize", allowed: SynthesizeSection.keys).has("size") {
            data.synthesize!.size = size
        }
        return data
    }
}

extension SplitSection: SectionRules {
    func checked(in sp: Section) -> SplitSection {
        // Folder splits read `train/` and `test/`: other names are refused here, where the file can be pointed at,
        // not when a run starts. (The keys stay so a file may spell the defaults out.)
        for (key, wanted) in [("train_dir", SplitSection.trainFolder), ("test_dir", SplitSection.testFolder)] {
            if let value = sp.string(key, example: wanted), value != wanted {
                sp.report(key, "folder splits read the sub-folder `\(wanted)/`; other names are not supported (got '\(value)')",
                          fix: "Rename the data folder's sub-folder to `\(wanted)` and drop `\(key)`")
            }
        }
        if (self.protocol == .grouped || self.protocol == .kfold) && group == nil && !sp.has("group") {
            sp.diag.report(sp.keyPath("group"), sp.location, "required when protocol is \(self.protocol.rawValue)",
                           fix: "Add `group: photo` (same original photograph), `group: patient`, "
                               + "or `group: {regex: '^([A-Z]+\\d+)_'}` under data.split")
        }
        if self.protocol == .kfold, let folds {
            if fold == nil && !sp.has("fold") {
                sp.diag.report(sp.keyPath("fold"), sp.location, "required when protocol is kfold: which fold this run tests on",
                               fix: "Add the matrix axis `data.split.fold: all` (one run per fold), or `fold: 0` under data.split")
            } else if let fold, fold >= folds {
                sp.report("fold", "fold \(fold) does not exist: the folds are 0..\(folds - 1)",
                          fix: "Use a fold from 0 to \(folds - 1), or `data.split.fold: all` in the matrix")
            }
        }
        if let v = validationFraction {
            // What is left for training must stay a real share of the data.
            let testShare = self.protocol == .kfold ? 1 / Double(folds ?? SplitSection.defaultFolds) : (testFraction ?? 0)
            if v + testShare >= 0.9 {
                sp.report("validation_fraction", "validation \(v) and test \((testShare * 1000).rounded() / 1000) leave "
                          + "\((max(0, 1 - v - testShare) * 1000).rounded() / 1000) of the images for training",
                          fix: "Use a smaller validation_fraction (0.1–0.2 is usual)")
            }
        }
        return self
    }
}

extension RandomResizedCropSection: SectionRules {
    func checked(in c: Section) -> RandomResizedCropSection {
        if scale[0] > scale[1] {
            c.report("scale", "the minimum \(scale[0]) is larger than the maximum \(scale[1])", fix: "Write [min, max], e.g. [0.08, 1.0]")
        }
        if ratio[0] > ratio[1] {
            c.report("ratio", "the minimum \(ratio[0]) is larger than the maximum \(ratio[1])", fix: "Write [min, max], e.g. [0.75, 1.3333]")
        }
        return self
    }
}

extension OptimizerSection: SectionRules {
    func checked(in o: Section) -> OptimizerSection {
        if nesterov == true && momentum == 0 {
            o.report("nesterov", "Nesterov momentum needs momentum > 0",
                     fix: "Set training.optimizer.momentum (e.g. 0.9) or `nesterov: false`")
        }
        if let b = betas, b.contains(1.0) {
            o.report("betas", "each beta must be below 1", fix: "Write e.g. `betas: [0.9, 0.999]`")
        }
        var optimizer = self
        // A multiplier of 1 is what leaving it out means: one configuration, one hash.
        if optimizer.headLRMultiplier == 1 { optimizer.headLRMultiplier = nil }
        return optimizer
    }
}

extension ScheduleSection: SectionRules {
    func checked(in sc: Section) -> ScheduleSection {
        if name == .step && stepSize == nil && !sc.has("step_size") {
            sc.missing("step_size", example: ScheduleSection.setting("step_size").info.example)
        }
        return self
    }
}

extension TrainingSection: SectionRules {
    func checked(in t: Section) -> TrainingSection {
        var training = self
        // `select: last` is what leaving it out means: one configuration, one hash. Likewise an empty freeze list,
        // and a freeze list however it is ordered or repeats itself.
        if training.select == .last { training.select = nil }
        if let freeze = training.freeze { training.freeze = freeze.isEmpty ? nil : FreezeList(freeze).canonical }
        if schedule.name == .cosine, let m = schedule.minLR, m >= optimizer.lr {
            t.section("schedule", allowed: ScheduleSection.keys)
                .report("min_lr", "must be below the learning rate \(optimizer.lr), got \(m)",
                        fix: "Lower training.schedule.min_lr (0 is usual)")
        }
        return training
    }
}

// MARK: - model

extension ModelSection: CustomSectionReader {
    static func read(from m: Section) -> ModelSection {
        readModel(m) ?? ModelSection()
    }

    /// The value of the declared setting `key` (checked against its declaration).
    static func value(_ m: Section, _ key: String) -> JSONValue? { m.read(setting(key).info) }

    /// The name is parsed by `ModelName` (the one grammar); a preset's architecture, or a custom one's required
    /// settings, is the base; the file's settings are laid over it; `ModelSpec.validate()` judges the result.
    static func readModel(_ m: Section) -> ModelSection? {
        guard let typed = m.string("name", example: setting("name").info.example) else {
            if !m.has("name") { m.missing("name", example: setting("name").info.example) }
            return nil
        }
        guard let name = ModelName(typed) else {
            let suggestion = nearest(typed.lowercased(), in: ConfigReader.modelNames).map { "Did you mean '\($0)'? " } ?? ""
            m.report("name", "unknown model '\(typed)'", fix: suggestion + ConfigReader.modelNameHelp)
            return nil
        }
        var section: ModelSection?
        switch name.family {
        case .denseNet: section = readDenseNet(m, typed: typed, name: name)
        case .resNet: section = readResNet(m, typed: typed, name: name)
        }
        // The file's SHA-256 is filled in by the experiment reader, which knows the folder paths are relative to.
        if let path = value(m, "init_from")?.stringValue {
            if path.isEmpty { m.report("init_from", "the path is empty", fix: "Write the weight file, e.g. `init_from: weights/densenet121-a639ec97.pth`, or remove the key") }
            section?.initFrom = path
        }
        return section
    }

    /// The SE reduction from the name's `-seN` and `se_reduction` (which must agree), or nil.
    static func readSEReduction(_ m: Section, typed: String, name: ModelName) -> Int? {
        guard let r = value(m, "se_reduction")?.intValue else { return name.seReduction }
        if let nameSE = name.seReduction, nameSE != r {
            m.report("se_reduction", "\(r) contradicts the model name '\(typed)' (reduction \(nameSE))",
                     fix: "Remove model.se_reduction or use the name without -se\(nameSE)")
        }
        return r
    }

    /// Settings of the other family are errors, not silently ignored.
    static func rejectForeignKeys(_ m: Section, of family: Condition<ModelSection>, typed: String) {
        let own = family.doc == denseNetOnly.doc ? resNetOnly.doc : denseNetOnly.doc
        for s in settings where s.condition?.doc == family.doc && m.has(s.key) {
            m.report(s.key, "applies only to \(family.doc)s, not to '\(typed)' (a \(own))", fix: "Remove model.\(s.key)")
        }
    }

    /// `missing` with the declared example, or `example` (a small custom network's value) when given.
    static func require(_ m: Section, _ key: String, example: String? = nil) {
        if !m.has(key) { m.missing(key, example: example ?? setting(key).info.example) }
    }

    /// `spec.validate()`'s verdict as a problem of the file: at the key it names, or at `name` when the name alone
    /// says it (e.g. `-se512`). Returns whether the architecture is valid.
    static func validate(_ spec: ModelSpec, _ m: Section) -> Bool {
        do {
            try spec.validate()
            return true
        } catch let ModelError.invalidConfig(key, problem, fix) {
            m.report(m.has(key) ? key : "name", problem, fix: fix ?? "Change model.\(key)")
        } catch {
            m.report("name", "\(error)", fix: "Change the model section")
        }
        return false
    }

    static func readDenseNet(_ m: Section, typed: String, name: ModelName) -> ModelSection? {
        rejectForeignKeys(m, of: resNetOnly, typed: typed)
        if name.preset == nil { require(m, "growth_rate", example: "12"); require(m, "block_config", example: "[2, 2]") }
        let growth = value(m, "growth_rate")?.intValue
        let blocks = value(m, "block_config")?.arrayOfInts
        let initChannels = value(m, "init_channels")?.intValue
        let bnSize = value(m, "bn_size")?.intValue
        let compression = value(m, "compression")?.doubleValue
        let dropRate = value(m, "drop_rate")?.doubleValue
        let classes = value(m, "classes")?.intValue
        let se = readSEReduction(m, typed: typed, name: name)
        var placement = name.sePlacement
        if let p = value(m, "se_placement")?.stringValue.flatMap(SEPlacement.init) {
            if let namePlacement = name.sePlacement, namePlacement != p {
                m.report("se_placement", "\(p.rawValue) contradicts the model name '\(typed)' (placement \(namePlacement.rawValue))",
                         fix: "Remove model.se_placement or the -\(namePlacement.rawValue) suffix of the name")
            }
            if se == nil {
                m.report("se_placement", "places SE, but this model has none",
                         fix: "Add `se_reduction: 16` (or use a name with -seN, e.g. \(name.base)-se16-\(p.rawValue))")
            }
            placement = p
        }
        // The base: the preset, or a custom architecture from its required settings with the standard constants.
        var c: DenseNetConfig
        if case .denseNet(let preset)? = name.preset {
            c = preset
        } else {
            guard let growth, let blocks else { return nil }
            c = .standard(growthRate: growth, blockConfig: blocks)
        }
        // The file's values over it.
        if let growth { c.growthRate = growth }
        if let blocks { c.blockConfig = blocks }
        if let initChannels { c.initChannels = initChannels }
        if let bnSize { c.bnSize = bnSize }
        if let compression { c.compression = compression }
        if let dropRate { c.dropRate = dropRate }
        c.seReduction = se
        c.sePlacement = placement ?? .standard
        guard validate(.denseNet(c), m) else { return nil }
        return ModelSection(c, classes: classes)
    }

    static func readResNet(_ m: Section, typed: String, name: ModelName) -> ModelSection? {
        rejectForeignKeys(m, of: denseNetOnly, typed: typed)
        if name.preset == nil { require(m, "block"); require(m, "layers") }
        let block = value(m, "block")?.stringValue.flatMap(ResidualBlockKind.init)
        let layers = value(m, "layers")?.arrayOfInts
        let width = value(m, "width")?.intValue
        let classes = value(m, "classes")?.intValue
        let se = readSEReduction(m, typed: typed, name: name)
        var c: ResNetConfig
        if case .resNet(let preset)? = name.preset {
            c = preset
        } else {
            guard let block, let layers else { return nil }
            c = .standard(block: block, layers: layers)
        }
        if let block { c.block = block }
        if let layers { c.layers = layers }
        if let width { c.width = width }
        c.seReduction = se
        guard validate(.resNet(c), m) else { return nil }
        return ModelSection(c, classes: classes)
    }
}

extension JSONValue {
    var arrayOfInts: [Int]? {
        guard case .array(let items) = self else { return nil }
        let ints = items.compactMap(\.intValue)
        return ints.count == items.count ? ints : nil
    }
}
