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
        if let custom = S.self as? any CustomSectionReader.Type { return custom.read(from: self) as! S }
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
            if let v { try? setting.set(&value, v) } else { setting.clear?(&value) }
        }
        if let ruled = value as? any SectionRules { value = ruled.checked(in: self) as! S }
        return value
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
    /// The stem divides the side by 4 and each transition by 2: the input must stay at least 1×1 until the last
    /// block. (A ResNet's stride-2 stages round up, so any accepted size keeps at least 1×1.)
    func checked(in top: Section) -> RunConfig {
        guard let blockConfig = model.blockConfig, top.entry("data") != nil, top.entry("model") != nil else { return self }
        func finalSide(_ size: Int) -> Int {
            var s = (size - 1) / 2 + 1  // 7×7 conv, stride 2, padding 3
            s = (s - 1) / 2 + 1         // 3×3 max pool, stride 2, padding 1
            for _ in 1..<max(blockConfig.count, 1) { s /= 2 }  // 2×2 average pools
            return s
        }
        guard data.size >= 1, finalSide(data.size) < 1 else { return self }
        var need = data.size
        while finalSide(need) < 1 { need += 1 }
        top.section("data", allowed: DataConfig.keys)
            .report("size", "image size \(data.size) is too small for a model with \(blockConfig.count) dense "
                    + "blocks: the feature map shrinks to nothing before the last block",
                    fix: "Use data.size ≥ \(need), or fewer blocks in model.block_config")
        return self
    }
}

extension DataConfig: SectionRules {
    func checked(in s: Section) -> DataConfig {
        var data = self
        if s.has("path") && path.isEmpty {
            s.report("path", "the path is empty", fix: "Write the data folder, e.g. `path: ../shared/data/monkeypox`")
        }
        // The generated images default to the network's input size.
        if data.synthesize != nil, !s.section("synthesize", allowed: SynthesizeConfig.keys).has("size") {
            data.synthesize!.size = size
        }
        return data
    }
}

extension SplitSettings: SectionRules {
    func checked(in sp: Section) -> SplitSettings {
        // Folder splits read `train/` and `test/`: other names are refused here, where the file can be pointed at,
        // not when a run starts. (The keys stay so a file may spell the defaults out.)
        for (key, wanted) in [("train_dir", SplitSettings.trainFolder), ("test_dir", SplitSettings.testFolder)] {
            if let value = sp.string(key, example: wanted), value != wanted {
                sp.report(key, "folder splits read the sub-folder `\(wanted)/`; other names are not supported (got '\(value)')",
                          fix: "Rename the data folder's sub-folder to `\(wanted)` and drop `\(key)`")
            }
        }
        if self.protocol == .grouped && group == nil && !sp.has("group") {
            sp.diag.report(sp.keyPath("group"), sp.location, "required when protocol is grouped",
                           fix: "Add `group: photo` (same original photograph), `group: patient`, "
                               + "or `group: {regex: '^([A-Z]+\\d+)_'}` under data.split")
        }
        return self
    }
}

extension RandomResizedCrop: SectionRules {
    func checked(in c: Section) -> RandomResizedCrop {
        if scale[0] > scale[1] {
            c.report("scale", "the minimum \(scale[0]) is larger than the maximum \(scale[1])", fix: "Write [min, max], e.g. [0.08, 1.0]")
        }
        if ratio[0] > ratio[1] {
            c.report("ratio", "the minimum \(ratio[0]) is larger than the maximum \(ratio[1])", fix: "Write [min, max], e.g. [0.75, 1.3333]")
        }
        return self
    }
}

extension OptimizerSettings: SectionRules {
    func checked(in o: Section) -> OptimizerSettings {
        if nesterov == true && momentum == 0 {
            o.report("nesterov", "Nesterov momentum needs momentum > 0",
                     fix: "Set training.optimizer.momentum (e.g. 0.9) or `nesterov: false`")
        }
        if let b = betas, b.contains(1.0) {
            o.report("betas", "each beta must be below 1", fix: "Write e.g. `betas: [0.9, 0.999]`")
        }
        return self
    }
}

extension ScheduleSettings: SectionRules {
    func checked(in sc: Section) -> ScheduleSettings {
        if name == .step && stepSize == nil && !sc.has("step_size") {
            sc.missing("step_size", example: ScheduleSettings.setting("step_size").info.example)
        }
        return self
    }
}

