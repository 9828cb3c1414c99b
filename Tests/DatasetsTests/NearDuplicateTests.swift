import CNearDuplicate
import Foundation
import XCTest
@testable import Datasets

/// The near-duplicate audit on generated images: what augmentation does to a copy must not hide it, and distinct
/// images must not be flagged.
final class NearDuplicateTests: XCTestCase {
    /// A photograph stand-in: coloured blobs of several sizes on a shaded background, plus fine noise.
    static func scene(seed: UInt64, side: Int = 128) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        let blobs = (0..<14).map { _ in
            (x: rng.uniform(0...1), y: rng.uniform(0...1), r: rng.uniform(0.04...0.25),
             c: (rng.uniform(-120...120), rng.uniform(-120...120), rng.uniform(-120...120)))
        }
        let base = (rng.uniform(60...190), rng.uniform(60...190), rng.uniform(60...190))
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                let u = Double(x) / Double(side), v = Double(y) / Double(side)
                var rgb = (base.0 + 40 * u, base.1 + 40 * v, base.2)
                for b in blobs {
                    let w = exp(-((u - b.x) * (u - b.x) + (v - b.y) * (v - b.y)) / (2 * b.r * b.r))
                    rgb.0 += w * b.c.0; rgb.1 += w * b.c.1; rgb.2 += w * b.c.2
                }
                let noise = rng.uniform(-6...6)
                let i = (y * side + x) * 3
                pixels[i] = UInt8(max(0, min(255, rgb.0 + noise)))
                pixels[i + 1] = UInt8(max(0, min(255, rgb.1 + noise)))
                pixels[i + 2] = UInt8(max(0, min(255, rgb.2 + noise)))
            }
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    /// `image` sampled through `source(x, y) -> (sx, sy)` (nearest pixel; outside is black, as augmentation fills).
    static func warp(_ image: RGBImage, _ source: (Double, Double) -> (Double, Double)) -> RGBImage {
        let n = image.width
        var pixels = [UInt8](repeating: 0, count: n * n * 3)
        for y in 0..<n {
            for x in 0..<n {
                let (sx, sy) = source(Double(x), Double(y))
                let ix = Int(sx.rounded()), iy = Int(sy.rounded())
                guard (0..<n).contains(ix), (0..<n).contains(iy) else { continue }
                for c in 0..<3 { pixels[(y * n + x) * 3 + c] = image.pixels[(iy * n + ix) * 3 + c] }
            }
        }
        return RGBImage(width: n, height: n, pixels: pixels)
    }

    static func rotated(_ image: RGBImage, degrees: Double) -> RGBImage {
        let c = Double(image.width - 1) / 2, a = degrees * .pi / 180
        return warp(image) { x, y in
            (c + (x - c) * cos(a) + (y - c) * sin(a), c - (x - c) * sin(a) + (y - c) * cos(a))
        }
    }

    static func reencoded(_ image: RGBImage, quality: Int) throws -> RGBImage {
        let bytes = try ImageEncoder.jpeg(image, quality: quality)
        return try bytes.withUnsafeBytes { try ImageDecoder.decode($0, minimumShorterSide: 0, maxPixels: 1 << 24) }
    }

    /// The copies augmentation makes, by name.
    static let copies: [(String, @Sendable (RGBImage) throws -> RGBImage)] = [
        ("mirrored", { i in warp(i) { x, y in (Double(i.width - 1) - x, y) } }),
        ("quarter turn", { i in warp(i) { x, y in (y, Double(i.width - 1) - x) } }),
        ("re-encoded at quality 60", { try reencoded($0, quality: 60) }),
        ("colour-jittered", { i in
            RGBImage(width: i.width, height: i.height, pixels: i.pixels.enumerated().map { k, p in
                UInt8(min(255, Double(p) * [1.25, 1.05, 0.8][k % 3] + 12))
            })
        }),
        ("rotated by 12°", { rotated($0, degrees: 12) }),
        ("shifted by 15% with black fill", { i in warp(i) { x, y in (x - 0.15 * Double(i.width), y - 0.1 * Double(i.width)) } }),
    ]

    func testHashesSurviveReencodingAndEveryOrientation() throws {
        for seed: UInt64 in 1...5 {
            let image = Self.scene(seed: seed)
            let original = AppearanceSignature(image: image)
            let jpeg = AppearanceSignature(image: try Self.reencoded(image, quality: 75))
            XCTAssertLessThanOrEqual(PerceptualHash.distance(jpeg.hashes, original.hashes[0]), 4, "seed \(seed)")
            // Each flip or quarter turn of the image is one of the original's 8 orientation hashes, bit for bit.
            for (name, copy) in Self.copies.prefix(2) {
                let turned = AppearanceSignature(image: try copy(image))
                XCTAssertTrue(original.hashes.contains(turned.hashes[0]), "\(name), seed \(seed)")
                XCTAssertEqual(Set(turned.hashes), Set(original.hashes), "\(name), seed \(seed)")
            }
        }
    }

    func testPlantedCopiesAcrossTheSplitAreFoundAndDistinctImagesAreNot() throws {
        let originals = (0..<30).map { Self.scene(seed: 1_000 + UInt64($0)) }
        let train = originals.map(AppearanceSignature.init(image:))
        let distinct = (0..<30).map { AppearanceSignature(image: Self.scene(seed: 5_000 + UInt64($0))) }
        for (name, copy) in Self.copies {
            let planted = try originals.map { AppearanceSignature(image: try copy($0)) }
            let results = NearDuplicateSearch.run(queries: planted, references: train)
            let found = results.enumerated().filter { i, r in r.matches.contains { $0.reference == i } }.count
            print("planted \(name): \(found) of 30 found")
            // Channel gains 1.25/1.05/0.8 that saturate change the grey image beyond a contrast change: 26 are
            // found, the rest correlate 0.89–0.984 (the rule that let pHash or the ring spectra decide alone found
            // 28, and flagged 12–14% of distinct generated images: testDistinctSyntheticImagesAreRarelyFlagged).
            let expected = name == "colour-jittered" ? 26 : 27
            XCTAssertGreaterThanOrEqual(found, expected, "\(name): \(found) of 30 copies found")
        }
        let results = NearDuplicateSearch.run(queries: distinct, references: train)
        XCTAssertEqual(results.filter { !$0.matches.isEmpty }.count, 0, "distinct images flagged")
        // The scores are symmetric in what they measure: train against a copy finds it too.
        let shifted = try originals.map { AppearanceSignature(image: try Self.copies[5].1($0)) }
        let back = NearDuplicateSearch.run(queries: train, references: shifted)
        XCTAssertGreaterThanOrEqual(back.enumerated().filter { i, r in r.matches.contains { $0.reference == i } }.count, 27)
    }

    /// Images `ablate data synth` draws (a striped ellipse on a shaded background) are all distinct, but alike at
    /// 64×64 grey: a blob at some place. pHash alone flagged 12% of them and unconfirmed ring spectra 14%; the
    /// standard rule flags 1.8% of 1,000 against 4,000 (docs/near-duplicates.md), and here, against 2,000, at most 2%.
    func testDistinctSyntheticImagesAreRarelyFlagged() {
        func drawn(_ k: Int) -> AppearanceSignature {
            var rng = SplitMix64(seed: 77, streams: UInt64(k % 2), UInt64(k))
            return AppearanceSignature(image: SyntheticData.render(classIndex: k % 2, classes: 2, size: 128, rng: &rng))
        }
        let references = (0..<2_000).map(drawn), queries = (2_000..<2_500).map(drawn)
        let packed = NearDuplicateSearch.References(references)
        let scores = queries.map { packed.scores($0, candidates: Array(references.indices)) }
        let flagged = scores.filter { $0.contains { $0.isNearDuplicate(.standard) } }.count
        print("distinct synthetic images flagged: \(flagged) of \(queries.count)")
        XCTAssertLessThanOrEqual(flagged, 10, "more than 2% of distinct generated images flagged")
        // What the old rule (pHash ≤ 2 alone, or the ring spectra alone) would have flagged: the reason it changed.
        let old = scores.filter { $0.contains { $0.hamming <= 2 || $0.polar >= 0.98 } }.count
        XCTAssertGreaterThan(old, 5 * max(flagged, 1), "the old rule flagged \(old)")
    }

    /// Runs stored before the ring detail and zoom existed keep their record and say which rule made it.
    func testRecordsMadeByTheOldRuleStillReadAndStateThatRule() throws {
        let old = #"{"hamming": 2, "thumbnail": 0.985, "polar": 0.98, "content": 0.94}"#
        let t = try JSONDecoder().decode(NearDuplicateThresholds.self, from: Data(old.utf8))
        XCTAssertNil(t.rotation)
        XCTAssertNil(t.zoom)
        XCTAssertTrue(t.summary.hasPrefix("pHash Hamming ≤ 2 over 8 orientations, or correlation ≥ 0.985"), t.summary)
        let now = try JSONDecoder().decode(NearDuplicateThresholds.self, from: try JSONEncoder().encode(NearDuplicateThresholds.standard))
        XCTAssertEqual(now, .standard)
        XCTAssertTrue(now.summary.contains("ring detail at the best rotation") && now.summary.contains("enlarged centre"), now.summary)
    }

    /// The ring detail lines up a copy turned by any angle, mirrored or not, and does not line up another scene.
    func testRingDetailLinesUpTurnedAndMirroredCopiesOnly() {
        func detail(_ a: AppearanceSignature, _ b: AppearanceSignature) -> Float {
            nd_rotation_correlation(a.ringDetail, b.ringDetail, Int32(AppearanceSignature.rings),
                                    Int32(AppearanceSignature.ringSamples))
        }
        for seed: UInt64 in 1...4 {
            let image = Self.scene(seed: seed)
            let original = AppearanceSignature(image: image)
            let mirrored = Self.warp(image) { x, y in (Double(image.width - 1) - x, y) }
            for degrees in [33.0, 140.0] {
                let turned = detail(AppearanceSignature(image: Self.rotated(image, degrees: degrees)), original)
                print("ring detail, seed \(seed), turned \(degrees)°: \(turned)")
                XCTAssertGreaterThan(turned, 0.85, "seed \(seed), \(degrees)°")
                XCTAssertGreaterThan(detail(AppearanceSignature(image: Self.rotated(mirrored, degrees: degrees)), original), 0.85,
                                     "seed \(seed), mirrored, \(degrees)°")
            }
            let other = detail(AppearanceSignature(image: Self.scene(seed: seed + 100)), original)
            XCTAssertLessThan(other, Float(NearDuplicateThresholds.standard.rotation!), "seed \(seed)")
            print("ring detail, another scene, seed \(seed): \(other)")
        }
    }

    func testMultiIndexTableFindsExactlyWhatTheScanFinds() {
        var rng = SplitMix64(seed: 7)
        let references = (0..<5_000).map { _ in rng.next() }
        let table = MultiIndexHashTable(references: references, radius: 4)
        for k in 0..<50 {
            // Half the queries are a reference with a few bits flipped, half are random.
            var query = k % 2 == 0 ? references[k * 37] : rng.next()
            for _ in 0..<(k % 5) { query ^= 1 << UInt64(rng.below(64)) }
            let hashes = [query, ~query]
            let scanned = references.indices.filter { PerceptualHash.distance(hashes, references[$0]) <= 4 }
            XCTAssertEqual(table.neighbours(of: hashes), scanned, "query \(k)")
        }
    }

    func testAuditOfAFolderWithBrokenFilesSkipsThemByNameAndStillCompares() throws {
        let folder = try TemporaryFolder()
        for c in 0..<2 {
            for i in 0..<6 {
                try folder.write(try ImageEncoder.jpeg(Self.scene(seed: UInt64(c * 100 + i), side: 64)), to: "c\(c)/img\(i).jpg")
            }
        }
        let broken = try folder.write(Array("not an image".utf8), to: "c0/notes.jpg")
        let truncated = try folder.write(Array(try ImageEncoder.jpeg(Self.scene(seed: 9)).prefix(40)), to: "c1/cut.jpg")
        let data = try PreparedDataset(root: folder.path, split: SplitConfig(strategy: .random, testFraction: 0.5, seed: 1, groupKey: nil),
                                       options: ImageLoadOptions(size: 64))
        XCTAssertEqual(Set(data.audit.skipped.map(\.path)), [broken, truncated])
        let near = try XCTUnwrap(data.audit.nearDuplicates?.testAgainstTrain)
        XCTAssertEqual(near.queryFiles, data.audit.testFiles)
        XCTAssertEqual(near.referenceFiles, data.audit.trainFiles)
        XCTAssertEqual(near.flagged, 0, "12 distinct scenes")
        // The record reads back, and a record from before the audit (no key) still decodes.
        let json = try JSONEncoder().encode(data.audit)
        XCTAssertEqual(try JSONDecoder().decode(LeakageAudit.self, from: json), data.audit)
        var old = try XCTUnwrap(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        old.removeValue(forKey: "near_duplicates")
        let decoded = try JSONDecoder().decode(LeakageAudit.self, from: try JSONSerialization.data(withJSONObject: old))
        XCTAssertNil(decoded.nearDuplicates)
    }
}
