// Test sets made of augmented copies: McNemar's test takes each original photograph's copies as one cluster.
import AblateCore
import Foundation
@testable import Report
import XCTest

final class GroupedTestSetTests: XCTestCase {
    /// 10 photographs × 20 copies. Both seeds: the candidate is wrong on every copy of two photographs the
    /// baseline gets right. Image by image that is 40 discordant images against 0 (p ≈ 2e-12); clustered by
    /// photograph it is two clusters of −20, p = 0.5 — the evidence the test set really holds.
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
        XCTAssertEqual(header[6], "McNemar per seed (clustered by photo)")
        XCTAssertEqual(header[4], "95% interval of Δ (paired bootstrap over 10 photos)")
        let row = markdownCells(grouped.components(separatedBy: "\n").first { $0.hasPrefix("| se ") }!)
        XCTAssertEqual(row[6], "seed 1: p = 0.500; seed 2: p = 0.500")
        XCTAssertTrue(grouped.contains("the 200 test images are copies of 10 photos"), grouped)

        let imageLevel = try ReportTables.comparison(input(grouped: false), baseline: "base")
        let imageRow = markdownCells(imageLevel.components(separatedBy: "\n").first { $0.hasPrefix("| se ") }!)
        XCTAssertEqual(imageRow[6], "seed 1: p < 0.001; seed 2: p < 0.001")
        XCTAssertTrue(imageLevel.contains("image by image"))
        XCTAssertEqual(markdownCells(imageLevel.components(separatedBy: "\n")[0])[6], "McNemar per seed")

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
