@testable import Report
import AblateCore
import XCTest

final class ClassificationMetricsTests: XCTestCase {
    func testBinaryMetricsByHand() throws {
        // Positive class 0 (e.g. Monkeypox) among 3 classes. Labels / predictions:
        //   TP: (0,0) ×3; FN: (0,1), (0,2); FP: (1,0); TN: (1,1), (2,2), (2,1), (1,2)
        let labels = [0, 0, 0, 0, 0, 1, 1, 2, 2, 1]
        let predicted = [0, 0, 0, 1, 2, 0, 1, 2, 1, 2]
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.6, 0.1, 0.05, 0.2, 0.3]
        let m = try ClassificationMetrics.binary(labels: labels, predicted: predicted, positiveScores: scores, positiveClass: 0)
        XCTAssertEqual([m.truePositives, m.falseNegatives, m.falsePositives, m.trueNegatives], [3, 2, 1, 4])
        XCTAssertEqual(m.sensitivity!, 3.0 / 5, accuracy: 1e-15)   // TP/(TP+FN)
        XCTAssertEqual(m.specificity!, 4.0 / 5, accuracy: 1e-15)   // TN/(TN+FP)
        XCTAssertEqual(m.precision!, 3.0 / 4, accuracy: 1e-15)     // TP/(TP+FP)
        XCTAssertEqual(m.f1!, 2 * 0.75 * 0.6 / (0.75 + 0.6), accuracy: 1e-15)
        XCTAssertEqual(m.accuracy!, 7.0 / 10, accuracy: 1e-15)
        // AUC by hand: positives {.9,.8,.7,.3,.2}, negatives {.6,.1,.05,.2,.3}:
        //   .9,.8,.7 beat all 5 → 15; .3 beats .1,.05,.2 and ties .3 → 3.5; .2 beats .1,.05, ties .2 → 2.5. 21/25.
        XCTAssertEqual(m.rocAUC!, 21.0 / 25, accuracy: 1e-15)
    }

    func testRocAUCWithTiesMatchesScipy() throws {
        // scipy.stats.mannwhitneyu(pos, neg).statistic / (6 * 7) = 34 / 42 = 0.8095238095238095
        let auc = try ClassificationMetrics.rocAUC(positiveScores: [0.9, 0.8, 0.8, 0.55, 0.4, 0.7],
                                                   negativeScores: [0.1, 0.8, 0.3, 0.4, 0.6, 0.2, 0.55])
        XCTAssertEqual(auc, 0.8095238095238095, accuracy: 1e-15)
        XCTAssertEqual(try ClassificationMetrics.rocAUC(positiveScores: [0.5, 0.5], negativeScores: [0.5]), 0.5)
        XCTAssertThrowsError(try ClassificationMetrics.rocAUC(positiveScores: [], negativeScores: [0.5]))
    }

    func testUndefinedMetricsAreNil() throws {
        // No positives at all and none predicted: sensitivity, precision, F1 and AUC are undefined.
        let m = try ClassificationMetrics.binary(labels: [1, 1], predicted: [1, 1], positiveScores: [0.1, 0.2], positiveClass: 0)
        XCTAssertNil(m.sensitivity)
        XCTAssertNil(m.precision)
        XCTAssertNil(m.f1)
        XCTAssertNil(m.rocAUC)
        XCTAssertEqual(m.specificity, 1)
    }

    func testBinaryFromPredictionsUsesPositiveProbability() throws {
        let predictions = [
            Prediction(file: "a", label: 0, probabilities: [0.7, 0.2, 0.1]),
            Prediction(file: "b", label: 1, probabilities: [0.4, 0.5, 0.1]),
            Prediction(file: "c", label: 2, probabilities: [0.6, 0.1, 0.3]),
        ]
        let m = try ClassificationMetrics.binary(predictions: predictions, positiveClass: 0)
        XCTAssertEqual([m.truePositives, m.falsePositives, m.trueNegatives, m.falseNegatives], [1, 1, 1, 0])
        XCTAssertEqual(m.rocAUC, 1)  // 0.7 beats 0.4 and 0.6
        XCTAssertThrowsError(try ClassificationMetrics.binary(predictions: predictions, positiveClass: 3))
    }

    func testConfusionMatrix() throws {
        let m = try ClassificationMetrics.confusionMatrix(labels: [0, 0, 1, 2, 2, 2], predicted: [0, 1, 1, 2, 0, 2], classCount: 3)
        XCTAssertEqual(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
        XCTAssertThrowsError(try ClassificationMetrics.confusionMatrix(labels: [3], predicted: [0], classCount: 3))
    }
}
