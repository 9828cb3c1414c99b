import AblateCore
import ArgumentParser
import Datasets
import Foundation

/// `ablate data audit|synth|bench`: inspect, create and time image datasets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Audit splits for leakage, write synthetic data, benchmark the image pipeline.",
        subcommands: [Audit.self, Synth.self, Bench.self]
    )
}

extension SplitProtocol: ExpressibleByArgument {}

extension DataCommand {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Split a dataset and count test files that are byte-identical to, or share a group with, a training file.")

        @Argument(help: "ImageFolder dataset (one subfolder per class; train/ and test/ for --split folders).")
        var directory: String
        @Option(help: "random, stratified, grouped, folders or kfold (grouped k-fold: lists the folds).") var split: SplitProtocol = .random
        @Option(help: "Split seed (the default is data.split.seed's).") var seed = UInt64(SplitSection.defaultSeed)
        @Option(help: "Fraction of files in the test part.") var testFraction: Double = 0.2
        @Option(help: "kfold: number of folds (the default is data.split.folds's).") var folds = SplitSection.defaultFolds
        @Option(help: "Fraction of all files held out for validation, as data.split.validation_fraction.") var validationFraction: Double?
        @Option(help: "Group key: photo (M01_02_07 → M01_02), patient (→ M01) or a regular expression whose first capture group is the key.")
        var groupKey: String = "photo"
        @Option(help: "Side the images are decoded to, as data.size of a run (decoding finds the files a run skips).")
        var size = 224
        @Option(help: "Refuse images with more pixels than this (after JPEG DCT scaling), as data.max_pixels of a run.")
        var maxPixels = ImageDecoder.defaultMaxPixels
        @Flag(help: "Also list the closest cross-split pairs by appearance (thumbnails, rotation-invariant rings, content, zoom).")
        var nearDuplicates = false
        @Flag(help: "Print the audit as JSON.") var json = false

        func validate() throws {
            guard (8...4096).contains(size) else { throw ValidationError("--size must be 8–4096, got \(size)") }
            guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be at least 1, got \(maxPixels)") }
            guard (2...100).contains(folds) else { throw ValidationError("--folds must be 2–100, got \(folds)") }
            if let v = validationFraction, !(v > 0 && v < 1) {
                throw ValidationError("--validation-fraction must be between 0 and 1 (exclusive), e.g. 0.15, got \(v)")
            }
        }

        func run() throws {
            let kfold = split == .kfold
            let config = SplitConfig(strategy: split, testFraction: kfold ? 1 / Double(folds) : testFraction, seed: seed,
                                     groupKey: try GroupKeyRule.named(groupKey), validationFraction: validationFraction,
                                     folds: kfold ? folds : nil, fold: kfold ? 0 : nil)
            // The loading of a run: decode every file (unreadable ones are skipped and named), then split what
            // loaded, so the split sizes here are the ones a run trains and tests on.
            let prepared = try PreparedDataset(root: directory, split: config,
                                               options: ImageLoadOptions(size: size, maxPixels: maxPixels))
            let audit = prepared.audit
            if json { return try printJSON(audit) }
            warnAboutSkipped(audit.skipped)
            let cache = prepared.cache
            let perClass = cache.classNames.indices.map { c in cache.files.filter { $0.label == c }.count }
            let counts = zip(cache.classNames, perClass).map { "\($0) \($1)" }.joined(separator: ", ")
            print("dataset    \(prepared.index.root): \(cache.files.count) usable images (\(counts))")
            print("split      \(split.rawValue), seed \(seed), "
                  + (kfold ? "\(folds) folds (fold 0 audited below)" : "test fraction \(testFraction)")
                  + (split == .grouped || kfold ? ", group key \(config.effectiveGroupKey.name)" : ""))
            if kfold { try printFolds(prepared, config: config) }
            print("train      \(audit.trainFiles) files")
            if let v = audit.validationFiles { print("validation \(v) files") }
            print("test       \(audit.testFiles) files")
            print("leakage    \(audit.testByteIdenticalInTrain) test files byte-identical to a training file")
            print("           \(audit.testGroupSharedWithTrain) test files share a '\(audit.groupKey)' group with "
                  + "training files (\(audit.groupsOnBothSides) groups on both sides)")
            if let near = audit.nearDuplicates {
                for c in near.comparisons {
                    print("near-dups  \(c.sentence) (\(c.flaggedByHash) within \(near.thresholds.hamming) pHash bits)")
                }
                if near.hashOnly {
                    print("           too many pairs to compare all: only pairs within \(near.thresholds.hamming) pHash bits were compared")
                }
                if nearDuplicates { printNearDuplicates(near) }
            }
            print("skipped    \(audit.skippedFiles) files")
        }

        /// Each fold's test part: groups, files and files per class (the training part is the other folds).
        func printFolds(_ prepared: PreparedDataset, config: SplitConfig) throws {
            let files = prepared.cache.files, names = prepared.cache.classNames
            for fold in 0..<folds {
                var c = config
                c.fold = fold
                let part = try DatasetSplit(files: files, config: c)
                let groups = try FileGroups(files, indices: part.test, rule: config.effectiveGroupKey).keys.count
                func classes(_ indices: [Int]) -> String {
                    names.indices.map { k in "\(names[k]) \(indices.filter { files[$0].label == k }.count)" }.joined(separator: ", ")
                }
                print("fold \(fold)     \(groups) groups, \(part.test.count) files (\(classes(part.test)))"
                      + (part.validation.isEmpty ? "" : "; validation from the other folds: \(part.validation.count) files (\(classes(part.validation)))"))
            }
        }

