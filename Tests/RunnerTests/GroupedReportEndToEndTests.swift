import Foundation
import XCTest

/// A test set of augmented copies, end to end: the report counts the originals the test set holds and runs
/// McNemar's test clustered by original, not image by image.
extension EndToEndTests {
    func testReportOnAGroupedSplitCountsOriginalsNotCopies() throws {
        // 2 classes × 6 patients × 4 copies, named like the monkeypox set (`<patient>_<photo>_<copy>.jpg`).
        let synth = try run(["data", "synth", "--out", "synth", "--classes", "2", "--per-class", "24", "--size", "32", "--seed", "3"])
        XCTAssertEqual(synth.status, 0, synth.output)
        for (c, prefix) in ["class0": "A", "class1": "B"] {
            let from = dir.appendingPathComponent("synth/\(c)"), to = dir.appendingPathComponent("data/\(c)")
            try FileManager.default.createDirectory(at: to, withIntermediateDirectories: true)
            let files = try FileManager.default.contentsOfDirectory(atPath: from.path).filter { !$0.hasPrefix(".") }.sorted()
            XCTAssertEqual(files.count, 24, "\(files)")
            for (i, f) in files.enumerated() {
                let name = String(format: "%@%02d_01_%02d.", prefix, i / 4, i % 4) + (f as NSString).pathExtension
                try FileManager.default.copyItem(at: from.appendingPathComponent(f), to: to.appendingPathComponent(name))
            }
        }
        let text = """
            name: copies
            data:
              path: data
              size: 32
              split: {protocol: grouped, group: patient, test_fraction: 0.34}
            training:
              epochs: 1
              batch_size: 8
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              threads: 1
            model: {name: custom, growth_rate: 4, block_config: [2, 2], init_channels: 8}
            matrix:
              seed: [1, 2]
              model:
                - {name: custom, growth_rate: 4, block_config: [2, 2], init_channels: 8}
                - {name: custom-se2, growth_rate: 4, block_config: [2, 2], init_channels: 8}
            """
        try text.write(to: dir.appendingPathComponent("copies.yaml"), atomically: true, encoding: .utf8)
        let r = try run(["run", "copies.yaml", "--db", "c.sqlite"])
        XCTAssertEqual(r.status, 0, r.output)
        let report = try run(["report", "--db", "c.sqlite", "--out", "report"])
        XCTAssertEqual(report.status, 0, report.output)
        let readme = try String(contentsOf: dir.appendingPathComponent("report/README.md"), encoding: .utf8)

        // 4 of the 12 patients are held out (test_fraction 0.34 of the groups' files, at least one per class).
        let lines = readme.components(separatedBy: "\n")
        let splitHeader = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("| split ") }, readme)
        let header = markdownCells(lines[splitHeader]), row = markdownCells(lines[splitHeader + 2])
        let testFiles = try XCTUnwrap(Int(row[header.firstIndex(of: "test files")!]))
        let testGroups = try XCTUnwrap(Int(row[header.firstIndex(of: "test groups")!]))
        XCTAssertEqual(testFiles, testGroups * 4, "each held-out patient brings its 4 copies: \(row)")
        XCTAssertEqual(row[header.firstIndex(of: "group key")!], "patient")
        XCTAssertTrue(readme.contains("| McNemar per seed (clustered by patient) "), readme)
        XCTAssertTrue(readme.contains("the \(testFiles) test images are copies of \(testGroups) patients"), readme)
    }
}

/// The cells of one markdown table row, trimmed.
private func markdownCells(_ line: String) -> [String] {
    line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
        .map { $0.trimmingCharacters(in: .whitespaces) }
}