extension TrainingConfig: SectionRules {
    func checked(in t: Section) -> TrainingConfig {
        if schedule.name == .cosine, let m = schedule.minLR, m >= optimizer.lr {
            t.section("schedule", allowed: ScheduleSettings.keys)
                .report("min_lr", "must be below the learning rate \(optimizer.lr), got \(m)",
                        fix: "Lower training.schedule.min_lr (0 is usual)")
        }
        return self
    }
}

// MARK: - model

extension ModelConfig: CustomSectionReader {
    static func read(from m: Section) -> ModelConfig {
        readModel(m) ?? ModelConfig()
    }

    /// The value of the declared setting `key` (checked against its declaration).
    static func value(_ m: Section, _ key: String) -> JSONValue? { m.read(setting(key).info) }

    static func readModel(_ m: Section) -> ModelConfig? {
        guard let typed = m.string("name", example: setting("name").info.example) else {
            if !m.has("name") { m.missing("name", example: setting("name").info.example) }
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
            let suggestion = nearest(name, in: ConfigReader.modelNames).map { "Did you mean '\($0)'? " } ?? ""
            m.report("name", "unknown model '\(typed)'", fix: suggestion + ConfigReader.modelNameHelp)
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
        if let r = value(m, "se_reduction")?.intValue {
            if let nameSE, nameSE != r {
                m.report("se_reduction", "\(r) contradicts the model name '\(typed)' (reduction \(nameSE))",
                         fix: "Remove model.se_reduction or use the name without -se\(nameSE)")
            }
            se = r
        }
        return (se, true)
    }

    /// Settings of the other family are errors, not silently ignored.
    static func rejectForeignKeys(_ m: Section, of family: Condition<ModelConfig>, typed: String) {
        let own = family.doc == denseNetOnly.doc ? resNetOnly.doc : denseNetOnly.doc
        for s in settings where s.condition?.doc == family.doc && m.has(s.key) {
            m.report(s.key, "applies only to \(family.doc)s, not to '\(typed)' (a \(own))", fix: "Remove model.\(s.key)")
        }
    }

    /// `missing` with the declared example, or `example` (a small custom network's value) when given.
    static func require(_ m: Section, _ key: String, example: String? = nil) {
        if !m.has(key) { m.missing(key, example: example ?? setting(key).info.example) }
    }

    static func readDenseNet(_ m: Section, typed: String, base: String, nameSE: Int?, namePlacement: SEPlacement?) -> ModelConfig? {
        rejectForeignKeys(m, of: resNetOnly, typed: typed)
        let preset = DenseNetConfig.presets.first { $0.name == base }?.config
        if base == "custom" { require(m, "growth_rate", example: "12"); require(m, "block_config", example: "[2, 2]") }
        let growth = value(m, "growth_rate")?.intValue ?? preset?.growthRate
        let blocks = (value(m, "block_config")?.arrayOfInts) ?? preset?.blockConfig
        let initChannels = value(m, "init_channels")?.intValue ?? preset?.initChannels ?? 2 * (growth ?? 32)
        let bnSize = value(m, "bn_size")?.intValue ?? 4
        let compression = value(m, "compression")?.doubleValue ?? 0.5
        let dropRate = value(m, "drop_rate")?.doubleValue ?? 0
        let classes = value(m, "classes")?.intValue
        let (se, ok) = readSEReduction(m, typed: typed, base: base, nameSE: nameSE)
        guard ok else { return nil }
        var placement = namePlacement
        if let p = value(m, "se_placement")?.stringValue.flatMap(SEPlacement.init) {
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
        rejectForeignKeys(m, of: denseNetOnly, typed: typed)
        let preset = ResNetConfig.presets.first { $0.name == base }?.config
        if base == "resnet-custom" { require(m, "block"); require(m, "layers") }
        let block = value(m, "block")?.stringValue.flatMap(ResidualBlockKind.init) ?? preset?.block
        let layers = value(m, "layers")?.arrayOfInts ?? preset?.layers
        let width = value(m, "width")?.intValue ?? preset?.width ?? 64
        let classes = value(m, "classes")?.intValue
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
}

extension JSONValue {
    var arrayOfInts: [Int]? {
        guard case .array(let items) = self else { return nil }
        let ints = items.compactMap(\.intValue)
        return ints.count == items.count ? ints : nil
    }
}
