import Foundation
import XCTest

/// `../shared/reference` relative to the package root (found from this file's path, so `swift test` works from
/// any directory). Tests that need it skip with a message when it is missing — never pass silently.
enum Shared {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")

    static func reference(_ name: String) throws -> String {
        let path = root.appendingPathComponent("reference").appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("reference file \(path) is missing: ../shared/reference is needed for the PyTorch comparison tests")
        }
        return path
    }
}
