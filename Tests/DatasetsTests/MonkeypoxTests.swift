import XCTest
@testable import Datasets

/// Tests on the real dataset (skipped with a message when ../shared/data/monkeypox is missing).
final class MonkeypoxTests: XCTestCase {
    func testCountsAndClassNames() throws {
        let index = try ImageFolder.scan(try Fixtures.monkeypox())
        XCTAssertEqual(index.classNames, ["Monkeypox", "Others"])
        XCTAssertEqual(index.countsPerClass, [980, 1162])
        XCTAssertEqual(index.files.count, 2142)
        XCTAssertTrue(index.skipped.isEmpty)
    }

    func testRandomSplitLeaksAndPhotoGroupedSplitDoesNot() throws {
        let index = try ImageFolder.scan(try Fixtures.monkeypox())
        let random = try DatasetSplit(files: index.files, config: SplitConfig(strategy: .random, testFraction: 0.2, seed: 1, groupKey: nil))
        let leaky = try LeakageAudit(files: index.files, split: random, groupKey: .photo)
        XCTAssertEqual(leaky.testFiles, 428)
        XCTAssertGreaterThan(leaky.testByteIdenticalInTrain, 10, "163 groups of identical files: some straddle")
        XCTAssertGreaterThan(leaky.testGroupSharedWithTrain, 300, "almost every test photo has copies in train")

        for rule in [GroupKeyRule.photo, .patient] {
            let grouped = try DatasetSplit(files: index.files, config: SplitConfig(strategy: .grouped, testFraction: 0.2, seed: 1, groupKey: rule))
            let audit = try LeakageAudit(files: index.files, split: grouped)
            XCTAssertEqual(audit.testByteIdenticalInTrain, 0, rule.name)
            XCTAssertEqual(audit.testGroupSharedWithTrain, 0, rule.name)
            XCTAssertEqual(Double(audit.testFiles) / 2142, 0.2, accuracy: 0.03, rule.name)
        }
    }

    func testWholeDatasetDecodesIntoTheCache() throws {
        let index = try ImageFolder.scan(try Fixtures.monkeypox())
        let cache = try ImageCache(index: index, options: ImageLoadOptions(size: 224, strict: true))
        XCTAssertEqual(cache.count, 2142)
        XCTAssertEqual(cache.labels.filter { $0 == 1 }.count, 1162)
        // Same pixels as the direct decode (the 224×224 files are copied, not resampled).
        let first = cache.files.firstIndex { $0.fileName == "M01_01_00.jpg" }!
        XCTAssertEqual(cache.image(first).pixels.reduce(0) { $0 + Int($1) }, 24_238_047)
    }
}
