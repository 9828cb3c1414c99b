import XCTest
@testable import Datasets

/// Every kind of bad input named in the issue: skipped with a reason naming the file, an error in strict mode,
/// or a clear dataset-level error. Nothing may crash.
final class BadInputTests: XCTestCase {
    /// Two good classes (3 JPEGs each) plus the broken file at `relative`; returns the cache's skipped list.
    private func skippedAfterLoading(_ bytes: [UInt8], as relative: String) throws -> [SkippedFile] {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 3)
        let path = try folder.write(bytes, to: relative)
        let index = try ImageFolder.scan(folder.path)
        let cache = try ImageCache(index: index, options: ImageLoadOptions(size: 16))
        XCTAssertEqual(cache.count, 6, "the six good images load")
        XCTAssertEqual(cache.skipped.map(\.path), [path])
        // Strict mode turns the same file into an error that lists it.
        assertDatasetError(try ImageCache(index: index, options: ImageLoadOptions(size: 16, strict: true)),
                           contains: [path, "strict"])
        return cache.skipped
    }

    private func validJPEG() throws -> [UInt8] { try ImageEncoder.jpeg(Fixtures.gradient(width: 64, height: 48)) }
    private func validPNG() throws -> [UInt8] { try ImageEncoder.png(Fixtures.gradient(width: 64, height: 48)) }

    /// A valid JPEG whose name is Latin-1 ("café.jpg" as 63 61 66 E9): skipped with the real reason (its name is
    /// not UTF-8, shown with the bad byte) instead of "does not exist".
    func testFileNameThatIsNotUTF8IsNamedAsSuch() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 3)
        let raw: [UInt8] = Array((folder.path + "/a/caf").utf8) + [0xE9] + Array(".jpg".utf8) + [0]
        let bytes = try validJPEG()
        let fd = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self),
                                                     O_WRONLY | O_CREAT, 0o644) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, bytes.count)
        close(fd)
        let cache = try ImageCache(index: try ImageFolder.scan(folder.path), options: ImageLoadOptions(size: 16))
        XCTAssertEqual(cache.count, 6)
        XCTAssertEqual(cache.skipped.map(\.path), [folder.path + "/a/caf\\xE9.jpg"])
        let reason = cache.skipped.first?.reason ?? ""
        XCTAssertTrue(reason.contains("not valid UTF-8"), reason)
        XCTAssertFalse(reason.contains("does not exist"), reason)
    }

    func testCorruptJPEGHeader() throws {
        var bytes = try validJPEG()
        for i in 3..<40 { bytes[i] = UInt8(truncatingIfNeeded: i * 37) }
        let skipped = try skippedAfterLoading(bytes, as: "a/corrupt.jpg")
        XCTAssertTrue(skipped[0].reason.contains("JPEG"), skipped[0].reason)
    }

    func testTruncatedJPEG() throws {
        let bytes = try validJPEG()
        let skipped = try skippedAfterLoading(Array(bytes.prefix(bytes.count / 2)), as: "a/truncated.jpg")
        XCTAssertTrue(skipped[0].reason.contains("truncated"), skipped[0].reason)
    }

    func testJPEGWithAHarmlessWarningStillDecodes() throws {
        // Junk between the APP0 segment and the next marker: libjpeg warns "Corrupt JPEG data: 3 extraneous bytes
        // before marker" (djpeg exits with 2 but writes the same pixels); PIL and we keep the image.
        let clean = try validJPEG()
        XCTAssertEqual(Array(clean[0..<4]), [0xFF, 0xD8, 0xFF, 0xE0], "TurboJPEG writes a JFIF APP0 segment first")
        let afterAPP0 = 4 + Int(clean[4]) << 8 + Int(clean[5])
        let padded = Array(clean[..<afterAPP0]) + [0x11, 0x22, 0x33] + Array(clean[afterAPP0...])
        let folder = try TemporaryFolder()
        let cleanImage = try ImageDecoder.decodeFile(try folder.write(clean, to: "clean.jpg"))
        XCTAssertEqual(try ImageDecoder.decodeFile(try folder.write(padded, to: "padded.jpg")), cleanImage)
    }

    func testTruncatedPNG() throws {
        let bytes = try validPNG()
        let skipped = try skippedAfterLoading(Array(bytes.prefix(bytes.count / 2)), as: "b/truncated.png")
        XCTAssertTrue(skipped[0].reason.contains("PNG"), skipped[0].reason)
    }

    func testCorruptPNGData() throws {
        var bytes = try validPNG()
        for i in (bytes.count / 2)..<(bytes.count / 2 + 20) { bytes[i] ^= 0x5A }   // inside IDAT: CRC fails
        let skipped = try skippedAfterLoading(bytes, as: "b/corrupt.png")
        XCTAssertTrue(skipped[0].reason.contains("PNG"), skipped[0].reason)
    }

    func testZeroByteFile() throws {
        let skipped = try skippedAfterLoading([], as: "a/empty.jpg")
        XCTAssertTrue(skipped[0].reason.contains("empty (0 bytes)"), skipped[0].reason)
    }

    func testTextFileNamedJPG() throws {
        let skipped = try skippedAfterLoading(Array("just some notes, not a picture\n".utf8), as: "a/notes.JPG")
        XCTAssertTrue(skipped[0].reason.contains("text file"), skipped[0].reason)
    }

    func testGIFAndWebPWithImageExtensions() throws {
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0, 0x80, 0, 0] + [UInt8](repeating: 0, count: 20)
        XCTAssertTrue(try skippedAfterLoading(gif, as: "a/anim.png")[0].reason.contains("GIF"))
        let webp = Array("RIFF".utf8) + [30, 0, 0, 0] + Array("WEBPVP8 ".utf8) + [UInt8](repeating: 0, count: 20)
        XCTAssertTrue(try skippedAfterLoading(webp, as: "b/photo.jpeg")[0].reason.contains("WebP"))
    }

    func testImageSmallerThanTargetIsUpscaled() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 1)
        try folder.write(try ImageEncoder.png(Fixtures.solid(width: 8, height: 6, (10, 200, 30))), to: "a/tiny.png")
        let cache = try ImageCache(index: try ImageFolder.scan(folder.path), options: ImageLoadOptions(size: 32))
        XCTAssertEqual(cache.count, 3)
        let tiny = cache.files.firstIndex { $0.fileName == "tiny.png" }!
        let image = cache.image(tiny)
        XCTAssertEqual(image.width, 32)
        XCTAssertTrue(image.pixel(x: 0, y: 0) == (10, 200, 30) && image.pixel(x: 31, y: 31) == (10, 200, 30))
    }

    func testHugeJPEGIsDecodedWithDCTScaling() throws {
        // 12000×9000 greyscale (108 MB raw): decoded at 1/8 scale, 1500×1125, never at full size.
        let width = 12000, height = 9000
        let jpeg = try ImageEncoder.jpeg(gray: [UInt8](repeating: 120, count: width * height), width: width, height: height)
        let folder = try TemporaryFolder()
        let path = try folder.write(jpeg, to: "huge.jpg")
        let decoded = try ImageDecoder.decodeFile(path, minimumShorterSide: 224)
        XCTAssertEqual(decoded.width, 1500)
        XCTAssertEqual(decoded.height, 1125)
        // Without scaling and with a 50 MP limit it is refused with a message that says what to do.
        assertDatasetError(try ImageDecoder.decodeFile(path), contains: [path, "12000×9000", "--max-pixels"])
        // Through the cache: it loads like any other image.
        try folder.writeClasses(["a", "b"], perClass: 1)
        try FileManager.default.moveItem(atPath: path, toPath: folder.path + "/a/huge.jpg")
        let cache = try ImageCache(index: try ImageFolder.scan(folder.path), options: ImageLoadOptions(size: 224))
        XCTAssertEqual(cache.count, 3)
        XCTAssertTrue(cache.skipped.isEmpty)
    }

    func testHugePNGIsRefusedBeforeAllocating() throws {
        // A real PNG whose header claims 12000×9000: refused after reading the header only.
        var png = try ImageEncoder.png(Fixtures.gradient(width: 4, height: 4))
        Self.setPNGSize(&png, width: 12000, height: 9000)
        let folder = try TemporaryFolder()
        let path = try folder.write(png, to: "huge.png")
        assertDatasetError(try ImageDecoder.decodeFile(path), contains: [path, "12000×9000", "108.0 MP to decode",
                                                                         "over the 50.0 MP limit", "--max-pixels"])
        // A tiny limit is said in pixels, not as "0.0 MP".
        assertDatasetError(try ImageDecoder.decodeFile(path, maxPixels: 10), contains: ["over the 10 pixels limit"])
    }

    func testUnreadableFile() throws {
        if geteuid() == 0 {
            throw XCTSkip("running as root: chmod 000 does not stop root from reading; testDanglingSymlink covers an unreadable entry")
        }
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 2)
        let path = try folder.write(try validJPEG(), to: "a/locked.jpg")
        chmod(path, 0)
        let cache = try ImageCache(index: try ImageFolder.scan(folder.path), options: ImageLoadOptions(size: 16))
        XCTAssertEqual(cache.skipped.map(\.path), [path])
        XCTAssertTrue(cache.skipped[0].reason.contains("permission denied"))
    }

    func testDanglingSymlink() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 2)
        let link = folder.path + "/a/gone.jpg"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.path + "/nowhere.jpg")
        let index = try ImageFolder.scan(folder.path)
        XCTAssertEqual(index.skipped.map(\.path), [link])
        XCTAssertTrue(index.skipped[0].reason.contains("does not exist"))
        let cache = try ImageCache(index: index, options: ImageLoadOptions(size: 16))
        XCTAssertEqual(cache.count, 4)
        XCTAssertEqual(cache.skipped.count, 1, "scan-time skips are carried into the cache's record")
    }

    func testFIFOWithImageExtensionIsNotOpened() throws {
        // Root-proof unreadable entry: reading a FIFO would block forever, so the scan must not even open it.
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 2)
        let path = folder.path + "/b/pipe.jpg"
        XCTAssertEqual(mkfifo(path, 0o644), 0)
        let index = try ImageFolder.scan(folder.path)
        XCTAssertEqual(index.skipped, [SkippedFile(path: path, reason: "is not a regular file; remove it")])
        XCTAssertEqual(try ImageCache(index: index, options: ImageLoadOptions(size: 16)).count, 4)
    }

    func testSymlinkLoops() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 2)
        // A file link loop and a folder link pointing back at its own class folder.
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/a/x.jpg", withDestinationPath: "y.jpg")
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/a/y.jpg", withDestinationPath: "x.jpg")
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/b/again", withDestinationPath: ".")
        let index = try ImageFolder.scan(folder.path)
        XCTAssertEqual(index.files.count, 4)
        let reasons = Dictionary(uniqueKeysWithValues: index.skipped.map { (($0.path as NSString).lastPathComponent, $0.reason) })
        XCTAssertTrue(reasons["x.jpg"]?.contains("link loop") == true, "\(reasons)")
        XCTAssertTrue(reasons["y.jpg"]?.contains("link loop") == true, "\(reasons)")
        // b/again → b itself: read once, then reported instead of recursing forever.
        XCTAssertTrue(reasons["again"]?.contains("folder link loop") == true, "\(reasons)")
    }

    func testEmptyClassFolder() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 2)
        try folder.makeFolder("c")
        assertDatasetError(try ImageFolder.scan(folder.path), contains: [folder.path + "/c", "no .jpg/.jpeg/.png"])
    }

    func testSingleClass() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["only"], perClass: 3)
        assertDatasetError(try ImageFolder.scan(folder.path), contains: ["at least two classes", "only"])
    }

    func testClassWhoseImagesAreAllBrokenLeavesTooFewClasses() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a"], perClass: 2)
        try folder.write(Array("not an image".utf8), to: "b/fake.jpg")
        let index = try ImageFolder.scan(folder.path)
        assertDatasetError(try ImageCache(index: index, options: ImageLoadOptions(size: 16)),
                           contains: ["at least two classes", "found: a"])
    }

    func testNoClassFolders() throws {
        let folder = try TemporaryFolder()
        try folder.write(try validJPEG(), to: "loose.jpg")
        assertDatasetError(try ImageFolder.scan(folder.path), contains: ["no class folders", "1 image file"])
    }

    func testPathThatDoesNotExist() {
        assertDatasetError(try ImageFolder.scan("/nonexistent/ablate/dataset"),
                           contains: ["/nonexistent/ablate/dataset", "does not exist"])
    }

    func testFileInsteadOfFolder() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write(try validJPEG(), to: "x.jpg")
        assertDatasetError(try ImageFolder.scan(path), contains: [path, "not a folder"])
    }

    func testHiddenAndNonImageFilesAreIgnoredAndExtensionsAnyCase() throws {
        let folder = try TemporaryFolder()
        try folder.writeClasses(["a", "b"], perClass: 1)
        try folder.write(try validJPEG(), to: "a/UPPER.JPEG")
        try folder.write(try validPNG(), to: "b/Mixed.Png")
        try folder.write(try validJPEG(), to: "a/.hidden.jpg")
        try folder.write(try validJPEG(), to: ".secret/x.jpg")
        try folder.write(Array("notes".utf8), to: "a/readme.txt")
        let index = try ImageFolder.scan(folder.path)
        XCTAssertEqual(index.classNames, ["a", "b"])
        XCTAssertEqual(index.files.map(\.fileName).sorted(), ["Mixed.Png", "UPPER.JPEG", "a_0_0.jpg", "b_0_0.jpg"])
        XCTAssertEqual(index.ignoredFileCount, 1)
        XCTAssertTrue(index.skipped.isEmpty)
    }

    /// Rewrites a PNG's IHDR width/height and its CRC.
    static func setPNGSize(_ png: inout [UInt8], width: UInt32, height: UInt32) {
        func put(_ value: UInt32, at offset: Int) {
            for k in 0..<4 { png[offset + k] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(k))) }
        }
        put(width, at: 16); put(height, at: 20)
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in png[12..<29] {   // chunk type + 13 data bytes
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        put(~crc, at: 29)
    }
}
