import XCTest
import AblateCore
@testable import Datasets

final class LoaderTests: XCTestCase {
    /// 2 classes × 5 synthetic images of 24×24.
    private func smallCache(perClass: Int = 5, size: Int = 24) throws -> (ImageCache, TemporaryFolder) {
        let folder = try TemporaryFolder()
        _ = try SyntheticData.write(to: folder.path, classes: 2, perClass: perClass, size: size, seed: 11)
        return (try ImageCache(index: try ImageFolder.scan(folder.path), options: ImageLoadOptions(size: size)), folder)
    }

    func testPlainBatchIsNormalisedNHWCWithLabels() throws {
        let (cache, _) = try smallCache()
        let size = cache.size
        var images = [Float](repeating: .nan, count: 3 * size * size * 3)
        var labels = [Int32](repeating: -1, count: 3)
        images.withUnsafeMutableBufferPointer { imagePointer in
            labels.withUnsafeMutableBufferPointer { labelPointer in
                cache.assembleBatch([0, 7, 9], epoch: 0, augmentation: nil, normalization: .imagenet,
                                    images: imagePointer.baseAddress!, labels: labelPointer.baseAddress!)
            }
        }
        XCTAssertEqual(labels, [0, 1, 1])
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        for (n, sample) in [0, 7, 9].enumerated() {
            let pixels = cache.image(sample).pixels
            for (offset, value) in pixels.enumerated() {
                let expected = (Float(value) / 255 - mean[offset % 3]) / std[offset % 3]
                XCTAssertEqual(images[n * size * size * 3 + offset], expected, accuracy: 1e-5)
            }
        }
    }

    func testLoaderCoversEveryIndexOncePerEpochAndPrefetchMatchesDirectAssembly() throws {
        let (cache, _) = try smallCache()
        let indices = [0, 1, 2, 3, 5, 6, 8]
        let loader = try BatchLoader(cache: cache, indices: indices, batchSize: 3, shuffle: true, seed: 4, augmentation: .standard, normalization: .imagenet)
        XCTAssertEqual(loader.batchesPerEpoch, 3)
        let perImage = cache.bytesPerImage
        var images = [Float](repeating: 0, count: loader.floatsPerBatch)
        var labels = [Int32](repeating: 0, count: 3)
        var expected = [Float](repeating: 0, count: loader.floatsPerBatch)
        var expectedLabels = [Int32](repeating: 0, count: 3)
        for epoch in 0..<2 {
            loader.startEpoch(epoch)
            var seen: [Int] = []
            var batch = 0
            while let count = images.withUnsafeMutableBufferPointer({ i in
                labels.withUnsafeMutableBufferPointer { loader.next(images: i.baseAddress!, labels: $0.baseAddress!) }
            }) {
                let members = Array(loader.batchIndices(batch))
                XCTAssertEqual(count, members.count)
                seen += members
                expected.withUnsafeMutableBufferPointer { e in
                    expectedLabels.withUnsafeMutableBufferPointer {
                        cache.assembleBatch(members, epoch: epoch, augmentation: .standard, normalization: .imagenet,
                                            images: e.baseAddress!, labels: $0.baseAddress!)
                    }
                }
                XCTAssertEqual(Array(images.prefix(count * perImage)), Array(expected.prefix(count * perImage)))
                XCTAssertEqual(Array(labels.prefix(count)), Array(expectedLabels.prefix(count)))
                batch += 1
            }
            XCTAssertEqual(batch, 3)
            XCTAssertEqual(seen.sorted(), indices, "epoch \(epoch) sees every sample once")
        }
        let dropping = try BatchLoader(cache: cache, indices: indices, batchSize: 3, shuffle: false, seed: 0, augmentation: nil, normalization: .imagenet, dropLast: true)
        XCTAssertEqual(dropping.batchesPerEpoch, 2)
        assertDatasetError(try BatchLoader(cache: cache, indices: [99], batchSize: 2, shuffle: false, seed: 0, augmentation: nil, normalization: .imagenet), contains: ["99"])
    }

