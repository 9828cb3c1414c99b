import AblateCore
import Foundation
import XCTest
@testable import ExperimentFile

/// Experiment files with the SE-transfer models (issue 14): ResNets, SE-ResNets and the DenseNet SE placements,
/// their canonical JSON, and the errors a user sees.
final class TransferModelTests: DataFolderTestCase {
    func experiment(model: String) throws -> Experiment {
        let text = """
            name: t
            data: {path: data, size: 64}
            training: {epochs: 3, batch_size: 8, optimizer: {name: sgd, lr: 0.05, momentum: 0.9}}
            model: \(model)
            """
        return try parse(text)
    }

    func issues(model: String) -> [Issue] {
        do {
            _ = try experiment(model: model)
            XCTFail("model: \(model) was accepted")
            return []
        } catch let e as ExperimentError {
            guard case .invalid(_, let issues) = e else { XCTFail("\(e)"); return [] }
            return issues
        } catch {
            XCTFail("\(error)")
            return []
        }
    }

    func expectIssue(model: String, keyPath: String, contains: [String], line: UInt = #line) {
        let found = issues(model: model)
        guard let issue = found.first(where: { $0.keyPath == keyPath }) else {
            XCTFail("no issue for \(keyPath): \(found.map(\.description))", line: line)
            return
        }
        for text in contains { XCTAssertTrue(issue.description.contains(text), "'\(text)' not in: \(issue.description)", line: line) }
    }

    /// Configurations written before placements and ResNets existed keep their canonical JSON and hash, bit for
    /// bit (these hashes are what the previous version printed for the same file); an explicit `se_placement:
    /// block` is the same configuration.
    func testExistingDenseNetHashesDoNotChange() throws {
        let expected = ["densenet121": "22fe6166b021", "densenet121-se16": "25f514cfa676",
                        "{name: custom, growth_rate: 4, block_config: [2, 2], init_channels: 8, se_reduction: 4}": "21ab69fe6a97",
                        "densenet169-se8": "15ea4cbffc8c",
                        "{name: densenet121, se_reduction: 16, se_placement: block}": "25f514cfa676",
                        "densenet121-se16-block": "25f514cfa676"]
        for (model, hash) in expected {
            let run = try experiment(model: model).runs[0]
            XCTAssertEqual(String(run.configHash.prefix(12)), hash, model)
            XCTAssertFalse(run.canonicalJSON.contains("se_placement"), model)
        }
        let se = try experiment(model: "densenet121-se16").runs[0]
        XCTAssertEqual(se.canonicalJSON.components(separatedBy: "\"model\":")[1].prefix(while: { $0 != "}" }),
                       "{\"block_config\":[6,12,24,16],\"bn_size\":4,\"compression\":0.5,\"drop_rate\":0.0,\"growth_rate\":32,"
                       + "\"init_channels\":64,\"name\":\"densenet121-se16\",\"se_reduction\":16")
    }

    func testNewNamesAndSettings() throws {
        let resnet = try experiment(model: "resnet50-se16").runs[0]
        XCTAssertEqual(resnet.config.model.name, "resnet50-se16")
        XCTAssertEqual(try resnet.config.model.spec(classes: 2), try ModelSpec.named("resnet50-se16"))
        XCTAssertTrue(resnet.canonicalJSON.contains(
            "\"model\":{\"block\":\"bottleneck\",\"layers\":[3,4,6,3],\"name\":\"resnet50-se16\",\"se_reduction\":16,\"width\":64}"),
                      resnet.canonicalJSON)
        XCTAssertEqual(try RunConfig.decode(json: resnet.canonicalJSON), resnet.config)

        let layer = try experiment(model: "{name: densenet121, se_reduction: 16, se_placement: layer}").runs[0]
        XCTAssertEqual(layer.config.model.name, "densenet121-se16-layer")
        XCTAssertTrue(layer.canonicalJSON.contains("\"se_placement\":\"layer\""))
        XCTAssertEqual(layer.configHash, try experiment(model: "densenet121-se16-layer").runs[0].configHash)
        XCTAssertNotEqual(layer.configHash, try experiment(model: "densenet121-se16").runs[0].configHash)
        XCTAssertEqual(try RunConfig.decode(json: layer.canonicalJSON), layer.config)
        XCTAssertEqual(try layer.config.model.spec(classes: 2), try ModelSpec.named("densenet121-se16-layer"))

        let transition = try experiment(model: "DenseNet121-SE8-Transition").runs[0]
        XCTAssertEqual(transition.config.model.name, "densenet121-se8-transition")

        // A ResNet that is not a preset: its own canonical name; one that is, by its preset's name.
        let tiny = try experiment(model: "{name: resnet-custom, block: basic, layers: [1, 1], width: 8}").runs[0]
        XCTAssertEqual(tiny.config.model.name, "resnet-custom")
        XCTAssertEqual(try experiment(model: "{name: resnet-custom, block: basic, layers: [2, 2, 2, 2]}").runs[0].config.model.name,
                       "resnet18")
        XCTAssertEqual(try experiment(model: "{name: resnet18, width: 16}").runs[0].config.model.name, "resnet-custom")
    }

    func testBackboneWithoutSE() {
        XCTAssertEqual(ModelSpec.backboneWithoutSE(of: "resnet50-se16"), "resnet50")
        XCTAssertEqual(ModelSpec.backboneWithoutSE(of: "densenet121-se16-layer"), "densenet121")
        XCTAssertEqual(ModelSpec.backboneWithoutSE(of: "DenseNet121-SE8"), "densenet121")
        XCTAssertNil(ModelSpec.backboneWithoutSE(of: "resnet18"))
        XCTAssertNil(ModelSpec.backboneWithoutSE(of: "model=custom lr=0.1"))
    }

    func testClearErrors() {
        expectIssue(model: "resnet5", keyPath: "model.name", contains: ["unknown model 'resnet5'", "Did you mean 'resnet50'?"])
        expectIssue(model: "densenet121-se16-everywhere", keyPath: "model.name", contains: ["unknown model", "-layer or -transition"])
        expectIssue(model: "{name: densenet121, se_placement: layer}", keyPath: "model.se_placement",
                    contains: ["places SE, but this model has none", "se_reduction: 16", "densenet121-se16-layer"])
        expectIssue(model: "{name: densenet121-se16-layer, se_placement: transition}", keyPath: "model.se_placement",
                    contains: ["contradicts the model name"])
        expectIssue(model: "{name: densenet121-se16, se_placement: layers}", keyPath: "model.se_placement",
                    contains: ["'layers' is not one of block, layer, transition", "Did you mean 'layer'?"])
        expectIssue(model: "{name: resnet50, growth_rate: 32}", keyPath: "model.growth_rate", contains: ["applies only to DenseNets"])
        expectIssue(model: "{name: resnet50, se_placement: layer}", keyPath: "model.se_placement", contains: ["applies only to DenseNets"])
        expectIssue(model: "{name: densenet121, layers: [1, 1]}", keyPath: "model.layers", contains: ["applies only to ResNets"])
        expectIssue(model: "{name: resnet50, block: wide}", keyPath: "model.block", contains: ["'wide' is not one of basic, bottleneck"])
        expectIssue(model: "resnet18-se128", keyPath: "model.name", contains: ["zero channels", "64 channels", "at most 64"])
        expectIssue(model: "densenet121-se64-layer", keyPath: "model.name",
                    contains: ["zero channels at each dense layer", "32 channels", "densenet121-se16-layer"])
        expectIssue(model: "{name: resnet-custom, layers: [1, 1]}", keyPath: "model.block", contains: ["required setting is missing", "block: basic"])
    }
}
