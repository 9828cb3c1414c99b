import AblateCore
import Foundation
import XCTest
@testable import Report

final class ExternalTestTableTests: XCTestCase {
    /// Two images, one per class; `right` of them classified correctly.
    func result(_ name: String, right: Int, weights: PredictionKind = .last, leaked: Int = 0) -> ExternalTestResult {
        let first = Prediction(file: "a.jpg", label: 0, probabilities: right >= 1 ? [0.9, 0.1, 0, 0] : [0.1, 0.9, 0, 0])
        let second = Prediction(file: "b.jpg", label: 1, probabilities: right >= 2 ? [0.2, 0.8, 0, 0] : [0.6, 0.4, 0, 0])
        return ExternalTestResult(name: name, weights: weights, epoch: 10, predictions: [first, second],
                                  audit: ExternalAudit(trainFiles: 100, testFiles: 2, byteIdentical: leaked,
                                                       samePhotograph: 0, samePatient: 0))
    }

    func testSectionAveragesOverSeedsAndComparesWithTheBaseline() throws {
        var input = SampleInput.make()
        let right = [("DenseNet-121", [1, 1, 2]), ("SE-DenseNet-121 r=16", [2, 2, 2])]
        for (i, run) in input.runs.enumerated() {
            guard let counts = right.first(where: { $0.0 == run.configuration })?.1 else { continue }
            input.runs[i].externalTests = [result("clinic", right: counts[run.seed - 1])]
        }
        let text = try ReportTables.externalTests(input)
        XCTAssertTrue(text.contains("### clinic"), text)
        // DenseNet-121: accuracies 0.5, 0.5, 1.0 → mean 0.667, std 0.289; SE r=16: 1.0 on every seed.
        XCTAssertTrue(text.contains("| DenseNet-121         | last (epoch 10) |    3 |         0.667 ± 0.289"), text)
        XCTAssertTrue(text.contains("1.000 ± 0.000"), text)
        XCTAssertTrue(text.contains("Δ accuracy on clinic (last-epoch weights)"), text)
        XCTAssertTrue(text.contains("+0.333"), text)
        // The set's own bootstrap: 2 images. SE r=16 gets both right in every seed: a zero-width interval at 1;
        // DenseNet-121 gets image a right always and b in one seed of three: resamples of {a, a} score 1, of {b, b}
        // 1/3, so its interval runs from 1/3 to 1.
        XCTAssertTrue(text.contains("95% interval (bootstrap over 2 images)"), text)
        XCTAssertTrue(text.contains("[0.333, 1.000]"), text)
        XCTAssertTrue(text.contains("[1.000, 1.000]"), text)
        XCTAssertTrue(text.contains("95% interval of Δ (paired bootstrap over 2 images)"), text)
        XCTAssertFalse(text.contains("SE-DenseNet-121 r=8"), "a configuration without results is left out:\n\(text)")
        XCTAssertFalse(text.contains("Not an external test"), text)

        input.runs[0].externalTests = [result("clinic", right: 1, leaked: 1)]
        XCTAssertTrue(try ReportTables.externalTests(input).contains("**Not an external test:**"))
        let markdown = try reportMarkdown(input, generatedAt: Date(timeIntervalSince1970: 0))
        XCTAssertTrue(markdown.contains("## External test"), markdown)
    }

    func testNoExternalTestsNoSection() throws {
        let input = SampleInput.make()
        XCTAssertEqual(try ReportTables.externalTests(input), "")
        XCTAssertFalse(try reportMarkdown(input, generatedAt: Date()).contains("## External test"))
    }

    func testDuplicateResultsAreRefused() {
        var input = SampleInput.make()
        input.runs[0].externalTests = [result("clinic", right: 1), result("clinic", right: 2)]
        XCTAssertThrowsError(try input.validate()) { error in
            XCTAssertTrue("\(error)".contains("duplicate clinic"), "\(error)")
        }
    }
}
