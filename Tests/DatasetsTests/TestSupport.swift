import Foundation
import XCTest
@testable import Datasets

/// Paths and small files shared by the Datasets tests.
enum Fixtures {
    /// The package root (three levels above this file).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/data/monkeypox` relative to the package root, or XCTSkip when it is missing.
    static func monkeypox() throws -> String {
        let path = packageRoot.appendingPathComponent("../shared/data/monkeypox").standardized.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is missing: the real-dataset tests need the MSLD monkeypox images "
                          + "(../shared/data/monkeypox relative to the package root)")
        }
        return path
    }

    /// A smooth test image with some structure (not constant, so resizes and crops are visible).
    static func gradient(width: Int, height: Int, seed: Int = 0) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8((x * 255) / max(1, width - 1))
                pixels[i + 1] = UInt8((y * 255) / max(1, height - 1))
                pixels[i + 2] = UInt8((x * 7 + y * 13 + seed * 31) % 256)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static func solid(width: Int, height: Int, _ rgb: (UInt8, UInt8, UInt8)) -> RGBImage {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(width * height * 3)
        for _ in 0..<(width * height) { pixels += [rgb.0, rgb.1, rgb.2] }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// A fresh temporary folder, deleted when the test case ends.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ablate-datasets-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        // Make chmod-000 leftovers removable.
        if let items = FileManager.default.enumerator(atPath: path) {
            for case let item as String in items { chmod(path + "/" + item, 0o755) }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `bytes` at `relative` (creating folders) and returns the full path.
    @discardableResult
    func write(_ bytes: [UInt8], to relative: String) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        return full
    }

    func makeFolder(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }

    /// `perClass` JPEGs in each of `classes` class folders.
    func writeClasses(_ classes: [String], perClass: Int, size: Int = 16, under prefix: String = "") throws {
        for (c, name) in classes.enumerated() {
            for i in 0..<perClass {
                let image = Fixtures.gradient(width: size, height: size, seed: c * 100 + i)
                try write(try ImageEncoder.jpeg(image), to: "\(prefix)\(name)/\(name)_\(i)_0.jpg")
            }
        }
    }
}

/// Asserts that `body` throws a `DatasetError` whose text contains every fragment.
func assertDatasetError<T>(_ body: @autoclosure () throws -> T, contains fragments: [String],
                           file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a DatasetError", file: file, line: line)
    } catch let error as DatasetError {
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'",
                          file: file, line: line)
        }
    } catch {
        XCTFail("expected a DatasetError, got \(error)", file: file, line: line)
    }
}