    func testAugmentationIsDeterministicPerSampleAndEpoch() throws {
        let (cache, _) = try smallCache()
        let perImage = cache.bytesPerImage
        func assemble(_ members: [Int], epoch: Int, seed: UInt64 = 0) -> [Float] {
            var images = [Float](repeating: 0, count: members.count * perImage)
            var labels = [Int32](repeating: 0, count: members.count)
            var config = AugmentationConfig.standard
            config.seed = seed
            images.withUnsafeMutableBufferPointer { i in
                labels.withUnsafeMutableBufferPointer {
                    cache.assembleBatch(members, epoch: epoch, augmentation: config, normalization: .imagenet,
                                        images: i.baseAddress!, labels: $0.baseAddress!)
                }
            }
            return images
        }
        let batch = assemble([2, 4], epoch: 3)
        XCTAssertEqual(assemble([2, 4], epoch: 3), batch, "same seed, epoch and samples: same floats")
        XCTAssertEqual(Array(assemble([4], epoch: 3)), Array(batch[perImage...]), "independent of batch composition")
        XCTAssertNotEqual(assemble([2, 4], epoch: 4), batch, "another epoch draws again")
        XCTAssertNotEqual(assemble([2, 4], epoch: 3, seed: 1), batch, "another seed draws again")
    }

    func testFlipAloneMirrorsExactlyAndJitterScales() throws {
        let (cache, _) = try smallCache()
        let size = cache.size, perImage = cache.bytesPerImage
        var flipOnly = AugmentationConfig(horizontalFlipProbability: 1, cropScale: nil, cropRatio: RandomResizedCropSection.standardRatio, brightness: 0, contrast: 0, seed: 0)
        var images = [Float](repeating: 0, count: perImage)
        var label: Int32 = 0
        images.withUnsafeMutableBufferPointer {
            cache.assembleBatch([1], epoch: 0, augmentation: flipOnly, normalization: .unit, images: $0.baseAddress!,
                                labels: &label)
        }
        let source = cache.image(1).pixels
        for y in [0, size / 2, size - 1] {
            for x in 0..<size {
                for c in 0..<3 {
                    XCTAssertEqual(images[(y * size + x) * 3 + c], Float(source[(y * size + size - 1 - x) * 3 + c]) / 255,
                                   accuracy: 1e-5)
                }
            }
        }
        flipOnly.horizontalFlipProbability = 0
        flipOnly.brightness = 0.5
        images.withUnsafeMutableBufferPointer {
            cache.assembleBatch([1], epoch: 0, augmentation: flipOnly, normalization: .unit, images: $0.baseAddress!,
                                labels: &label)
        }
        // Brightness multiplies every channel by one factor in [0.5, 1.5] (before clamping at 1).
        let ratios = (0..<perImage).compactMap { i -> Float? in
            source[i] > 20 && images[i] < 0.999 ? images[i] / (Float(source[i]) / 255) : nil
        }
        XCTAssertFalse(ratios.isEmpty)
        XCTAssertLessThan(ratios.max()! - ratios.min()!, 1e-3)
        XCTAssertTrue((0.5...1.5).contains(ratios[0]))
    }

    func testRandomResizedCropStaysInsideTheImage() {
        let config = AugmentationConfig.standard
        for sample in 0..<200 {
            let region = config.draw(size: 224, epoch: 1, sample: sample).region
            XCTAssertTrue(region.x >= 0 && region.y >= 0 && region.x + region.width <= 224 && region.y + region.height <= 224)
            let area = region.width * region.height / (224 * 224)
            XCTAssertTrue((0.07...1.0).contains(area), "area fraction \(area)")
        }
    }

    func testPreparedDatasetWiresScanCacheSplitAuditAndLoaders() throws {
        let folder = try TemporaryFolder()
        _ = try SyntheticData.write(to: folder.path, classes: 2, perClass: 10, size: 16, seed: 3)
        try folder.write(Array("broken".utf8), to: "class0/broken.jpg")
        let data = try PreparedDataset(root: folder.path, split: SplitConfig(strategy: .stratified, testFraction: 0.2, seed: 2, groupKey: nil),
                                       options: ImageLoadOptions(size: 16))
        XCTAssertEqual(data.classNames, ["class0", "class1"])
        XCTAssertEqual(data.cache.count, 20)
        XCTAssertEqual(data.audit.skippedFiles, 1)
        XCTAssertEqual(data.split.train.count + data.split.test.count, 20)
        XCTAssertEqual(data.audit.testFiles, 4)
        let train = try data.trainLoader(batchSize: 5, augmentation: .standard, seed: 1, normalization: .imagenet)
        XCTAssertEqual(train.batchesPerEpoch, 3)
        XCTAssertNotNil(train.augmentation)
        let test = try data.testLoader(batchSize: 3, normalization: .imagenet)
        XCTAssertEqual(test.batchesPerEpoch, 2)
        XCTAssertNil(test.augmentation)
    }

