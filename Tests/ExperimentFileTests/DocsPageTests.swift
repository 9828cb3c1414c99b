import AblateCore
import Foundation
import XCTest
@testable import ExperimentFile

/// docs/experiment-file.md is the one description of the experiment file: its reference table is the one the
/// settings' declarations generate, and every YAML example on it is an experiment the parser accepts.
final class DocsPageTests: XCTestCase {
    static let page = packageRoot.appendingPathComponent("docs/experiment-file.md")
    static let begin = "<!-- reference: generated from the settings' declarations by ExperimentSchema.referenceTable(); "
        + "regenerate with ABLATE_UPDATE_DOCS=1 swift test --filter DocsPageTests -->"
    static let end = "<!-- end of reference -->"

    func testReferenceTableIsTheDeclaredOne() throws {
        let text = try String(contentsOf: Self.page, encoding: .utf8)
        guard let b = text.range(of: Self.begin), let e = text.range(of: Self.end), b.upperBound <= e.lowerBound else {
            return XCTFail("docs/experiment-file.md lacks the reference markers:\n\(Self.begin)\n\(Self.end)")
        }
        let table = String(text[b.upperBound..<e.lowerBound]).trimmingCharacters(in: .newlines) + "\n"
        let expected = ExperimentSchema.referenceTable()
        if table != expected, ProcessInfo.processInfo.environment["ABLATE_UPDATE_DOCS"] == "1" {
            let updated = String(text[..<b.upperBound]) + "\n" + expected + String(text[e.lowerBound...])
            try updated.write(to: Self.page, atomically: true, encoding: .utf8)
            return
        }
        XCTAssertEqual(table, expected, "the reference table is out of date: ABLATE_UPDATE_DOCS=1 swift test --filter DocsPageTests")
        // Every key of the file is on the page, by its dotted path.
        for path in ExperimentSchema.keyPaths {
            XCTAssertTrue(text.contains("`\(path)`"), "docs/experiment-file.md does not mention `\(path)`")
        }
    }

    /// Each ```yaml block of the page is a whole experiment file that parses (data folders are not checked).
    func testEveryYAMLExampleParses() throws {
        let text = try String(contentsOf: Self.page, encoding: .utf8)
        var blocks: [(line: Int, text: String)] = []
        var current: [String]?, start = 0
        for (i, line) in text.components(separatedBy: "\n").enumerated() {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```yaml" {
                current = []; start = i + 2
            } else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append((start, current!.joined(separator: "\n"))); current = nil
            } else {
                current?.append(line)
            }
        }
        XCTAssertGreaterThanOrEqual(blocks.count, 5, "the page's examples")
        for block in blocks {
            do {
                let e = try Experiment.parse(text: block.text, file: "docs/experiment-file.md:\(block.line)",
                                             options: .init(checkDataExists: false))
                XCTAssertFalse(e.runs.isEmpty, "the example at line \(block.line) has no runs")
            } catch {
                XCTFail("the example at docs/experiment-file.md:\(block.line) does not parse:\n\(error)")
            }
        }
    }
}

/// The declarations themselves: each setting's example is a value it accepts (messages suggest them).
final class SettingDeclarationTests: XCTestCase {
    func testEveryExampleIsAValidValue() throws {
        for row in ExperimentSchema.rows {
            let info = row.info
            switch info.kind {
            case .section, .special: continue
            default: break
            }
            let diag = Diagnostics()
            let node = try XCTUnwrap(YAMLTree.parse("\(info.key): \(info.example)", file: row.path))
            let section = Section(node, path: "", allowed: [info.key], diag: diag)
            XCTAssertNotNil(section.read(info), row.path)
            XCTAssertEqual(diag.issues, [], row.path)
        }
    }

    /// The shorthands and the top-level keys come from the declarations.
    func testDerivedKeyLists() {
        XCTAssertEqual(ConfigReader.shorthands, ["model": "name", "training.optimizer": "name",
                                                 "training.schedule": "name", "data.split": "protocol"])
        XCTAssertEqual(ExperimentSchema.topKeys, ["name", "description", "seed", "data", "training", "model", "target", "report",
                                                  "tracking", "matrix"])
        XCTAssertEqual(OptimizerSection.keys, ["name", "lr", "momentum", "nesterov", "betas", "eps", "weight_decay",
                                              "head_lr_multiplier"])
        XCTAssertEqual(ModelSection.keys, ["name", "growth_rate", "block_config", "init_channels", "bn_size", "compression",
                                          "drop_rate", "se_placement", "block", "layers", "width", "se_reduction", "classes",
                                          "init_from"])
    }
}
