import Foundation
import XCTest
@testable import ExperimentFile

/// A test case whose experiment files are parsed against a fresh temporary folder with an empty `data/` in it (so
/// `data.path: data` exists), removed after each test.
class DataFolderTestCase: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-\(Self.self)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func parse(_ text: String) throws -> Experiment {
        try Experiment.parse(text: text, file: "t.yaml", options: .init(baseDirectory: dir.path))
    }

    /// Asserts that `text` is refused with an issue at `keyPath` whose problem and fix together contain each of
    /// `contains`.
    func expectIssue(_ text: String, keyPath: String, contains: [String], line: UInt = #line) {
        do {
            _ = try parse(text)
            XCTFail("expected an issue for \(keyPath)", line: line)
        } catch let error as ExperimentError {
            guard let issue = error.issues.first(where: { $0.keyPath == keyPath }) else {
                return XCTFail("no issue for \(keyPath) in:\n\(error.issues.map(\.description).joined(separator: "\n"))", line: line)
            }
            for word in contains {
                XCTAssertTrue(issue.description.contains(word), "'\(word)' missing from: \(issue.description)", line: line)
            }
        } catch {
            XCTFail("unexpected \(error)", line: line)
        }
    }
}
