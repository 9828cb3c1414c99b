import XCTest
@testable import Datasets

final class SplitTests: XCTestCase {
    /// 2,142 fake files named like the monkeypox set: 5 augmentations of each photo, 2 photos per patient.
    private func fakeFiles(count: Int = 2142) -> [ImageFile] {
        (0..<count).map { i in
            let label = i < 980 ? 0 : 1
            let prefix = label == 0 ? "M" : "NM"
            let photo = i / 5, patient = photo / 2
            return ImageFile(path: "/data/\(prefix)/\(prefix)\(patient)_\(photo)_\(i % 5).jpg", label: label)
        }
    }

    private func assertPartition(_ split: DatasetSplit, count: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(split.train).intersection(split.test), [], file: file, line: line)
        XCTAssertEqual((split.train + split.test + split.validation).sorted(), Array(0..<count), file: file, line: line)
    }

    func testRandomSplitSizesLikeRandomSplitAndDeterministic() throws {
        let files = fakeFiles()
        let config = SplitConfig(strategy: .random, testFraction: 0.2, seed: 7, groupKey: nil)
        let split = try DatasetSplit(files: files, config: config)
        // floor(2142·0.8) = 1713, floor(2142·0.2) = 428, the remaining file goes to train first.
        XCTAssertEqual(split.train.count, 1714)
        XCTAssertEqual(split.test.count, 428)
        assertPartition(split, count: files.count)
        XCTAssertEqual(try DatasetSplit(files: files, config: config), split, "same seed, same split")
        XCTAssertNotEqual(try DatasetSplit(files: files, config: SplitConfig(strategy: .random, testFraction: 0.2, seed: 8, groupKey: nil)).test, split.test)
        let small = try DatasetSplit(files: Array(files.prefix(10)), config: SplitConfig(strategy: .random, testFraction: 0.3, seed: 1, groupKey: nil))
        XCTAssertEqual(small.test.count, 3)
    }

    func testStratifiedKeepsTheFractionPerClass() throws {
        let files = fakeFiles()
        let split = try DatasetSplit(files: files, config: SplitConfig(strategy: .stratified, testFraction: 0.2, seed: 3, groupKey: nil))
        let testLabels = split.test.map { files[$0].label }
        XCTAssertEqual(testLabels.filter { $0 == 0 }.count, 196)   // 980 · 0.2
        XCTAssertEqual(testLabels.filter { $0 == 1 }.count, 232)   // floor(1162 · 0.2)
        assertPartition(split, count: files.count)
    }

    func testGroupedSplitNeverSharesAGroup() throws {
        let files = fakeFiles()
        for rule in [GroupKeyRule.photo, .patient] {
            let split = try DatasetSplit(files: files, config: SplitConfig(strategy: .grouped, testFraction: 0.2, seed: 5, groupKey: rule))
            let matcher = try rule.matcher()
            let trainKeys = Set(split.train.map { matcher.key(forFileName: files[$0].fileName) })
            let testKeys = Set(split.test.map { matcher.key(forFileName: files[$0].fileName) })
            XCTAssertTrue(trainKeys.isDisjoint(with: testKeys), rule.name)
            XCTAssertEqual(Double(split.test.count) / Double(files.count), 0.2, accuracy: 0.03, rule.name)
            XCTAssertTrue(Set(split.test.map { files[$0].label }) == [0, 1], "both classes in test")
            assertPartition(split, count: files.count)
            let again = try DatasetSplit(files: files, config: split.config)
            XCTAssertEqual(again, split)
        }
    }

    func testGroupKeyPresetsAndCustomPattern() throws {
        XCTAssertEqual(try GroupKeyRule.photo.matcher().key(forFileName: "M01_02_07.jpg"), "M01_02")
        XCTAssertEqual(try GroupKeyRule.patient.matcher().key(forFileName: "M01_02_07.jpg"), "M01")
        XCTAssertEqual(try GroupKeyRule.named("^(..)").matcher().key(forFileName: "AB123.png"), "AB")
        XCTAssertEqual(try GroupKeyRule.photo.matcher().key(forFileName: "nounderscore.jpg"), "nounderscore")
        assertDatasetError(try GroupKeyRule.named("(unclosed"), contains: ["(unclosed", "regular expression"])
    }

    func testSplitConfigRoundTripsThroughJSON() throws {
        let config = SplitConfig(strategy: .grouped, testFraction: 0.25, seed: 42, groupKey: .patient)
        let decoded = try JSONDecoder().decode(SplitConfig.self, from: try JSONEncoder().encode(config))
        XCTAssertEqual(decoded, config)
    }

    func testBadFractionIsAnError() {
        assertDatasetError(try DatasetSplit(files: fakeFiles(count: 10), config: SplitConfig(strategy: .random, testFraction: 1.5, seed: 0, groupKey: nil)),
                           contains: ["1.5", "between 0 and 1"])
    }

    func testFoldersSplitReadsTrainTestVal() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["cat", "dog"], perClass: 3, under: "train/")
        try folder.writeClasses(["cat", "dog"], perClass: 1, under: "test/")
        try folder.writeClasses(["cat", "dog"], perClass: 2, under: "val/")
        let index = try ImageFolder.scan(folder.path, layout: .splitFolders)
        XCTAssertEqual(index.classNames, ["cat", "dog"])
        let split = try DatasetSplit(files: index.files, config: SplitConfig(strategy: .folders, testFraction: 0.2, seed: 0, groupKey: nil))
        XCTAssertEqual(split.train.count, 6)
        XCTAssertEqual(split.test.count, 2)
        XCTAssertEqual(split.validation.count, 4)
        XCTAssertTrue(split.test.allSatisfy { index.files[$0].path.contains("/test/") })
        // A plain class-folder scan cannot be split by folders.
        assertDatasetError(try DatasetSplit(files: try ImageFolder.scan(folder.path + "/train").files,
                                            config: SplitConfig(strategy: .folders, testFraction: 0.2, seed: 0, groupKey: nil)), contains: ["train/ and test/"])
    }

    func testFoldersSplitErrors() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["cat", "dog"], perClass: 2, under: "train/")
        assertDatasetError(try ImageFolder.scan(folder.path, layout: .splitFolders), contains: ["no test/ subfolder"])
        try folder.writeClasses(["cat", "emu"], perClass: 1, under: "test/")
        assertDatasetError(try ImageFolder.scan(folder.path, layout: .splitFolders), contains: ["cat, emu", "cat, dog"])
    }
}

