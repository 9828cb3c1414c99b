// `ablate model resnet50-se16`: ResNet's layer tree as torchvision prints it (with SE where SE-ResNet puts it),
// output shapes per stage, parameters and multiply-adds per image (convolutions and linear layers).
import Engine

extension ResNet {
    public func summary(inputSize s: Int) throws -> ModelSummary {
        let sizes = try spatialSizes(s, s)
        var macs = sizes.stem.h * sizes.stem.w * conv1.patch * conv1.outChannels
        var shapes: [ModelSummary.StageShape] = [
            .init(name: "conv1", shape: [1, config.width, sizes.stem.h, sizes.stem.w]),
            .init(name: "maxpool", shape: [1, config.width, sizes.pool.h, sizes.pool.w]),
        ]
        var input = sizes.pool
        for (i, (stage, block)) in blocks.enumerated() {
            let out = sizes.blocks[i]
            for (conv, _, side) in block.convolutions(input.h, input.w) {
                macs += side.h * side.w * conv.patch * conv.outChannels
            }
            if let se = block.join.se { macs += se.multiplyAdds }
            if i == blocks.count - 1 || blocks[i + 1].stage != stage {
                shapes.append(.init(name: "layer\(stage + 1)", shape: [1, block.outChannels, out.h, out.w]))
            }
            input = out
        }
        macs += fc.inFeatures * fc.outFeatures
        shapes.append(.init(name: "fc", shape: [1, config.classes]))
        return ModelSummary(model: config.displayName, inputSize: s, parameters: store.parameterScalars,
                            multiplyAdds: macs, outputShape: [1, config.classes], stages: shapes)
    }

    public func layerTree(inputSize s: Int) throws -> String {
        let sizes = try spatialSizes(s, s)
        func shape(_ c: Int, _ hw: (h: Int, w: Int)) -> String { "  # → [1, \(c), \(hw.h), \(hw.w)]" }
        var out = ["ResNet("]
        out.append("  (conv1): \(torchConv(conv1))" + shape(config.width, sizes.stem))
        out.append("  (bn1): \(torchBatchNorm(config.width))")
        out.append("  (relu): ReLU(inplace=True)")
        out.append("  (maxpool): MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)" + shape(config.width, sizes.pool))
        for (i, (stage, block)) in blocks.enumerated() {
            let first = i == 0 || blocks[i - 1].stage != stage
            let lastOfStage = i == blocks.count - 1 || blocks[i + 1].stage != stage
            if first {
                let end = blocks.lastIndex { $0.stage == stage }!
                out.append("  (layer\(stage + 1)): Sequential(" + shape(blocks[end].block.outChannels, sizes.blocks[end]))
            }
            let index = i - blocks.firstIndex { $0.stage == stage }!
            out.append("    (\(index)): \(block is BasicBlock ? "BasicBlock" : "Bottleneck")(")
            let ind = "      "
            if let b = block as? BasicBlock {
                out.append("\(ind)(conv1): \(torchConv(b.conv1))")
                out.append("\(ind)(bn1): \(torchBatchNorm(b.bn1.channels))")
                out.append("\(ind)(relu): ReLU(inplace=True)")
                out.append("\(ind)(conv2): \(torchConv(b.conv2))")
                out.append("\(ind)(bn2): \(torchBatchNorm(b.join.norm.channels))")
            } else if let b = block as? BottleneckBlock {
                out.append("\(ind)(conv1): \(torchConv(b.conv1))")
                out.append("\(ind)(bn1): \(torchBatchNorm(b.bn1.channels))")
                out.append("\(ind)(conv2): \(torchConv(b.conv2))")
                out.append("\(ind)(bn2): \(torchBatchNorm(b.bn2.channels))")
                out.append("\(ind)(conv3): \(torchConv(b.conv3))")
                out.append("\(ind)(bn3): \(torchBatchNorm(b.join.norm.channels))")
                out.append("\(ind)(relu): ReLU(inplace=True)")
            }
            if let se = block.join.se { out += seLayerLines(se, indent: ind) }
            if let d = block.join.downsample {
                out.append("\(ind)(downsample): Sequential(")
                out.append("\(ind)  (0): \(torchConv(d.conv))")
                out.append("\(ind)  (1): \(torchBatchNorm(d.norm.channels))")
                out.append("\(ind))")
            }
            out.append("    )")
            if lastOfStage { out.append("  )") }
        }
        out.append("  (avgpool): AdaptiveAvgPool2d(output_size=(1, 1))")
        out.append("  (fc): Linear(in_features=\(config.featureChannels), out_features=\(config.classes), bias=True)  # → [1, \(config.classes)]")
        out.append(")")
        return out.joined(separator: "\n")
    }
}
