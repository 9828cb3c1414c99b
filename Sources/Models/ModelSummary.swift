// What `ablate model` prints: the layer tree in the shape of `print(model)` of the course's PyTorch code, with
// output shapes per block, the parameter count and multiply-adds per image (convolutions and linear layers, as
// the PyTorch benchmark script `../shared/peers/torch_densenet_se.py --mode flops` counts them with forward hooks).
import Engine

public struct ModelSummary: Codable, Sendable {
    public let model: String
    public let inputSize: Int
    public let parameters: Int
    public let multiplyAdds: Int
    public let outputShape: [Int]
    /// Per stage: name and NCHW output shape for one image.
    public let stages: [StageShape]

    public struct StageShape: Codable, Sendable { public let name: String; public let shape: [Int] }

    enum CodingKeys: String, CodingKey {
        case model, inputSize = "input_size", parameters, multiplyAdds = "multiply_adds", outputShape = "output_shape", stages
    }
}

extension DenseNet {
    /// Parameter count, multiply-adds and shapes for a 1×3×S×S input (analytic: no forward pass needed).
    public func summary(inputSize s: Int) throws -> ModelSummary {
        let sizes = try spatialSizes(s, s)
        var macs = 0
        var shapes: [ModelSummary.StageShape] = []
        let c0 = config.initChannels
        macs += sizes[0].h * sizes[0].w * conv0.patch * c0
        shapes.append(.init(name: "conv0", shape: [1, c0, sizes[0].h, sizes[0].w]))
        shapes.append(.init(name: "pool0", shape: [1, c0, sizes[1].h, sizes[1].w]))
        for (b, stage) in stages.enumerated() {
            let (h, w) = sizes[b + 1]
            for layer in stage.layers {
                macs += h * w * layer.conv1.patch * layer.conv1.outChannels
                macs += h * w * layer.conv2.patch * layer.conv2.outChannels
                if let se = layer.se { macs += se.multiplyAdds }
            }
            shapes.append(.init(name: "denseblock\(b + 1)", shape: [1, stage.outChannels, h, w]))
            if let se = stage.se {
                macs += se.multiplyAdds
                shapes.append(.init(name: "denseblock\(b + 1).se", shape: [1, stage.outChannels, h, w]))
            }
            if let t = stage.transition {
                // Counted as the model defines it (convolution before pooling), not as ablate computes it.
                macs += h * w * t.conv.patch * t.conv.outChannels
                if let se = t.se { macs += se.multiplyAdds }
                shapes.append(.init(name: "transition\(b + 1)", shape: [1, t.conv.outChannels, h / 2, w / 2]))
            }
        }
        macs += classifier.inFeatures * classifier.outFeatures
        shapes.append(.init(name: "classifier", shape: [1, config.classes]))
        return ModelSummary(model: config.displayName, inputSize: s, parameters: store.parameterScalars,
                            multiplyAdds: macs, outputShape: [1, config.classes], stages: shapes)
    }

    /// The layer tree as PyTorch prints the course's PyTorch code's model, each block annotated with its output
    /// shape.
    public func layerTree(inputSize s: Int) throws -> String {
        let sizes = try spatialSizes(s, s)
        var out = ["DenseNet("]
        let bn = torchBatchNorm, conv = torchConv
        func shape(_ c: Int, _ hw: (h: Int, w: Int)) -> String { "  # → [1, \(c), \(hw.h), \(hw.w)]" }
        let se = stages.contains { $0.se != nil }
        out.append("  (features): Sequential(")
        out.append("    (conv0): \(conv(conv0))" + shape(config.initChannels, sizes[0]))
        out.append("    (norm0): \(bn(config.initChannels))")
        out.append("    (relu0): ReLU(inplace=True)")
        out.append("    (pool0): MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)" + shape(config.initChannels, sizes[1]))
        for (b, stage) in stages.enumerated() {
            let hw = sizes[b + 1]
            var ind = "    "
            if se {
                out.append("    (denseblock\(b + 1)): DenseBlockWithSE(" + shape(stage.outChannels, hw))
                out.append("      (dense_block): _DenseBlock(")
                ind = "        "
            } else {
                out.append("    (denseblock\(b + 1)): _DenseBlock(" + shape(stage.outChannels, hw))
                ind = "      "
            }
            for (l, layer) in stage.layers.enumerated() {
                out.append("\(ind)(denselayer\(l + 1)): _DenseLayer(")
                out.append("\(ind)  (norm1): \(bn(layer.inChannels))")
                out.append("\(ind)  (relu1): ReLU(inplace=True)")
                out.append("\(ind)  (conv1): \(conv(layer.conv1))")
                out.append("\(ind)  (norm2): \(bn(layer.conv1.outChannels))")
                out.append("\(ind)  (relu2): ReLU(inplace=True)")
                out.append("\(ind)  (conv2): \(conv(layer.conv2))")
                if let s = layer.se { out += seLayerLines(s, indent: ind + "  ") }
                out.append("\(ind))")
            }
            if let s = stage.se {
                out.append("      )")
                out += seLayerLines(s, indent: "      ")
            }
            out.append("    )")
            if let t = stage.transition {
                out.append("    (transition\(b + 1)): _Transition(" + shape(t.conv.outChannels, (hw.h / 2, hw.w / 2)))
                out.append("      (norm): \(bn(t.norm.channels))")
                out.append("      (relu): ReLU(inplace=True)")
                out.append("      (conv): \(conv(t.conv))")
                out.append("      (pool): AvgPool2d(kernel_size=2, stride=2, padding=0)")
                if let s = t.se { out += seLayerLines(s, indent: "      ") }
                out.append("    )")
            }
        }
        out.append("    (norm5): \(bn(config.featureChannels))")
        out.append("  )")
        out.append("  (classifier): Linear(in_features=\(config.featureChannels), out_features=\(config.classes), bias=True)" + "  # → [1, \(config.classes)]")
        out.append(")")
        return out.joined(separator: "\n")
    }
}

/// The SE layer as the course's PyTorch code prints it, `(se): SELayer(…)`, at `indent`.
func seLayerLines(_ s: SqueezeExcitation, indent ind: String) -> [String] {
    [
        "\(ind)(se): SELayer(",
        "\(ind)  (avg_pool): AdaptiveAvgPool2d(output_size=1)",
        "\(ind)  (fc): Sequential(",
        "\(ind)    (0): Linear(in_features=\(s.channels), out_features=\(s.hidden), bias=True)",
        "\(ind)    (1): ReLU(inplace=True)",
        "\(ind)    (2): Linear(in_features=\(s.hidden), out_features=\(s.channels), bias=True)",
        "\(ind)    (3): Sigmoid()",
        "\(ind)  )",
        "\(ind))",
    ]
}

extension SqueezeExcitation {
    /// Multiply-adds of the two fully connected layers per image (the squeeze and the scaling are not counted,
    /// as the PyTorch benchmark script's hooks count only convolutions and linear layers).
    var multiplyAdds: Int { channels * hidden * 2 }
}

/// `BatchNorm2d(…)` as PyTorch prints it.
func torchBatchNorm(_ c: Int) -> String { "BatchNorm2d(\(c), eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)" }

/// `Conv2d(…)` as PyTorch prints it.
func torchConv(_ c: Conv2D) -> String {
    var s = "Conv2d(\(c.inChannels), \(c.outChannels), kernel_size=(\(c.kernel), \(c.kernel)), stride=(\(c.stride), \(c.stride))"
    if c.padding > 0 { s += ", padding=(\(c.padding), \(c.padding))" }
    return s + ", bias=False)"
}
