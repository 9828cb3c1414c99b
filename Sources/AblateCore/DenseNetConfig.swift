// Configurations of DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017) and its SE
// variants, by the names a user types: `densenet121`, `densenet161`, `densenet169`, `densenet201`, any of them
// with `-se<r>` for Squeeze-and-Excitation with reduction r on each dense block's output, as the course's
// PyTorch code places it (`densenet121-se16`), and `-se<r>-layer` / `-se<r>-transition` for the other places
// (`SEPlacement`).
//
// "The course", here and throughout the sources: the deep-learning course whose monkeypox-image project ablate
// reproduces, and above all its PyTorch code, an SE-DenseNet-121. The models follow that code's DenseNet-121
// layout, parameter names, initialisation and SE placement (on each dense block's output); its random 80/20
// split and its 89% test-accuracy target are what the experiment files and reports start from.

/// Where Squeeze-and-Excitation sits in a DenseNet.
public enum SEPlacement: String, Codable, CaseIterable, Sendable {
    /// After each dense block's output (all of its channels), before the transition: the course's PyTorch code.
    case block
    /// On each dense layer's k new feature maps, before they are concatenated to the block's buffer.
    case layer
    /// After each transition's pooling (on its ⌊θC⌋ output channels), before the next dense block.
    case transition

    /// The placement a name or file that names none means: the course's.
    public static let standard = SEPlacement.block
}

/// Hyper-parameters of a DenseNet-BC network.
public struct DenseNetConfig: Codable, Equatable, Hashable, Sendable {
    /// Channels each dense layer adds (k).
    public var growthRate: Int
    /// Dense layers per block.
    public var blockConfig: [Int]
    /// Channels of the stem convolution.
    public var initChannels: Int
    /// Bottleneck width factor: the 1×1 convolution outputs `bnSize · k` channels.
    public var bnSize: Int
    /// Transition compression θ: a transition outputs ⌊θ·C⌋ channels.
    public var compression: Double
    /// Dropout after each dense layer's 3×3 convolution (training only), as torchvision's `drop_rate`.
    public var dropRate: Double
    public var classes: Int
    /// SE reduction r (nil: plain DenseNet).
    public var seReduction: Int?
    /// Where SE sits when `seReduction` is set.
    public var sePlacement: SEPlacement

    /// Every value explicitly: the declared defaults are the `standard…` constants below and the presets.
    public init(growthRate: Int, blockConfig: [Int], initChannels: Int, bnSize: Int, compression: Double,
                dropRate: Double, classes: Int, seReduction: Int?, sePlacement: SEPlacement) {
        self.growthRate = growthRate; self.blockConfig = blockConfig; self.initChannels = initChannels
        self.bnSize = bnSize; self.compression = compression; self.dropRate = dropRate; self.classes = classes
        self.seReduction = seReduction; self.sePlacement = sePlacement
    }

    /// torchvision's DenseNet-BC constants, which every preset has: the one declaration of the experiment file's
    /// defaults for `model.bn_size`, `model.compression` and `model.drop_rate`.
    public static let standardBNSize = 4, standardCompression = 0.5, standardDropRate = 0.0

    /// A DenseNet-BC with the standard constants, no SE and 2 classes; `initChannels` nil: 2 × growth rate (the
    /// experiment file's default for a custom architecture).
    public static func standard(growthRate: Int, blockConfig: [Int], initChannels: Int? = nil) -> DenseNetConfig {
        DenseNetConfig(growthRate: growthRate, blockConfig: blockConfig, initChannels: initChannels ?? 2 * growthRate,
                       bnSize: standardBNSize, compression: standardCompression, dropRate: standardDropRate,
                       classes: 2, seReduction: nil, sePlacement: .standard)
    }

    public static let densenet121 = standard(growthRate: 32, blockConfig: [6, 12, 24, 16], initChannels: 64)
    public static let densenet161 = standard(growthRate: 48, blockConfig: [6, 12, 36, 24], initChannels: 96)
    public static let densenet169 = standard(growthRate: 32, blockConfig: [6, 12, 32, 32], initChannels: 64)
    public static let densenet201 = standard(growthRate: 32, blockConfig: [6, 12, 48, 32], initChannels: 64)

    /// The named architectures (torchvision's definitions: bn_size 4, compression 0.5), the one list every
    /// name parser and the experiment reader use.
    public static let presets: [(name: String, config: DenseNetConfig)] = [
        ("densenet121", .densenet121), ("densenet161", .densenet161), ("densenet169", .densenet169),
        ("densenet201", .densenet201),
    ]

    /// Parses `densenet121` (or another preset), optionally followed by `-se<r>` and then `-layer`,
    /// `-transition` or `-block` (the default placement): `ModelName`'s grammar.
    public static func named(_ name: String, classes: Int = 2) throws -> DenseNetConfig {
        guard case .denseNet(let config)? = ModelName(name)?.preset else { throw ModelError.unknownModel(name) }
        var named = config
        named.classes = classes
        try named.validate()
        return named
    }

    /// The preset this configuration is (ignoring classes, dropout and SE), if any.
    public var presetName: String? {
        var probe = self
        probe.seReduction = nil; probe.sePlacement = .standard; probe.classes = 2; probe.dropRate = Self.standardDropRate
        return Self.presets.first { $0.config == probe }?.name
    }

    /// Channels entering each dense block and leaving it (before SE / transition).
    public var blockChannels: [(input: Int, output: Int)] {
        var c = initChannels
        var result: [(Int, Int)] = []
        for (i, layers) in blockConfig.enumerated() {
            let out = c + layers * growthRate
            result.append((c, out))
            c = i == blockConfig.count - 1 ? out : transitionChannels(out)
        }
        return result
    }

