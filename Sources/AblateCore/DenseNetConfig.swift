// Configurations of DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017) and its SE
// variants, by the names a user types: `densenet121`, `densenet161`, `densenet169`, `densenet201`, any of them
// with `-se<r>` for Squeeze-and-Excitation with reduction r on each dense block's output, as the course's
// PyTorch code places it (`densenet121-se16`), and `-se<r>-layer` / `-se<r>-transition` for the other places
// (`SEPlacement`).

/// Where Squeeze-and-Excitation sits in a DenseNet.
public enum SEPlacement: String, Codable, CaseIterable, Sendable {
    /// After each dense block's output (all of its channels), before the transition: the course's PyTorch code.
    case block
    /// On each dense layer's k new feature maps, before they are concatenated to the block's buffer.
    case layer
    /// After each transition's pooling (on its ⌊θC⌋ output channels), before the next dense block.
    case transition
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

    public init(growthRate: Int = 32, blockConfig: [Int] = [6, 12, 24, 16], initChannels: Int = 64, bnSize: Int = 4,
                compression: Double = 0.5, dropRate: Double = 0, classes: Int = 2, seReduction: Int? = nil,
                sePlacement: SEPlacement = .block) {
        self.growthRate = growthRate; self.blockConfig = blockConfig; self.initChannels = initChannels
        self.bnSize = bnSize; self.compression = compression; self.dropRate = dropRate; self.classes = classes
        self.seReduction = seReduction; self.sePlacement = sePlacement
    }

    public static let densenet121 = DenseNetConfig(blockConfig: [6, 12, 24, 16])
    public static let densenet161 = DenseNetConfig(growthRate: 48, blockConfig: [6, 12, 36, 24], initChannels: 96)
    public static let densenet169 = DenseNetConfig(blockConfig: [6, 12, 32, 32])
    public static let densenet201 = DenseNetConfig(blockConfig: [6, 12, 48, 32])

    /// The named architectures (torchvision's definitions: bn_size 4, compression 0.5), the one list every
    /// name parser and the experiment reader use.
    public static let presets: [(name: String, config: DenseNetConfig)] = [
        ("densenet121", .densenet121), ("densenet161", .densenet161), ("densenet169", .densenet169),
        ("densenet201", .densenet201),
    ]

    /// Parses `densenet121` (or another preset), optionally followed by `-se<r>` and then `-layer`,
    /// `-transition` or `-block` (the default placement).
    public static func named(_ name: String, classes: Int = 2) throws -> DenseNetConfig {
        let parts = name.lowercased().split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard var config = presets.first(where: { $0.name == parts[0] })?.config, parts.count <= 3 else {
            throw ModelError.unknownModel(name)
        }
        config.classes = classes
        if parts.count >= 2 {
            guard parts[1].hasPrefix("se"), let r = Int(parts[1].dropFirst(2)), r >= 1 else {
                throw ModelError.unknownModel(name)
            }
            config.seReduction = r
        }
        if parts.count == 3 {
            guard let placement = SEPlacement(rawValue: parts[2]) else { throw ModelError.unknownModel(name) }
            config.sePlacement = placement
        }
        try config.validate()
        return config
    }

    /// The preset this configuration is (ignoring classes, dropout and SE), if any.
    public var presetName: String? {
        var probe = self
        probe.seReduction = nil; probe.sePlacement = .block; probe.classes = 2; probe.dropRate = 0
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

    /// Throws a message naming the impossible setting.
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
            if r < 1 { throw bad("se_reduction", "must be at least 1, got \(r)") }
            for site in seSites where site.channels / r < 1 {
                throw bad("se_reduction", "r = \(r) leaves 0 channels in the SE layer of \(site.name) (\(site.channels) channels); use r ≤ \(seSites.map(\.channels).min()!)")
            }
        }
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
        if let r = seReduction { base += "-se\(r)" + (sePlacement == .block ? "" : "-\(sePlacement.rawValue)") }
        return base
    }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String)
    case invalidConfig(key: String, problem: String)
    case inputTooSmall(Int)

    public var description: String {
        switch self {
        case .unknownModel(let n):
            return "unknown model '\(n)': use \(ModelSpec.grammar)"
        case let .invalidConfig(key, problem): return "model.\(key): \(problem)"
        case .inputTooSmall(let s): return "input size \(s) is too small: the feature map shrinks to nothing before the last stage"
        }
    }
}
