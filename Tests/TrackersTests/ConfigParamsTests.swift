@testable import Trackers
import XCTest

final class ConfigParamsTests: XCTestCase {
    func testFlattensToDottedKeysWithFileValues() throws {
        let params = try ConfigParams.flatten(configJSON: """
            {"model":{"name":"custom","block_config":[2,2]},"training":{"optimizer":{"lr":0.05,"nesterov":true}},"seed":1,"note":null}
            """)
        XCTAssertEqual(params.map(\.key), ["model.block_config", "model.name", "note", "seed", "training.optimizer.lr",
                                           "training.optimizer.nesterov"])
        XCTAssertEqual(params.map(\.value), ["[2, 2]", "custom", "null", "1", "0.05", "true"])
    }

    func testRunFolderNamesAreSafe() {
        XCTAssertEqual(RunFolderName.safe("model.name=custom,training.optimizer.lr=0.1", fallback: "run"),
                       "model.name=custom,training.optimizer.lr=0.1")
        XCTAssertEqual(RunFolderName.safe("../a/b c", fallback: "run"), "_a_b_c")
        XCTAssertEqual(RunFolderName.safe("", fallback: "run"), "run")
        let long = RunFolderName.safe(String(repeating: "x", count: 300), fallback: "run")
        XCTAssertLessThanOrEqual(long.utf8.count, 200)
    }
}
