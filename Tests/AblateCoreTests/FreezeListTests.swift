import AblateCore
import XCTest

/// `training.freeze`'s prefixes: matching at a dot boundary, the canonical list, and the check against a model's
/// top-level modules that the experiment file's reader makes.
final class FreezeListTests: XCTestCase {
    func testAPrefixCoversWholeNamesOnly() {
        XCTAssertTrue(FreezeList.covers("features.denseblock1", "features.denseblock1.denselayer1.conv1.weight"))
        XCTAssertTrue(FreezeList.covers("features.denseblock1", "features.denseblock1"))
        XCTAssertTrue(FreezeList.covers("features", "features.conv0.weight"))
        XCTAssertFalse(FreezeList.covers("features.denseblock1", "features.denseblock10.denselayer1.conv1.weight"))
        XCTAssertFalse(FreezeList.covers("features.denseblock1", "features.denseblock"))
        XCTAssertFalse(FreezeList.covers("features.conv", "features.conv0.weight"))
        XCTAssertFalse(FreezeList.covers("features.conv0.weight", "features.conv0"))
        XCTAssertTrue(FreezeList(["classifier", "features.norm0"]).covers("features.norm0.running_mean"))
        XCTAssertFalse(FreezeList([]).covers("classifier.weight"))
    }

    /// Order, repeats and prefixes inside another do not matter: one list, one configuration hash.
    func testCanonicalList() {
        XCTAssertEqual(FreezeList(["features.denseblock1", "features.conv0", "features.denseblock1.denselayer2",
                                   "features.conv0", "features.denseblock10"]).canonical,
                       ["features.conv0", "features.denseblock1", "features.denseblock10"])
        XCTAssertEqual(FreezeList(["features.norm0", "features"]).canonical, ["features"])
    }

    func testTopLevelModulesAndTheReadersCheck() throws {
        let densenet = try ModelSpec.named("densenet121-se16")
        XCTAssertEqual(densenet.topLevelModules, [
            "features.conv0", "features.norm0", "features.denseblock1", "features.transition1", "features.denseblock2",
            "features.transition2", "features.denseblock3", "features.transition3", "features.denseblock4",
            "features.norm5", "classifier"])
        XCTAssertEqual(try ModelSpec.named("resnet50").topLevelModules, ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"])
        // Modules, what contains them and what is inside them pass (inside is checked when the network is built).
        XCTAssertNil(FreezeList(["features.conv0", "features.denseblock1.denselayer3", "features.denseblock4.se"]).problem(in: densenet))
        XCTAssertNil(FreezeList(["features"]).problem(in: densenet))
        XCTAssertEqual(FreezeList(["features.conv0", "features.denseblock5"]).problem(in: densenet),
                       .unknownPrefix("features.denseblock5", model: densenet.displayName, modules: densenet.topLevelModules))
        XCTAssertEqual(FreezeList(["features.denseblock"]).problem(in: densenet),
                       .unknownPrefix("features.denseblock", model: densenet.displayName, modules: densenet.topLevelModules))
        XCTAssertEqual(FreezeList(["features", "classifier"]).problem(in: densenet), .nothingTrains(model: densenet.displayName))
        let error = FreezeError.unknownPrefix("layer9", model: "resnet18", modules: ["conv1", "fc"])
        XCTAssertEqual(error.description, "training.freeze: 'layer9' matches no parameter of resnet18. Write prefixes of "
                       + "state_dict names (matched at a dot); the top-level modules are conv1, fc")
    }
}
