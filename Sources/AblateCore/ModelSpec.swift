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

    /// Parses any model name; `classes` outputs.
    public static func named(_ name: String, classes: Int = 2) throws -> ModelSpec {
        if name.lowercased().hasPrefix("resnet") { return .resNet(try ResNetConfig.named(name, classes: classes)) }
        return .denseNet(try DenseNetConfig.named(name, classes: classes))
    }

    /// For a model name with SE (`resnet50-se16`, `densenet121-se16-layer`), the name of the same backbone without
    /// SE (`resnet50`, `densenet121`): the pair a "does SE help this network?" comparison needs. Nil for names
    /// without SE and for text that is not a model name.
    public static func backboneWithoutSE(of name: String) -> String? {
        guard let spec = try? named(name) else { return nil }
        let hasSE: Bool
        switch spec {
        case .denseNet(let c): hasSE = c.seReduction != nil
        case .resNet(let c): hasSE = c.seReduction != nil
        }
        // Every name the parser accepts is `<preset>[-se<r>[-<placement>]]`.
        return hasSE ? String(name.lowercased().prefix { $0 != "-" }) : nil
    }

    public var classes: Int {
        switch self {
        case .denseNet(let c): return c.classes
        case .resNet(let c): return c.classes
        }
    }

    public var displayName: String {
        switch self {
        case .denseNet(let c): return c.displayName
        case .resNet(let c): return c.displayName
        }
    }

    public func validate() throws {
        switch self {
        case .denseNet(let c): try c.validate()
        case .resNet(let c): try c.validate()
        }
    }
}
