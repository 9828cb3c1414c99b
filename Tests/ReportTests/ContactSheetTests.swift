import AblateCore
import Foundation
@testable import Report
import XCTest

/// The near-duplicate contact sheet: a PNG with both pictures of each pair, linked from the split section.
final class ContactSheetTests: XCTestCase {
    func testPairsAreDrawnAndLinked() throws {
        func square(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Thumbnail {
            Thumbnail(width: 8, height: 6, rgb: (0..<48).flatMap { _ in [r, g, b] })
        }
        var input = SampleInput.make()
        input.dataSplits = [DataSplitNote(description: "random, test 20%", trainFiles: 320, testFiles: 80,
                                          testByteIdenticalInTrain: 0, testGroupSharedWithTrain: 0, groupKey: "photo",
                                          skippedFiles: 0)]
        input.nearDuplicatePairs = [
            NearDuplicatePairPicture(query: "a.jpg", reference: "b.jpg", queryPicture: square(255, 0, 0),
                                     referencePicture: square(0, 0, 255), caption: "Hamming 1 · r 0.990 · flagged (phash)",
                                     flagged: true),
            NearDuplicatePairPicture(query: "c.jpg", reference: "d.jpg", queryPicture: nil, referencePicture: square(0, 255, 0),
                                     caption: "Hamming 20 · r 0.500 · not flagged", flagged: false),
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sheet-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rendered = try renderReport(input, outDir: directory, generatedAt: Date(timeIntervalSince1970: 0))
        let sheet = try XCTUnwrap(rendered.figures.first { $0.url.lastPathComponent == ReportFileName.nearDuplicates })
        let png = try DecodedPNG(sheet.url)
        XCTAssertEqual([png.width, png.height], [sheet.pixelWidth, sheet.pixelHeight])
        let readme = try String(contentsOf: rendered.readme, encoding: .utf8)
        XCTAssertTrue(readme.contains("(\(ReportFileName.nearDuplicates))"), readme)
        XCTAssertTrue(readme.contains("The 2 closest test–training pairs by appearance (1 flagged"), readme)
        // The first pair's pictures are on the sheet: a pure red and a pure blue pixel where they were drawn.
        XCTAssertTrue(png.containsColor(red: 255, green: 0, blue: 0), "the test picture is drawn")
        XCTAssertTrue(png.containsColor(red: 0, green: 0, blue: 255), "the training picture is drawn")
    }
}
