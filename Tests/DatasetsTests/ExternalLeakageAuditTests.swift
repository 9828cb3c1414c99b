import Foundation
import XCTest
@testable import Datasets

final class ExternalLeakageAuditTests: XCTestCase {
    /// Byte copies are found whatever their name; photograph and patient keys only between names that follow the
    /// monkeypox scheme (`M01_02_07.jpg`), so two folders that both hold an `image-1.jpg` do not count.
    func testCountsCopiesPhotographsAndPatients() throws {
        let folder = try TemporaryFolder()
        func file(_ relative: String, _ byte: UInt8, label: Int = 0) throws -> ImageFile {
            ImageFile(path: try folder.write([UInt8](repeating: byte, count: 64) + [byte &+ 1], to: relative), label: label)
        }
        let train = [try file("train/M/M01_02_07.jpg", 1), try file("train/M/M01_03_01.jpg", 2),
                     try file("train/O/NM05_01_00.jpg", 3, label: 1), try file("train/O/image-1.jpg", 4, label: 1)]
        let test = [
            try file("ext/M/renamed.jpg", 1),                 // bytes of M01_02_07: a copy
            try file("ext/M/M01_02_09.jpg", 5),               // same photograph M01_02 (and patient M01)
            try file("ext/M/M01_09_00.jpg", 6),               // same patient M01 only
            try file("ext/O/NM99_01_00.jpg", 7, label: 1),    // nothing shared
            try file("ext/O/image-1.jpg", 8, label: 1),       // same name, other bytes, no naming scheme
        ]
        let audit = try ExternalLeakageAudit(test: test, train: train)
        XCTAssertEqual(audit, ExternalLeakageAudit(trainFiles: 4, testFiles: 5, testByteIdenticalInTrain: 1,
                                                   testPhotoSharedWithTrain: 1, testPatientSharedWithTrain: 2,
                                                   skippedFiles: 0))
        XCTAssertTrue(audit.leaks)
        let clean = try ExternalLeakageAudit(test: Array(test.suffix(2)), train: train)
        XCTAssertFalse(clean.leaks)
        let json = String(decoding: try JSONEncoder().encode(audit), as: UTF8.self)
        XCTAssertTrue(json.contains("\"test_patient_shared_with_train\":2"), json)
    }

    func testMatchedKeyIsNilForNamesOutsideTheScheme() throws {
        let patient = try GroupKeyRule.patient.matcher()
        XCTAssertEqual(patient.matchedKey(forFileName: "M01_02_07.jpg"), "M01")
        XCTAssertNil(patient.matchedKey(forFileName: "image-1.jpg"))
        XCTAssertEqual(patient.key(forFileName: "image-1.jpg"), "image-1", "unmatched names are their own group")
    }

    /// Training data needs two classes; a test folder is scanned with one allowed, so `evaluate` can name the
    /// class it lacks instead of talking about training.
    func testScanAcceptsOneClassOnlyWhenAsked() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["Monkeypox"], perClass: 2)
        assertDatasetError(try ImageFolder.scan(folder.path), contains: ["at least two classes"])
        XCTAssertEqual(try ImageFolder.scan(folder.path, minimumClasses: 1).classNames, ["Monkeypox"])
    }
}
