import AblateCore
import Datasets
import XCTest

/// Validation parts and grouped k-fold: never overlapping test, whole groups on one side, every group tested once.
final class ValidationAndFoldTests: XCTestCase {
    /// Patients with one to four photos of one class each, three copies per photo (monkeypox-style names).
    func files(patients: Int, seed: UInt64) -> [ImageFile] {
        var rng = SplitMix64(seed: seed)
        var out: [ImageFile] = []
        for p in 0..<patients {
            let label = Int(rng.next() % 4), photos = 1 + Int(rng.next() % 4)
            for photo in 0..<photos { for copy in 0..<3 {
                out.append(ImageFile(path: "/d/c\(label)/P\(p)_\(photo)_\(copy).jpg", label: label))
            } }
        }
        return out
    }

    func patient(_ f: ImageFile) -> String { String(f.fileName.split(separator: "_")[0]) }

    /// Property over seeds and fractions: parts are disjoint and cover the files; grouped parts share no patient;
    /// the test part is the same with and without validation.
    func testValidationNeverOverlapsTestAndRespectsGroups() throws {
        for seed in [0, 1, 7, 42] as [UInt64] {
            let all = files(patients: 60, seed: seed)
            for (test, validation) in [(0.2, 0.1), (0.25, 0.2), (0.1, 0.3)] {
                for strategy in [SplitProtocol.random, .stratified, .grouped] {
                    let config = SplitConfig(strategy: strategy, testFraction: test, seed: seed,
                                             groupKey: strategy == .grouped ? .patient : nil, validationFraction: validation)
                    let split = try DatasetSplit(files: all, config: config)
                    XCTAssertEqual(Set(split.train).count + Set(split.test).count + Set(split.validation).count, all.count)
                    XCTAssertTrue(Set(split.test).isDisjoint(with: split.validation), "\(strategy) \(seed)")
                    XCTAssertTrue(Set(split.train).isDisjoint(with: split.validation))
                    XCTAssertFalse(split.validation.isEmpty)
                    let share = Double(split.validation.count) / Double(all.count)
                    XCTAssertEqual(share, validation, accuracy: strategy == .grouped ? 0.08 : 0.02, "\(strategy) \(seed)")
                    var without = config; without.validationFraction = nil
                    XCTAssertEqual(try DatasetSplit(files: all, config: without).test, split.test,
                                   "adding validation leaves the test set as it was")
                    if strategy == .grouped {
                        let sides = [split.train, split.test, split.validation].map { Set($0.map { patient(all[$0]) }) }
                        XCTAssertTrue(sides[0].isDisjoint(with: sides[1]) && sides[0].isDisjoint(with: sides[2])
                                      && sides[1].isDisjoint(with: sides[2]), "a patient on two sides")
                    }
                }
            }
        }
    }

    /// Every group is tested exactly once over the folds; folds keep the class balance as far as groups allow;
    /// each fold's validation part comes from its training folds only.
    func testGroupedKFoldTestsEveryGroupOnce() throws {
        for seed in [0, 3] as [UInt64] {
            let all = files(patients: 113, seed: seed)
            var tested: [String: Int] = [:]
            var classShares: [[Double]] = []
            for fold in 0..<5 {
                let split = try DatasetSplit(files: all, config: SplitConfig(
                    strategy: .kfold, testFraction: 0.2, seed: seed, groupKey: .patient, validationFraction: 0.15,
                    folds: 5, fold: fold))
                for p in Set(split.test.map { patient(all[$0]) }) { tested[p, default: 0] += 1 }
                let sides = [split.train, split.test, split.validation].map { Set($0.map { patient(all[$0]) }) }
                XCTAssertTrue(sides[0].isDisjoint(with: sides[1]) && sides[1].isDisjoint(with: sides[2])
                              && sides[0].isDisjoint(with: sides[2]))
                XCTAssertEqual(split.train.count + split.test.count + split.validation.count, all.count)
                var counts = [Double](repeating: 0, count: 4)
                for i in split.test { counts[all[i].label] += 1 }
                classShares.append(counts.map { $0 / Double(split.test.count) })
            }
            XCTAssertEqual(tested.count, 113, "every patient is tested")
            XCTAssertTrue(tested.values.allSatisfy { $0 == 1 }, "…exactly once")
            var overall = [Double](repeating: 0, count: 4)
            for f in all { overall[f.label] += 1 / Double(all.count) }
            for shares in classShares { for c in 0..<4 { XCTAssertEqual(shares[c], overall[c], accuracy: 0.08) } }
        }
        XCTAssertEqual(GroupFolds.assign(classCounts: [[3, 0], [0, 3], [2, 1], [1, 2]], folds: 2, seed: 1),
                       GroupFolds.assign(classCounts: [[3, 0], [0, 3], [2, 1], [1, 2]], folds: 2, seed: 1))
    }

    func testBadFoldSettingsAreClearErrors() {
        let all = files(patients: 10, seed: 1)
        for (config, words) in [
            (SplitConfig(strategy: .random, testFraction: 0.2, seed: 0, groupKey: nil, folds: 5, fold: 0), "needs the kfold protocol"),
            (SplitConfig(strategy: .grouped, testFraction: 0.2, seed: 0, groupKey: .patient, folds: 5, fold: 5), "fold in 0..<folds"),
            (SplitConfig(strategy: .grouped, testFraction: 0.2, seed: 0, groupKey: .patient, folds: 50, fold: 0), "need at least 50 groups"),
            (SplitConfig(strategy: .random, testFraction: 0.5, seed: 0, groupKey: nil, validationFraction: 0.5), "validation fraction 0.5"),
        ] {
            XCTAssertThrowsError(try DatasetSplit(files: all, config: config)) { error in
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
        }
    }
}