        func printNearDuplicates(_ near: NearDuplicateAudit) {
            print("           near-duplicate when \(near.thresholds.summary)")
            for c in near.comparisons {
                print("           closest \(c.queries) → \(c.references) pairs (bits differing, correlation, what flagged it):")
                for p in c.closest {
                    print("             \(p.query) ~ \(p.reference): \(p.hamming) bits, "
                          + String(format: "%.3f", p.similarity) + ", \(p.signal)")
                }
            }
        }
    }

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic ImageFolder dataset (JPEG and PNG) whose classes differ in stripe orientation.")

        @Option(help: "Output folder (created).") var out: String
        @Option(help: "Number of classes.") var classes = 2
        @Option(help: "Images per class.") var perClass = 50
        @Option(help: "Image side in pixels.") var size = 64
        @Option(help: "Seed.") var seed: UInt64 = 1

        func run() throws {
            let (manifest, created) = try SyntheticData.materialize(at: out, classes: classes, perClass: perClass,
                                                                    size: size, seed: seed)
            guard let manifest else {
                throw DatasetError.invalidConfiguration("\(out) already exists and was not written by `ablate data "
                    + "synth` (it has no \(SyntheticManifest.fileName)); choose another --out or remove it")
            }
            let classNames = manifest.files.keys.sorted().joined(separator: ", ")
            print((created ? "wrote" : "already there:") + " \(classes * perClass) images (\(size)×\(size), half JPEG, "
                  + "half PNG) in \(out): classes \(classNames)")
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the first-epoch decode+resize into the cache, the per-epoch batch assembly from it, and the near-duplicate audit's signatures and comparison.")

        @Argument(help: "ImageFolder dataset.") var directory: String
        @Option(help: "Model input side in pixels.") var size = 224
        @Option(help: "Batch size.") var batch = 32
        @Option(help: "Epochs of batch assembly to time.") var epochs = 3
        @Option(help: "Times to decode the whole dataset (fresh cache each time).") var repeats = 3
        @Option(help: "Refuse images with more pixels than this (after JPEG DCT scaling).")
        var maxPixels = ImageDecoder.defaultMaxPixels
        @Flag(help: "Resize the shorter side, then centre-crop (instead of stretching).") var centerCrop = false
        @Flag(help: "Decode JPEGs at full size (no TurboJPEG DCT downscaling before the resize).") var noDctScaling = false
        @Flag(help: "Assemble batches without augmentation.") var noAugment = false
        @Flag(help: "Fail on broken images instead of skipping them.") var strict = false
        @Option(help: "Instead: time the near-duplicate hash comparison on this many generated hashes (e.g. 100000).")
        var hashes: Int?
        @Flag(help: "With --hashes: also time the all-pairs scan (quadratic).") var scan = false
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            if let hashes {
                guard hashes >= 10 else { throw ValidationError("--hashes must be at least 10, got \(hashes)") }
                let result = HashBenchmark.run(count: hashes, scan: scan)
                if json { return try printJSON(result) }
                print("hashes     \(hashes) references × \(hashes) queries of 8 orientations, Hamming ≤ \(result.radius)")
                if let seconds = result.scanSeconds { print(String(format: "scan       %.3f s (all pairs, bit counts)", seconds)) }
                print(String(format: "index      %.3f s to build, %.3f s to query (multi-index hashing)",
                             result.indexBuildSeconds, result.indexQuerySeconds))
                print("planted    \(result.plantedFound) of \(result.planted) planted copies found")
                return
            }
            let options = ImageLoadOptions(size: size, centerCrop: centerCrop, maxPixels: maxPixels,
                                           jpegDCTScaling: !noDctScaling, strict: strict)
            let result = try DataBenchmark.run(root: directory, options: options, batchSize: batch, epochs: epochs,
                                               repeats: repeats, augmentation: noAugment ? nil : .standard)
            if json { return try printJSON(result) }
            warnAboutSkipped(result.skipped)
            func seconds(_ values: [Double]) -> String { values.map { String(format: "%.3f", $0) }.joined(separator: " ") }
            print("dataset    \(result.root): \(result.images) images at \(size)×\(size), "
                  + "\(result.skippedFiles) skipped, \(result.threads) threads")
            print(String(format: "scan       %.3f s", result.scanSeconds))
            print(String(format: "decode     %.3f s median (%.0f images/s); runs: %@", result.decodeMedianSeconds,
                         Double(result.images) / result.decodeMedianSeconds, seconds(result.decodeSeconds)))
            print(String(format: "assembly   %.3f s per epoch median, batch %d, %@; epochs: %@",
                         result.assemblyMedianSecondsPerEpoch, batch, noAugment ? "no augmentation" : "augmented",
                         seconds(result.assemblySecondsPerEpoch)))
            print(String(format: "signatures %.3f s median (%.0f images/s; near-duplicate audit); runs: %@",
                         result.signatureMedianSeconds, Double(result.images) / result.signatureMedianSeconds,
                         seconds(result.signatureSeconds)))
            print(String(format: "near-dups  %.3f s to compare a random 20%% with the other 80%% (%d pairs)",
                         result.nearDuplicateSearchSeconds, result.nearDuplicatePairs))
        }
    }
}

/// Pretty, key-sorted JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// One warning on stderr listing every skipped file.
func warnAboutSkipped(_ skipped: [SkippedFile]) {
    guard !skipped.isEmpty else { return }
    var text = "warning: skipped \(skipped.count) file(s):\n"
    for file in skipped { text += "  \(file.path): \(file.reason)\n" }
    FileHandle.standardError.write(Data(text.utf8))
}
