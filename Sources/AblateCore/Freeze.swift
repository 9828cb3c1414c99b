// `training.freeze`: prefixes of state_dict names, how they match, and the top-level modules of each network that
// the experiment file's reader checks them against (the networks, in Models, check them against every parameter).

/// The state_dict prefixes `training.freeze` lists. A prefix covers a name it equals or that goes on after a dot:
/// `features.denseblock1` covers `features.denseblock1.denselayer1.conv1.weight`, not `features.denseblock10.…`.
public struct FreezeList: Equatable, Sendable {
    public let prefixes: [String]

    public init(_ prefixes: [String]) { self.prefixes = prefixes }

    /// Whether `prefix` names `name` or a module that contains it.
    public static func covers(_ prefix: String, _ name: String) -> Bool {
        name.hasPrefix(prefix) && (name.count == prefix.count || name.dropFirst(prefix.count).first == ".")
    }

    /// Whether some prefix of the list covers `name`.
    public func covers(_ name: String) -> Bool { prefixes.contains { Self.covers($0, name) } }

    /// The same list written once: prefixes inside another one and repeats dropped, sorted (one configuration,
    /// one hash, whatever the order or redundancy it was written with).
    public var canonical: [String] {
        let kept = Set(prefixes).filter { p in !prefixes.contains { $0 != p && Self.covers($0, p) } }
        return kept.sorted()
    }

    /// Why the list cannot be frozen in `model` (nil when it can), checked against its top-level modules only: a
    /// prefix must name one of them, a module containing some, or something inside one (what is inside is checked
    /// against the parameters when the network is built), and something must be left to train.
    public func problem(in model: ModelSpec) -> FreezeError? {
        let modules = model.topLevelModules
        for p in prefixes where !modules.contains(where: { Self.covers(p, $0) || Self.covers($0, p) }) {
            return .unknownPrefix(p, model: model.displayName, modules: modules)
        }
        if modules.allSatisfy(covers) { return .nothingTrains(model: model.displayName) }
        return nil
    }
}

public enum FreezeError: Error, CustomStringConvertible, Equatable {
    /// A prefix that covers no parameter of the model (its top-level modules listed).
    case unknownPrefix(String, model: String, modules: [String])
    /// Every parameter is frozen.
    case nothingTrains(model: String)

    public var problem: String {
        switch self {
        case let .unknownPrefix(p, model, _): return "'\(p)' matches no parameter of \(model)"
        case .nothingTrains(let model): return "it freezes every parameter of \(model): nothing would train"
        }
    }

    public var fix: String {
        switch self {
        case let .unknownPrefix(_, _, modules):
            return "Write prefixes of state_dict names (matched at a dot); the top-level modules are "
                + modules.joined(separator: ", ")
        case .nothingTrains: return "Leave at least the classifier out of training.freeze"
        }
    }

    public var description: String { "training.freeze: \(problem). \(fix)" }
}

extension ModelSpec {
    /// The network's top-level modules as state_dict prefixes, in forward order: every parameter of the network
    /// (Models) is under exactly one. DenseNet: `features.conv0`, `features.norm0`, `features.denseblock1`,
    /// `features.transition1`, …, the last dense block, `features.norm5`, `classifier`. ResNet: `conv1`, `bn1`,
    /// `layer1`, …, `fc`.
    public var topLevelModules: [String] {
        switch self {
        case .denseNet(let c):
            let blocks = (1...c.blockConfig.count).flatMap { b in
                ["features.denseblock\(b)"] + (b < c.blockConfig.count ? ["features.transition\(b)"] : [])
            }
            return ["features.conv0", "features.norm0"] + blocks + ["features.norm5", "classifier"]
        case .resNet(let c):
            return ["conv1", "bn1"] + (1...c.layers.count).map { "layer\($0)" } + ["fc"]
        }
    }
}
