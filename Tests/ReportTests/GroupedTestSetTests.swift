// Test sets made of augmented copies: McNemar's test counts one case per original photograph, not per image.
import AblateCore
import Foundation
@testable import Report
import XCTest

final class GroupedTestSetTests: XCTestCase {
    func testPoolingAveragesEachGroupsCopies() {
        let predictions = [
            Prediction(file: "t/M/M01_01_00.jpg", label: 0, probabilities: [0.9, 0.1]),
            Prediction(file: "t/M/M01_01_01.jpg", label: 0, probabilities: [0.3, 0.7]),
            Prediction(file: "t/M/M01_01_02.jpg", label: 0, probabilities: [0.6, 0.4]),
            Prediction(file: "t/O/NM02_01_00.jpg", label: 1, probabilities: [0.2, 0.8]),
            Prediction(file: "t/O/NM02_01_01.jpg", label: 1, probabilities: [0.4, 0.6]),
            Prediction(file: "t/O/loose.jpg", label: 1, probabilities: [0.7, 0.3]),
        ]
        let grouping = TestGrouping(unit: "photo", groupOfFile: [
            "t/M/M01_01_00.jpg": "M01_01", "t/M/M01_01_01.jpg": "M01_01", "t/M/M01_01_02.jpg": "M01_01",
            "t/O/NM02_01_00.jpg": "NM02_01", "t/O/NM02_01_01.jpg": "NM02_01",
        ])
        let pooled = predictions.pooled(by: grouping)
        XCTAssertEqual(pooled.map(\.file), ["M01_01#0", "NM02_01#1", "t/O/loose.jpg#1"])
        XCTAssertEqual(pooled.map(\.label), [0, 1, 1])
        XCTAssertEqual(pooled[0].probabilities[0], 0.6, accuracy: 1e-12)   // (0.9 + 0.3 + 0.6) / 3
        XCTAssertEqual(pooled[1].probabilities[1], 0.7, accuracy: 1e-12)   // (0.8 + 0.6) / 2
        XCTAssertEqual(pooled[2].probabilities, [0.7, 0.3], "a file outside the map is its own case")
        XCTAssertEqual(Array(predictions.reversed()).pooled(by: grouping), pooled, "order of the input does not matter")
    }

    /// 10 photographs × 20 copies. Both seeds: the candidate is wrong on every copy of two photographs the
    /// baseline gets right. Image by image that is 40 discordant images against 0 (p ≈ 2e-12); per photograph it
    /// is 2 against 0, p = 0.5 — the evidence the test set really holds.
    func testMcNemarCountsOneCasePerPhotographWhenImagesAreCopies() throws {
        var files: [String] = [], groupOfFile: [String: String] = [:], labels: [Int] = []
        for photo in 0..<10 {
            for copy in 0..<20 {
                let file = "test/P\(photo)_01_\(copy).jpg"
                files.append(file); groupOfFile[file] = "P\(photo)_01"; labels.append(photo % 2)
            }
        }
        func predictions(wrongPhotos: Set<Int>) -> [Prediction] {
            files.indices.map { i in
                let wrong = wrongPhotos.contains(i / 20)
                let p = wrong ? 0.2 : 0.8
                return Prediction(file: files[i], label: labels[i], probabilities: labels[i] == 0 ? [p, 1 - p] : [1 - p, p])
            }
        }
        func run(_ name: String, seed: Int, wrong: Set<Int>, grouped: Bool) -> ReportRun {
            let preds = predictions(wrongPhotos: wrong)
            let accuracy = Double(preds.filter { $0.predicted == $0.label }.count) / Double(preds.count)
            let epoch = EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.5, testAccuracy: accuracy,
                                     learningRate: 0.001, seconds: 10, imagesPerSecond: 20)
            return ReportRun(configuration: name, seed: seed, parameters: 1, multiplyAdds: 1, status: .finished,
                             epochs: [epoch], predictions: preds,
                             testGrouping: grouped ? TestGrouping(unit: "photo", groupOfFile: groupOfFile) : nil)
        }
        func input(grouped: Bool) -> ReportInput {
            ReportInput(title: "copies", runs: [
                run("base", seed: 1, wrong: [], grouped: grouped), run("base", seed: 2, wrong: [9], grouped: grouped),
                run("se", seed: 1, wrong: [0, 1], grouped: grouped), run("se", seed: 2, wrong: [0, 1, 9], grouped: grouped),
            ], configurationOrder: ["base", "se"], baseline: "base", targetAccuracy: 0.89, classNames: ["a", "b"], positiveClass: 0)
        }
        let grouped = try ReportTables.comparison(input(grouped: true), baseline: "base")
        let header = markdownCells(grouped.components(separatedBy: "\n")[0])
        XCTAssertEqual(header[5], "McNemar per seed (per photo)")
        let row = markdownCells(grouped.components(separatedBy: "\n").first { $0.hasPrefix("| se ") }!)
        XCTAssertEqual(row[5], "seed 1: p = 0.500; seed 2: p = 0.500")
        XCTAssertTrue(grouped.contains("the 200 test images are copies of 10 photos"), grouped)

        let imageLevel = try ReportTables.comparison(input(grouped: false), baseline: "base")
        let imageRow = markdownCells(imageLevel.components(separatedBy: "\n").first { $0.hasPrefix("| se ") }!)
        XCTAssertEqual(imageRow[5], "seed 1: p < 0.001; seed 2: p < 0.001")
        XCTAssertTrue(imageLevel.contains("image by image"))
        XCTAssertEqual(markdownCells(imageLevel.components(separatedBy: "\n")[0])[5], "McNemar per seed")

        // A grouping on only some runs cannot be applied to a pair: the tests count images.
        var mixed = input(grouped: true)
        mixed.runs[0].testGrouping = nil
        XCTAssertNil(mixed.sharedTestGrouping)
    }

    func testSplitTableSaysHowManyOriginalsTheTestSetHolds() {
        var input = SampleInput.make()
        input.dataSplits = [DataSplitNote(description: "grouped, test 20%, by patient, seed 0", trainFiles: 1708, testFiles: 434,
                                          testByteIdenticalInTrain: 0, testGroupSharedWithTrain: 0, groupKey: "patient",
                                          skippedFiles: 0, testGroups: 23),
                            DataSplitNote(description: "random", trainFiles: 10, testFiles: 5, testByteIdenticalInTrain: 0,
                                          testGroupSharedWithTrain: 0, groupKey: "photo", skippedFiles: 0)]
        let lines = ReportTables.dataSplits(input).components(separatedBy: "\n")
        let header = markdownCells(lines[0])
        let column = header.firstIndex(of: "test groups")!
        XCTAssertEqual(markdownCells(lines[2])[column], "23")
        XCTAssertEqual(markdownCells(lines[3])[column], "—")
    }
}