    func testBadOptionsAreErrors() throws {
        let (cache, folder) = try smallCache()
        assertDatasetError(try BatchLoader(cache: cache, indices: [0], batchSize: 0, shuffle: false, seed: 0, augmentation: nil, normalization: .imagenet), contains: ["batch size"])
        assertDatasetError(try BatchLoader(cache: cache, indices: [0], batchSize: 1, shuffle: false, seed: 0, augmentation: nil, normalization: Normalization(mean: [0], std: [1])), contains: ["3 means"])
        assertDatasetError(try ImageCache(index: try ImageFolder.scan(folder.path),
                                          options: ImageLoadOptions(size: 0)), contains: ["image size 0"])
    }
}

final class SyntheticDataTests: XCTestCase {
    func testWritesRealJPEGAndPNGFilesDeterministically() throws {
        let folder = try TemporaryFolder()
        let summary = try SyntheticData.write(to: folder.path + "/s", classes: 3, perClass: 4, size: 20, seed: 2)
        XCTAssertEqual(summary.classNames, ["class0", "class1", "class2"])
        XCTAssertEqual(summary.jpegFiles, 6)
        XCTAssertEqual(summary.pngFiles, 6)
        let index = try ImageFolder.scan(folder.path + "/s")
        XCTAssertEqual(index.countsPerClass, [4, 4, 4])
        XCTAssertEqual(Set(index.files.map { ($0.fileName as NSString).pathExtension }), ["jpg", "png", "PNG"])
        let cache = try ImageCache(index: index, options: ImageLoadOptions(size: 20, strict: true))
        XCTAssertEqual(cache.count, 12)
        _ = try SyntheticData.write(to: folder.path + "/t", classes: 3, perClass: 4, size: 20, seed: 2)
        for file in index.files {
            let twin = file.path.replacingOccurrences(of: "/s/", with: "/t/")
            XCTAssertEqual(FileManager.default.contents(atPath: file.path), FileManager.default.contents(atPath: twin))
        }
        // Parallel decoding is deterministic: a second cache holds the same bytes.
        let again = try ImageCache(index: index, options: ImageLoadOptions(size: 20, strict: true))
        XCTAssertEqual(again.files, cache.files)
        XCTAssertTrue((0..<cache.count).allSatisfy { again.image($0) == cache.image($0) })
        assertDatasetError(try SyntheticData.write(to: folder.path + "/u", classes: 1, perClass: 4, size: 20, seed: 2),
                           contains: ["2–100 classes"])
    }

    /// Nearest-centroid on two gradient-energy features (mean |∂x| and |∂y| of the loaded floats): trained on
    /// one half of the files, it must classify the held-out half far above chance.
    func testSyntheticClassesAreLearnable() throws {
        let folder = try TemporaryFolder()
        _ = try SyntheticData.write(to: folder.path, classes: 2, perClass: 30, size: 32, seed: 5)
        let cache = try ImageCache(index: try ImageFolder.scan(folder.path), options: ImageLoadOptions(size: 32))
        let split = try cache.split(SplitConfig(strategy: .stratified, testFraction: 0.5, seed: 1, groupKey: nil))
        let size = cache.size, perImage = cache.bytesPerImage
        var images = [Float](repeating: 0, count: cache.count * perImage)
        var labels = [Int32](repeating: 0, count: cache.count)
        images.withUnsafeMutableBufferPointer { i in
            labels.withUnsafeMutableBufferPointer {
                cache.assembleBatch(Array(0..<cache.count), epoch: 0, augmentation: nil, normalization: .imagenet,
                                    images: i.baseAddress!, labels: $0.baseAddress!)
            }
        }
        func features(_ n: Int) -> [Double] {
            var dx = 0.0, dy = 0.0
            for y in 0..<(size - 1) {
                for x in 0..<(size - 1) {
                    for c in 0..<3 {
                        let here = images[n * perImage + (y * size + x) * 3 + c]
                        dx += Double(abs(images[n * perImage + (y * size + x + 1) * 3 + c] - here))
                        dy += Double(abs(images[n * perImage + ((y + 1) * size + x) * 3 + c] - here))
                    }
                }
            }
            return [log(dx / dy)]
        }
        var centroids = [[Double]](repeating: [0], count: 2), counts = [0, 0]
        for n in split.train {
            let label = Int(labels[n])
            centroids[label][0] += features(n)[0]
            counts[label] += 1
        }
        for c in 0..<2 { centroids[c][0] /= Double(counts[c]) }
        let correct = split.test.filter { n in
            let f = features(n)[0]
            let guess = abs(f - centroids[0][0]) < abs(f - centroids[1][0]) ? 0 : 1
            return guess == Int(labels[n])
        }.count
        let accuracy = Double(correct) / Double(split.test.count)
        XCTAssertGreaterThan(accuracy, 0.85, "held-out accuracy \(accuracy) (chance is 0.5)")
        XCTAssertLessThan(abs(split.test.count - 30), 2)
    }
}
