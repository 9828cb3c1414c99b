@testable import Report
import AblateCore
import Foundation
import XCTest

final class FigureTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-figures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testNiceScaleUsesOneTwoFiveSteps() {
        XCTAssertEqual(NiceScale.niceStep(span: 0.53, targetTicks: 6), 0.1, accuracy: 1e-12)
        XCTAssertEqual(NiceScale.niceStep(span: 9, targetTicks: 6), 2)
        XCTAssertEqual(NiceScale.niceStep(span: 1.1, targetTicks: 5), 0.5, accuracy: 1e-12)
        XCTAssertEqual(NiceScale.niceStep(span: 30, targetTicks: 6), 5)
        let scale = NiceScale(minimum: 0.41, maximum: 0.93, targetTicks: 6)
        XCTAssertEqual(scale.lower, 0.4, accuracy: 1e-12)
        XCTAssertEqual(scale.upper, 1.0, accuracy: 1e-12)
        XCTAssertEqual(scale.ticks.map { scale.label($0) }, ["0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"])
        let flat = NiceScale(minimum: 0.9, maximum: 0.9)
        XCTAssertLessThan(flat.lower, 0.9)
        XCTAssertGreaterThan(flat.upper, 0.9)
    }

    func testJitterIsDeterministicAndBounded() {
        let values = (1...50).map { Figures.jitter(seed: $0) }
        XCTAssertEqual(values, (1...50).map { Figures.jitter(seed: $0) })
        XCTAssertTrue(values.allSatisfy { (-1...1).contains($0) })
        XCTAssertEqual(Set(values.prefix(3)).count, 3, "first seeds land apart")
    }

    func testCurveDataAveragesFinishedSeedsOnly() throws {
        var input = SampleInput.make()
        let index = input.runs.firstIndex { $0.configuration == "DenseNet-121" && $0.seed == 2 }!
        input.runs[index].status = .interrupted
        let curves = ConfigurationCurves.from(input)
        let base = curves.first { $0.name == "DenseNet-121" }!
        XCTAssertEqual(base.seedCount, 2)
        let finished = input.runs.filter { $0.configuration == "DenseNet-121" && $0.status == .finished }
        let expected = try Statistics.mean(finished.map { $0.epochs[4].testAccuracy! })
        XCTAssertEqual(base.testAccuracy.mean[4], expected, accuracy: 1e-15)
        XCTAssertEqual(base.testAccuracy.std[4], try Statistics.sampleStandardDeviation(finished.map { $0.epochs[4].testAccuracy! }), accuracy: 1e-15)
    }

    func testTrainingCurvesPNGDecodesAtDoubleDensityAndIsNotBlank() throws {
        let url = directory.appendingPathComponent("curves.png")
        let file = try Figures.trainingCurves(SampleInput.make(), to: url)
        let png = try DecodedPNG(url)
        XCTAssertEqual(png.width, file.pixelWidth)
        XCTAssertEqual(png.height, file.pixelHeight)
        XCTAssertEqual(png.width, 2080, "1040 logical units at 2×")
        XCTAssertEqual(png.height % 2, 0)
        // Corners are background; each panel's plot area holds many colours (curves, bands, antialiasing).
        XCTAssertEqual(png.pixel(0, 0) & 0x00FF_FFFF, 0x00FF_FFFF)
        for panel in [(0.09, 0.45), (0.57, 0.93)] {
            let content = png.content(inFractions: panel.0, 0.12, panel.1, 0.7)
            XCTAssertGreaterThan(content.distinctColors, 100)
            XCTAssertGreaterThan(content.nonWhiteShare, 0.05)
        }
    }

    func testFinalAccuracyPNGDecodesAndIsNotBlank() throws {
        let url = directory.appendingPathComponent("final.png")
        let file = try Figures.finalAccuracy(SampleInput.make(), to: url)
        let png = try DecodedPNG(url)
        XCTAssertEqual([png.width, png.height], [file.pixelWidth, file.pixelHeight])
        let content = png.content(inFractions: 0.15, 0.1, 0.95, 0.75)
        XCTAssertGreaterThan(content.distinctColors, 50)
        XCTAssertGreaterThan(content.nonWhiteShare, 0.02)
    }

    func testFigureWithoutFinishedRunsThrows() {
        var input = SampleInput.make()
        for i in input.runs.indices { input.runs[i].status = .running }
        XCTAssertThrowsError(try Figures.trainingCurves(input, to: directory.appendingPathComponent("x.png")))
        XCTAssertThrowsError(try Figures.finalAccuracy(input, to: directory.appendingPathComponent("y.png")))
    }

    func testUnwritablePathThrows() {
        let url = directory.appendingPathComponent("missing-dir/curves.png")
        XCTAssertThrowsError(try Figures.trainingCurves(SampleInput.make(), to: url)) { error in
            guard case .cairo = error as? ReportError else { return XCTFail("expected a cairo error, got \(error)") }
        }
    }
}

