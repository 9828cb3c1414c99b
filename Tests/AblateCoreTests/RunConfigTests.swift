import Foundation
import XCTest
@testable import AblateCore

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

final class RunConfigTests: XCTestCase {
    /// Every configuration in the committed results (reports/*/runs.json) decodes and encodes back to the same
    /// canonical JSON and config hash: stores and committed results are keyed by them.
    func testCommittedConfigurationsKeepTheirHashes() throws {
        let reports = packageRoot.appendingPathComponent("reports")
        let folders = try FileManager.default.contentsOfDirectory(atPath: reports.path)
        var checked = 0
        for folder in folders {
            let file = reports.appendingPathComponent(folder).appendingPathComponent("runs.json")
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            guard case .object(let doc) = try JSONValue.parse(text), case .array(let runs)? = doc["runs"] else {
                return XCTFail("\(file.path): not an export document")
            }
            for case .object(let run) in runs {
                let json = try XCTUnwrap(run["config_json"]?.stringValue, file.path)
                let hash = try XCTUnwrap(run["config_hash"]?.stringValue, file.path)
                let config = try RunConfig.decode(json: json)
                XCTAssertEqual(config.canonicalJSON, json, file.path)
                XCTAssertEqual(config.hash, hash, file.path)
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 0, "no committed runs.json found under reports/")
    }

    func testDecodingRefusesBrokenConfigurations() {
        XCTAssertThrowsError(try RunConfig.decode(json: "{\"seed\": 1}")) { error in
            XCTAssertTrue("\(error)".contains("config_version is missing"), "\(error)")
        }
        XCTAssertThrowsError(try RunConfig.decode(json: "{\"config_version\":1,\"seed\":\"x\"}")) { error in
            XCTAssertTrue("\(error)".contains("seed is not a whole number"), "\(error)")
        }
        XCTAssertThrowsError(try RunConfig.decode(json: "{\"config_version\":1,"))
    }

    /// Each section's keys are unique, and a setting that applies only sometimes is one that can be unset.
    func testDeclarationsAreConsistent() {
        func check<S: SettingsSection>(_ type: S.Type) {
            XCTAssertEqual(Set(S.settings.map(\.key)).count, S.settings.count, "\(S.self): duplicate keys")
            for s in S.settings where s.condition != nil {
                XCTAssertNotNil(s.clear, "\(S.self).\(s.key) applies only sometimes but cannot be unset")
            }
            for s in S.settings {
                if case let .section(child, _, _) = s.info.kind { open(child) }
            }
        }
        func open(_ type: any SettingsSection.Type) { check(type) }
        check(RunConfig.self)
    }

    func testJSONReadsWhatItWrites() throws {
        let value: JSONValue = .object(["a": .array([.int(-3), .double(1e-08), .double(0.1), .double(2.0)]),
                                        "b": .string("q\"\\\n\t\u{01}é😀"), "c": .bool(true), "d": .null, "e": .object([:])])
        XCTAssertEqual(try JSONValue.parse(value.canonical), value)
        XCTAssertEqual(try JSONValue.parse(value.pretty), value)
        XCTAssertEqual(try JSONValue.parse("\"\\ud83d\\ude00 \\u00e9\""), .string("😀 é"))
        XCTAssertEqual(try JSONValue.parse(" [1, 2.5e3] "), .array([.int(1), .double(2500)]))
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "tru", "1 2", "\"x", "-"] {
            XCTAssertThrowsError(try JSONValue.parse(bad), bad)
        }
    }

    /// A blank section (what reading and decoding start from) holds each declared default where its property has a
    /// value, so `RunConfig()` never disagrees with its declarations (it once seeded 0 against a declared 1).
    func testBlankSectionsHoldTheDeclaredDefaults() {
        func check<S: SettingsSection>(_ type: S.Type) {
            let blank = S()
            for s in S.settings {
                if case let .section(child, _, _) = s.info.kind { open(child); continue }
                guard !s.info.isRequired, let declared = s.fallback(blank), let value = s.get(blank) else { continue }
                XCTAssertEqual(value, declared, "\(S.self).\(s.key)")
            }
        }
        func open(_ type: any SettingsSection.Type) { check(type) }
        check(RunConfig.self)
    }

    /// The model names have one grammar (`ModelName`), and the presets one set of constants.
    func testModelNamesHaveOneGrammar() throws {
        XCTAssertEqual(ModelName("DenseNet121-SE16-Layer"),
                       { var n = ModelName("densenet121")!; n.seReduction = 16; n.sePlacement = .layer; return n }())
        XCTAssertEqual(ModelName("resnet-custom-se4")?.family, .resNet)
        XCTAssertEqual(ModelName("custom-se4-transition")?.base, "custom")
        for bad in ["densenet12", "resnet50-se16-layer", "densenet121-layer", "densenet121-se", "densenet121-se+4",
                    "resnet-customx", "custom-se4-layer-x", ""] {
            XCTAssertNil(ModelName(bad), bad)
        }
        XCTAssertThrowsError(try ModelSpec.named("custom"))
        XCTAssertThrowsError(try ModelSpec.named("densenet121-se0")) { XCTAssertTrue("\($0)".contains("at least 1"), "\($0)") }
        XCTAssertNil(ModelSpec.backboneWithoutSE(of: "custom-se4"), "custom names no one backbone")
        for (_, preset) in DenseNetConfig.presets {
            XCTAssertEqual([preset.bnSize, Int(preset.compression * 2)], [DenseNetConfig.standardBNSize, Int(DenseNetConfig.standardCompression * 2)])
            XCTAssertEqual(preset.dropRate, DenseNetConfig.standardDropRate)
        }
        for (_, preset) in ResNetConfig.presets { XCTAssertEqual(preset.width, ResNetConfig.standardWidth) }
        // The experiment file's size check and the network's shapes share one arithmetic.
        XCTAssertEqual(DenseNetConfig.densenet121.minimumInputSize, 29)
        XCTAssertEqual(DenseNetConfig.densenet121.featureSides(input: 224).blocks, [56, 28, 14, 7])
    }
}
