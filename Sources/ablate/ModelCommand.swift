import AblateCore
import ArgumentParser
import Checkpoints
import Foundation
import Models

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Print a model's layer tree, parameters, multiply-adds and output shape.",
        discussion: "Names: \(ModelSpec.grammar). With --init-from, load a PyTorch checkpoint (torch.save, zip or "
            + "legacy format) or safetensors file into the model and print what was loaded, what kept its fresh "
            + "initialisation and why, and what the file holds that the model does not use.")

    @Argument(help: "Model name, e.g. densenet121, densenet121-se16-layer or resnet50-se16.") var name: String
    @Option(help: "Input size S of a 1×3×S×S image.") var size = 224
    @Option(help: "Number of classes.") var classes = 2
    @Flag(help: "Print one JSON object (parameters, multiply_adds, output_shape, stages; with --init-from, the load report).")
    var json = false
    @Option(help: ArgumentHelp("Load pretrained weights from this file and print the load report.", valueName: "file"))
    var initFrom: String?

    func run() throws {
        if let initFrom { return try printLoadReport(initFrom) }
        let net: any Network
        let summary: ModelSummary
        do {
            net = try ModelSpec.named(name, classes: classes).build(seed: 0)
            summary = try net.summary(inputSize: size)
        } catch let e as ModelError {
            throw CommandFailure(e.description)
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(summary), as: UTF8.self))
            return
        }
        print(try net.layerTree(inputSize: size))
        print("")
        print("model:          \(summary.model)")
        print("parameters:     \(grouped(summary.parameters))")
        print("multiply-adds:  \(grouped(summary.multiplyAdds)) per image at \(size)×\(size)")
        print("output shape:   \(summary.outputShape) for a [1, 3, \(size), \(size)] input")
    }
}

extension ModelCommand {
    /// Builds the model, loads `path` into it and prints the report (text or JSON).
    func printLoadReport(_ path: String) throws {
        let report: LoadReport
        do {
            let net = try ModelSpec.named(name, classes: classes).build(seed: 0)
            report = try Pretrained.load(contentsOf: URL(fileURLWithPath: path), into: net)
        } catch let e as ModelError {
            throw CommandFailure(e.description)
        } catch let e as CheckpointError {
            throw CommandFailure(e.description)
        }
        if json { try printJSON(report) } else { report.lines.forEach { print($0) } }
    }
}

/// 6955906 → "6,955,906".
func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 && ch != "-" { out.append(",") }
        out.append(ch)
    }
    return String(out.reversed())
}
