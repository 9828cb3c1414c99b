// A model by family and configuration, and the one parser of the names a user types (`ablate model`,
// `ablate bench`, experiment files): `densenet121[-se<r>[-layer|-transition]]`, `resnet50[-se<r>]`, …
// The networks themselves are Models' (`ModelSpec.build`).

public enum ModelSpec: Equatable, Hashable, Sendable {
    case denseNet(DenseNetConfig)
    case resNet(ResNetConfig)

    /// The names `named` accepts, for error messages.
    public static let grammar = "densenet121, densenet161, densenet169, densenet201 (optionally -se<r>, then -layer "
        + "or -transition for SE on each dense layer's new maps or after each transition instead of each block's "
        + "output, e.g. densenet121-se16-layer) or resnet18, resnet34, resnet50 (optionally -se<r>, e.g. resnet50-se16)"

    /// Parses a preset's name (`ModelName`: the one grammar); `classes` outputs. Custom names (`custom`,
    /// `resnet-custom`) need the experiment file's settings and are refused here.
    public static func named(_ name: String, classes: Int = 2) throws -> ModelSpec {
        guard let parsed = ModelName(name), var spec = parsed.preset else { throw ModelError.unknownModel(name) }
        spec.classes = classes
        try spec.validate()
        return spec
    }

    /// For a preset's name with SE (`resnet50-se16`, `densenet121-se16-layer`), the name of the same backbone without
    /// SE (`resnet50`, `densenet121`): the pair a "does SE help this network?" comparison needs. Nil for names
    /// without SE, for custom architectures (`custom` names no one backbone) and for text that is not a model name.
    public static func backboneWithoutSE(of name: String) -> String? {
        guard let parsed = ModelName(name), parsed.preset != nil, parsed.seReduction != nil else { return nil }
        return parsed.base
    }

    /// True for a name of the grammar without SE (`densenet121`, `custom`, `resnet-custom`): a backbone.
    public static func isBackboneWithoutSE(_ name: String) -> Bool {
        guard let parsed = ModelName(name) else { return false }
        return parsed.seReduction == nil
    }

    public var classes: Int {
        get {
            switch self {
            case .denseNet(let c): return c.classes
            case .resNet(let c): return c.classes
            }
        }
        set {
            switch self {
            case .denseNet(var c): c.classes = newValue; self = .denseNet(c)
            case .resNet(var c): c.classes = newValue; self = .resNet(c)
            }
        }
    }

    public var seReduction: Int? {
        switch self {
        case .denseNet(let c): return c.seReduction
        case .resNet(let c): return c.seReduction
        }
    }

    public var displayName: String {
        switch self {
        case .denseNet(let c): return c.displayName
        case .resNet(let c): return c.displayName
        }
    }

    /// Throws `ModelError.invalidConfig` naming the impossible setting, what is wrong and what would do.
    public func validate() throws {
        switch self {
        case .denseNet(let c): try c.validate()
        case .resNet(let c): try c.validate()
        }
    }
}

/// A model name taken apart by the one grammar: `<base>[-se<r>]` and, for a DenseNet, `[-block|-layer|-transition]`
/// after the SE part. `base` is a preset (`densenet121`, `resnet50`, …) or a family's custom architecture
/// (`custom`, `resnet-custom`), whose settings the experiment file gives. `ModelSpec.named`, `DenseNetConfig.named`,
/// `ResNetConfig.named` and the experiment file's model reader all parse with it.
public struct ModelName: Equatable, Sendable {
    public enum Family: Equatable, Sendable { case denseNet, resNet }

    public var family: Family
    /// The preset's name, or `custom` / `resnet-custom`; lower-case.
    public var base: String
    /// `-se<r>` (any whole number: `ModelSpec.validate` decides whether it fits).
    public var seReduction: Int?
    /// A DenseNet's `-layer`, `-transition` or `-block` suffix (nil: none written).
    public var sePlacement: SEPlacement?

    /// The custom architectures' names (no preset: the file gives the architecture).
    public static let customDenseNet = "custom", customResNet = "resnet-custom"

    /// Nil when `text` is not a name of the grammar (case-insensitive).
    public init?(_ text: String) {
        var rest = Substring(text.lowercased())
        let base = rest.hasPrefix(Self.customResNet) ? Self.customResNet : String(rest.prefix { $0 != "-" })
        rest = rest.dropFirst(base.count)
        if base == Self.customResNet || ResNetConfig.presets.contains(where: { $0.name == base }) {
            family = .resNet
        } else if base == Self.customDenseNet || DenseNetConfig.presets.contains(where: { $0.name == base }) {
            family = .denseNet
        } else {
            return nil
        }
        self.base = base
        guard !rest.isEmpty else { return }
        let parts = rest.dropFirst().split(separator: "-", omittingEmptySubsequences: false)
        guard rest.first == "-", parts.count <= (family == .denseNet ? 2 : 1), parts[0].hasPrefix("se") else { return nil }
        let digits = parts[0].dropFirst(2)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let r = Int(digits) else {
            return nil
        }
        seReduction = r
        if parts.count == 2 {
            guard let placement = SEPlacement(rawValue: String(parts[1])) else { return nil }
            sePlacement = placement
        }
    }

    /// The preset's architecture with the name's SE (2 classes); nil for a custom name.
    public var preset: ModelSpec? {
        switch family {
        case .denseNet:
            guard var c = DenseNetConfig.presets.first(where: { $0.name == base })?.config else { return nil }
            c.seReduction = seReduction
            c.sePlacement = sePlacement ?? .standard
            return .denseNet(c)
        case .resNet:
            guard var c = ResNetConfig.presets.first(where: { $0.name == base })?.config else { return nil }
            c.seReduction = seReduction
            return .resNet(c)
        }
    }
}
