// The network a `ModelSpec` (AblateCore: names, presets, validation) describes.
import AblateCore

extension ModelSpec {
    /// The network with freshly initialised parameters (deterministic in `seed`).
    public func build(seed: UInt64) throws -> any Network {
        switch self {
        case .denseNet(let c): return try DenseNet(c, seed: seed)
        case .resNet(let c): return try ResNet(c, seed: seed)
        }
    }
}