    public func transitionChannels(_ c: Int) -> Int { Int((Double(c) * compression).rounded(.down)) }

    /// Channels entering the classifier.
    public var featureChannels: Int { blockChannels.last!.output }

    /// Throws `ModelError.invalidConfig` naming the impossible setting (the one check of a DenseNet's settings:
    /// names, the experiment file's model reader and the engine all call it).
    public func validate() throws {
        func bad(_ key: String, _ why: String) -> ModelError { .invalidConfig(key: key, problem: why) }
        if growthRate < 1 { throw bad("growth_rate", "must be at least 1, got \(growthRate)") }
        if blockConfig.isEmpty || blockConfig.contains(where: { $0 < 1 }) {
            throw bad("block_config", "needs one or more blocks of at least 1 layer, got \(blockConfig)")
        }
        if initChannels < 1 { throw bad("init_channels", "must be at least 1, got \(initChannels)") }
        if bnSize < 1 { throw bad("bn_size", "must be at least 1, got \(bnSize)") }
        if !(compression > 0 && compression <= 1) { throw bad("compression", "must be in (0, 1], got \(compression)") }
        if !(dropRate >= 0 && dropRate < 1) { throw bad("drop_rate", "must be in [0, 1), got \(dropRate)") }
        if classes < 1 { throw bad("classes", "must be at least 1, got \(classes)") }
        for (i, b) in blockChannels.enumerated() where i < blockConfig.count - 1 && transitionChannels(b.output) < 1 {
            throw bad("compression", "transition \(i + 1) would keep 0 of \(b.output) channels")
        }
        if let r = seReduction {
            let suffix = sePlacement == .standard ? "" : "-\(sePlacement.rawValue)"
            try ModelError.checkSE(r, sites: seSites, base: presetName ?? ModelName.customDenseNet, suffix: suffix)
        }
    }

    /// Side of the feature maps for an `input`×`input` image: after the stem's 7×7 stride-2 convolution (padding 3),
    /// then entering each dense block (the stem's 3×3 stride-2 max pool, padding 1, then each transition's 2×2
    /// average pool). The one statement of this arithmetic: the network's shapes and the experiment file's size
    /// check both use it.
    public func featureSides(input: Int) -> (stem: Int, blocks: [Int]) {
        let stem = (input + 2 * 3 - 7) / 2 + 1
        var side = (stem + 2 * 1 - 3) / 2 + 1
        var blocks: [Int] = []
        for i in blockConfig.indices {
            blocks.append(side)
            if i < blockConfig.count - 1 { side /= 2 }
        }
        return (stem, blocks)
    }

    /// The smallest input side whose feature maps keep at least 1×1 until the last dense block.
    public var minimumInputSize: Int {
        var side = 1
        while featureSides(input: side).blocks.contains(where: { $0 < 1 }) { side += 1 }
        return side
    }

    /// The channels each SE layer sees with this placement (a dense layer's SE sees its k new maps), by site.
    public var seSites: [(name: String, channels: Int)] {
        let channels = blockChannels
        switch sePlacement {
        case .block: return channels.enumerated().map { ("dense block \($0.offset + 1)", $0.element.output) }
        case .layer: return [("each dense layer", growthRate)]
        case .transition:
            return channels.dropLast().enumerated().map { ("transition \($0.offset + 1)", transitionChannels($0.element.output)) }
        }
    }

    /// A name a user could type back, when this is a named configuration; otherwise a description.
    public var displayName: String {
        var base = presetName
            ?? "densenet(k=\(growthRate), blocks=\(blockConfig), init=\(initChannels), bn=\(bnSize), θ=\(compression))"
        if let r = seReduction { base += "-se\(r)" + (sePlacement == .standard ? "" : "-\(sePlacement.rawValue)") }
        return base
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String)
    /// `key` is the experiment file's (`se_reduction`, …); `fix` says what would do, when there is one value to name.
    case invalidConfig(key: String, problem: String, fix: String? = nil)
    case inputTooSmall(Int)

    public var description: String {
        switch self {
        case .unknownModel(let n):
            return "unknown model '\(n)': use \(ModelSpec.grammar)"
        case let .invalidConfig(key, problem, fix): return "model.\(key): \(problem)" + (fix.map { ". \($0)" } ?? "")
        case .inputTooSmall(let s): return "input size \(s) is too small: the feature map shrinks to nothing before the last stage"
        }
    }
}

extension ModelError {
    /// Squeeze-and-Excitation squeezes C channels to C / r (integer division): r > C leaves zero channels. The one
    /// statement of that rule for both families; `sites` are the places SE sits, `base` and `suffix` the model name
    /// around `-se<r>` for the suggestion.
    static func checkSE(_ r: Int, sites: [(name: String, channels: Int)], base: String, suffix: String) throws {
        if r < 1 { throw invalidConfig(key: "se_reduction", problem: "SE reduction must be at least 1, got \(r)", fix: "Use e.g. \(base)-se16\(suffix)") }
        guard let site = sites.first(where: { $0.channels / r < 1 }) else { return }
        let narrowest = sites.map(\.channels).min() ?? site.channels
        throw invalidConfig(key: "se_reduction",
                            problem: "SE reduction \(r) leaves zero channels at \(site.name), whose output has "
                                + "\(site.channels) channels (\(site.channels) / \(r) = 0)",
                            fix: "Use a reduction of at most \(narrowest) (the narrowest place SE sees), e.g. "
                                + "\(base)-se\(min(16, narrowest))\(suffix)")
    }
}