final class LeakageAuditTests: XCTestCase {
    func testAuditCountsPlantedDuplicatesAndSharedGroups() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 3, under: "train/")
        try folder.writeClasses(["a", "b"], perClass: 1, under: "test/")
        // One exact copy of a training file in test (name from another group), and one new image sharing a group.
        let copy = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/train/a/a_2_0.jpg"))
        try folder.write(Array(copy), to: "test/b/zz_9_0.jpg")
        try folder.write(try ImageEncoder.jpeg(Fixtures.gradient(width: 16, height: 16, seed: 99)), to: "test/a/a_1_5.jpg")
        let index = try ImageFolder.scan(folder.path, layout: .splitFolders)
        let split = try DatasetSplit(files: index.files, config: SplitConfig(strategy: .folders, testFraction: 0.2, seed: 0, groupKey: nil))
        let audit = try LeakageAudit(files: index.files, split: split, groupKey: .photo)
        XCTAssertEqual(audit.trainFiles, 6)
        XCTAssertEqual(audit.testFiles, 4)
        // test/a/a_0_0 and test/b/b_0_0 are rendered and encoded exactly like their train namesakes, plus the copy.
        XCTAssertEqual(audit.testByteIdenticalInTrain, 3)
        // Shared photo groups: a_0, b_0 and a_1 (a_1_5); the copy's group zz_9 exists only in test.
        XCTAssertEqual(audit.testGroupSharedWithTrain, 3)
        XCTAssertEqual(audit.skippedFiles, 0)
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(audit)) as! [String: Any]
        for key in ["train_files", "test_files", "test_byte_identical_in_train", "test_group_shared_with_train",
                    "skipped_files"] {
            XCTAssertNotNil(json[key], key)
        }
        XCTAssertEqual(try JSONDecoder().decode(LeakageAudit.self, from: try JSONEncoder().encode(audit)), audit)
    }
}
