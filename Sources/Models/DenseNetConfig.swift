// Configurations of DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017) and the
// seed's SE variant, by the names a user types: `densenet121`, `densenet169`, `densenet201`, and any of them
// with `-se<r>` for Squeeze-and-Excitation with reduction r on each dense block's output (`densenet121-se16`).

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

    public init(growthRate: Int = 32, blockConfig: [Int] = [6, 12, 24, 16], initChannels: Int = 64, bnSize: Int = 4,
                compression: Double = 0.5, dropRate: Double = 0, classes: Int = 2, seReduction: Int? = nil) {
        self.growthRate = growthRate; self.blockConfig = blockConfig; self.initChannels = initChannels
        self.bnSize = bnSize; self.compression = compression; self.dropRate = dropRate; self.classes = classes
        self.seReduction = seReduction
    }

    public static let densenet121 = DenseNetConfig(blockConfig: [6, 12, 24, 16])
    public static let densenet169 = DenseNetConfig(blockConfig: [6, 12, 32, 32])
    public static let densenet201 = DenseNetConfig(blockConfig: [6, 12, 48, 32])

    /// Parses `densenet121`, `densenet169`, `densenet201`, optionally followed by `-se<r>`.
    public static func named(_ name: String, classes: Int = 2) throws -> DenseNetConfig {
        let lower = name.lowercased()
        let parts = lower.split(separator: "-", maxSplits: 1).map(String.init)
        var config: DenseNetConfig
        switch parts[0] {
        case "densenet121": config = .densenet121
        case "densenet169": config = .densenet169
        case "densenet201": config = .densenet201
        default: throw ModelError.unknownModel(name)
        }
        config.classes = classes
        if parts.count == 2 {
            guard parts[1].hasPrefix("se"), let r = Int(parts[1].dropFirst(2)), r >= 1 else {
                throw ModelError.unknownModel(name)
            }
            config.seReduction = r
        }
        try config.validate()
        return config
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
            for (i, b) in blockChannels.enumerated() where b.output / r < 1 {
                throw bad("se_reduction", "r = \(r) leaves 0 channels in the SE layer of block \(i + 1) (\(b.output) channels); use r ≤ \(b.output)")
            }
        }
    }

    /// A name a user could type back, when this is a named configuration; otherwise a description.
    public var displayName: String {
        var base: String
        var probe = self; probe.seReduction = nil; probe.classes = 2
        switch probe {
        case .densenet121: base = "densenet121"
        case .densenet169: base = "densenet169"
        case .densenet201: base = "densenet201"
        default: base = "densenet(k=\(growthRate), blocks=\(blockConfig), init=\(initChannels), bn=\(bnSize), θ=\(compression))"
        }
        if let r = seReduction { base += "-se\(r)" }
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
            return "unknown model '\(n)': use densenet121, densenet169 or densenet201, optionally with -se<r> (e.g. densenet121-se16)"
        case let .invalidConfig(key, problem): return "model.\(key): \(problem)"
        case .inputTooSmall(let s): return "input size \(s) is too small: DenseNet needs at least 32×32 pixels"
        }
    }
}
