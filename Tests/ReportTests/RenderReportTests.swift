@testable import Report
import AblateCore
import Foundation
import XCTest

final class RenderReportTests: XCTestCase {
    func testCSVQuotingFollowsRFC4180() throws {
        XCTAssertEqual(CSV.field("plain"), "plain")
        XCTAssertEqual(CSV.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSV.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSV.field("two\nlines"), "\"two\nlines\"")
        XCTAssertEqual(CSV.field("crlf\r\nx"), "\"crlf\r\nx\"")
        XCTAssertEqual(try CSV.render(header: ["a", "b"], rows: [["1", "x,y"]]), "a,b\r\n1,\"x,y\"\r\n")
        XCTAssertThrowsError(try CSV.render(header: ["a", "b"], rows: [["1"]]))
    }

    func testEpochCSVHasOneRowPerRunAndEpoch() throws {
        var input = SampleInput.make()
        input.runs[0].configuration = "DenseNet-121, \"plain\""
        input.configurationOrder[0] = input.runs[0].configuration
        input.baseline = nil
        input.runs.append(ReportRun(configuration: "queued", seed: 1, parameters: 1, multiplyAdds: 1, status: .running, epochs: []))
        let csv = try CSV.epochs(input)
        let lines = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1 + 9 * 10 + 1)
        XCTAssertEqual(lines[0], CSV.epochHeader.joined(separator: ","))
        XCTAssertTrue(lines[1].hasPrefix("\"DenseNet-121, \"\"plain\"\"\",1,finished,6957956,2865672192,1,"))
        XCTAssertEqual(lines.last, "queued,1,running,1,1,,,,,,,")
        // Values round-trip exactly.
        let firstTestAccuracy = Double(lines[1].components(separatedBy: ",").dropLast(2).last!)!
        XCTAssertEqual(firstTestAccuracy, input.runs[0].epochs[0].testAccuracy)
    }

    func testRenderReportWritesParsableMarkdownFiguresAndCSV() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = SampleInput.make()
        let date = Date(timeIntervalSince1970: 1_790_000_000)
        let rendered = try renderReport(input, outDir: directory, generatedAt: date)

        let readme = try String(contentsOf: rendered.readme, encoding: .utf8)
        XCTAssertEqual(assertTablesWellFormed(readme), 1 + 1 + 1 + 2 + 3 + 1 + 1, "summary, comparison, per group, metrics and per run, 3 confusion, runs, compute")
        for name in [ReportFileName.trainingCurves, ReportFileName.finalAccuracy, ReportFileName.epochsCSV] {
            XCTAssertTrue(readme.contains("(\(name))"), "README links \(name)")
        }
        XCTAssertEqual(rendered.figures.count, 2)
        for figure in rendered.figures {
            let png = try DecodedPNG(figure.url)
            XCTAssertEqual([png.width, png.height], [figure.pixelWidth, figure.pixelHeight])
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: rendered.csv.path))

        // Figures are deterministic too: a second rendering writes byte-identical PNGs.
        let second = directory.appendingPathComponent("again")
        let again2 = try renderReport(input, outDir: second, generatedAt: date)
        for (a, b) in zip(rendered.figures, again2.figures) {
            XCTAssertEqual(try Data(contentsOf: a.url), try Data(contentsOf: b.url), a.url.lastPathComponent)
        }
        XCTAssertEqual(try Data(contentsOf: rendered.csv), try Data(contentsOf: again2.csv))

        // Same input, later clock: only the "Generated at" line differs.
        let again = try reportMarkdown(input, generatedAt: date.addingTimeInterval(3600))
        let differing = zip(readme.components(separatedBy: "\n"), again.components(separatedBy: "\n")).filter { $0 != $1 }
        XCTAssertEqual(differing.count, 1)
        XCTAssertTrue(differing.first?.0.hasPrefix("Generated at ") ?? false)

        // Lets the lead look at a sample: ABLATE_REPORT_SAMPLE_DIR=/tmp/report-sample swift test --filter ReportTests
        if let sample = ProcessInfo.processInfo.environment["ABLATE_REPORT_SAMPLE_DIR"] {
            try renderReport(input, outDir: URL(fileURLWithPath: sample), generatedAt: date)
        }
    }

    func testReportWithUnfinishedRunsStillRenders() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var input = SampleInput.make()
        input.runs[8].status = .running
        input.runs[8].epochs = Array(input.runs[8].epochs.prefix(3))
        input.runs[8].predictions = []
        let rendered = try renderReport(input, outDir: directory)
        let readme = try String(contentsOf: rendered.readme, encoding: .utf8)
        XCTAssertGreaterThan(assertTablesWellFormed(readme), 5)
        XCTAssertTrue(readme.contains("running after 3 epochs"))
        XCTAssertTrue(readme.contains("running (not averaged)"))
    }
}
