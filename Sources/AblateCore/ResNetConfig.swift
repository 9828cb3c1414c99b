// Configurations of ResNet (He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016) as
// torchvision defines them, and SE-ResNet (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018: SE on the
// residual branch after its last BN, before the addition), by the names a user types: `resnet18`, `resnet34`,
// `resnet50`, optionally with `-se<r>` (`resnet50-se16`).

/// The residual block of a ResNet.
public enum ResidualBlockKind: String, Codable, CaseIterable, Sendable {
    /// Conv3×3(s)-BN-ReLU-Conv3×3-BN, expansion 1 (ResNet-18/34).
    case basic
    /// Conv1×1-BN-ReLU-Conv3×3(s)-BN-ReLU-Conv1×1(4·planes)-BN, expansion 4, the stride on the 3×3 (torchvision's
    /// "ResNet V1.5", ResNet-50).
    case bottleneck

    /// Output channels per `planes` of a block.
    public var expansion: Int { self == .basic ? 1 : 4 }
}

/// Hyper-parameters of a torchvision-layout ResNet.
public struct ResNetConfig: Codable, Equatable, Hashable, Sendable {
    public var block: ResidualBlockKind
    /// Blocks per stage (`layer1` … `layerN`); stage i has `width·2^i` planes and stride 2 from the second on.
    public var layers: [Int]
    /// Channels of the stem convolution and planes of the first stage (64 in torchvision).
    public var width: Int
    public var classes: Int
    /// SE reduction r on every block's residual branch (nil: plain ResNet).
    public var seReduction: Int?

    /// Every value explicitly: the declared default width is `standardWidth`, the architectures the presets.
    public init(block: ResidualBlockKind, layers: [Int], width: Int, classes: Int, seReduction: Int?) {
        self.block = block; self.layers = layers; self.width = width; self.classes = classes
        self.seReduction = seReduction
    }

    /// torchvision's stem width, which every preset has: the one declaration of the experiment file's default for
    /// `model.width`.
    public static let standardWidth = 64

    /// A ResNet with the standard width, no SE and 2 classes.
    public static func standard(block: ResidualBlockKind, layers: [Int]) -> ResNetConfig {
        ResNetConfig(block: block, layers: layers, width: standardWidth, classes: 2, seReduction: nil)
    }

    public static let resnet18 = standard(block: .basic, layers: [2, 2, 2, 2])
    public static let resnet34 = standard(block: .basic, layers: [3, 4, 6, 3])
    public static let resnet50 = standard(block: .bottleneck, layers: [3, 4, 6, 3])

    /// The named architectures, the one list every name parser and the experiment reader use.
    public static let presets: [(name: String, config: ResNetConfig)] = [
        ("resnet18", .resnet18), ("resnet34", .resnet34), ("resnet50", .resnet50),
    ]

    /// Parses `resnet18`, `resnet34`, `resnet50`, optionally followed by `-se<r>`: `ModelName`'s grammar.
    public static func named(_ name: String, classes: Int = 2) throws -> ResNetConfig {
        guard case .resNet(var config)? = ModelName(name)?.preset else { throw ModelError.unknownModel(name) }
        config.classes = classes
        try config.validate()
        return config
    }

    /// Planes of stage `i` (the width of its 3×3 convolutions).
    public func planes(stage i: Int) -> Int { width << i }

    /// Output channels of stage `i`.
    public func outChannels(stage i: Int) -> Int { planes(stage: i) * block.expansion }

    /// Channels entering the classifier.
    public var featureChannels: Int { outChannels(stage: layers.count - 1) }

    public func validate() throws {
        func bad(_ key: String, _ why: String) -> ModelError { .invalidConfig(key: key, problem: why) }
        if layers.isEmpty || layers.contains(where: { $0 < 1 }) {
            throw bad("layers", "needs one or more stages of at least 1 block, got \(layers)")
        }
        if width < 1 { throw bad("width", "must be at least 1, got \(width)") }
        if classes < 1 { throw bad("classes", "must be at least 1, got \(classes)") }
        if let r = seReduction {
            try ModelError.checkSE(r, sites: [("the first stage's blocks", outChannels(stage: 0))],
                                   base: presetName ?? ModelName.customResNet, suffix: "")
        }
    }

    /// The preset this configuration is (ignoring classes and SE), if any.
    public var presetName: String? {
        var probe = self; probe.seReduction = nil; probe.classes = 2
        return Self.presets.first { $0.config == probe }?.name
    }

    /// A name a user could type back, when this is a named configuration; otherwise a description.
    public var displayName: String {
        var base = presetName ?? "resnet(\(block.rawValue), layers=\(layers), width=\(width))"
        if let r = seReduction { base += "-se\(r)" }
        return base
    }
}