final class FigureEdgeCaseTests: XCTestCase {
    /// Many configurations with long names, one of them with a single seed, one with none finished, 90 epochs.
    static func crowdedInput() -> ReportInput {
        var runs: [ReportRun] = []
        let names = ["DenseNet-121", "SE-DenseNet-121 reduction 16 all blocks", "SE-DenseNet-121 reduction 8",
                     "SE in transitions only", "SE-DenseNet-121 r=4 no BN", "DenseNet-121 wide growth 48", "unfinished one"]
        for (c, name) in names.enumerated() {
            let seeds = c == 2 ? [7] : [1, 2, 3]
            for seed in seeds {
                var rng = SplitMix64(state: UInt64(c * 100 + seed))
                let epochs = (1...90).map { e -> EpochMetrics in
                    let p = 1 - exp(-Double(e) / 20)
                    return EpochMetrics(epoch: e, trainLoss: 2 * (1 - p) + 0.1 + 0.02 * rng.gaussian(), trainAccuracy: min(1, 0.3 + 0.68 * p),
                                        testLoss: 2 * (1 - p) + 0.3 + 0.04 * rng.gaussian(),
                                        testAccuracy: min(1, max(0, 0.3 + (0.6 + 0.01 * Double(c)) * p + 0.01 * rng.gaussian())),
                                        learningRate: 0.001, seconds: 400, imagesPerSecond: 6)
                }
                runs.append(ReportRun(configuration: name, seed: seed, parameters: 7_000_000, multiplyAdds: 2_900_000_000,
                                      status: c == names.count - 1 ? .failed : .finished, epochs: epochs))
            }
        }
        return ReportInput(title: "crowded", runs: runs, baseline: names[0], targetAccuracy: 0.8,
                           classNames: ["Monkeypox", "Others"], positiveClass: 0)
    }

    func testCrowdedFiguresRenderAndDecode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-edge-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rendered = try renderReport(Self.crowdedInput(), outDir: directory)
        XCTAssertEqual(rendered.figures.count, 2)
        for figure in rendered.figures {
            let png = try DecodedPNG(figure.url)
            XCTAssertEqual([png.width, png.height], [figure.pixelWidth, figure.pixelHeight])
            XCTAssertGreaterThan(png.content(inFractions: 0.1, 0.1, 0.9, 0.6).distinctColors, 50)
        }
        let readme = try String(contentsOf: rendered.readme, encoding: .utf8)
        XCTAssertTrue(readme.contains("too few paired seeds"), "single-seed configuration cannot be tested")
        XCTAssertTrue(readme.contains("No test predictions recorded."))
        if let sample = ProcessInfo.processInfo.environment["ABLATE_REPORT_SAMPLE_DIR"] {
            try renderReport(Self.crowdedInput(), outDir: URL(fileURLWithPath: sample).appendingPathComponent("edge-cases"))
        }
    }
}
