import AblateCore

/// How to divide a dataset into training and test files. Codable so that a run can record exactly what it used.
public struct SplitConfig: Codable, Equatable, Hashable, Sendable {
    /// Stored under the name `strategy` (audits keep this struct as JSON).
    public var strategy: SplitProtocol
    /// Fraction of files in the test part (ignored by `folders`).
    public var testFraction: Double
    public var seed: UInt64
    /// For `grouped` (and for the audit's group check); nil means `photo`.
    public var groupKey: GroupKeyRule?
    /// Fraction of all files held out of training for validation, drawn like the test part from what the test
    /// part leaves (whole groups when grouped; never a test file); nil: no validation part.
    public var validationFraction: Double?
    /// Grouped k-fold cross-validation (`strategy` kfold): the groups are dealt to `folds` folds (`GroupFolds`)
    /// and fold `fold` is the test part; `testFraction` is then unused.
    public var folds: Int?
    public var fold: Int?

    /// Every declared value explicitly (a run's come from its experiment file, through `RunPlan`); the optional
    /// parts (validation, k-fold) are absent unless given.
    public init(strategy: SplitProtocol, testFraction: Double, seed: UInt64, groupKey: GroupKeyRule?,
                validationFraction: Double? = nil, folds: Int? = nil, fold: Int? = nil) {
        self.strategy = strategy
        self.testFraction = testFraction
        self.seed = seed
        self.groupKey = groupKey
        self.validationFraction = validationFraction
        self.folds = folds
        self.fold = fold
    }

    enum CodingKeys: String, CodingKey {
        case strategy, seed, folds, fold
        case testFraction = "test_fraction"
        case groupKey = "group_key"
        case validationFraction = "validation_fraction"
    }

    /// The folder layout this strategy reads.
    public var layout: FolderLayout { strategy == .folders ? .splitFolders : .classFolders }

    /// The group key rule in effect (`photo` unless set).
    public var effectiveGroupKey: GroupKeyRule { groupKey ?? .photo }
}

/// A split: indices into the file list it was made from. Sorted ascending in each part.
public struct DatasetSplit: Codable, Equatable, Sendable {
    public let config: SplitConfig
    public let train: [Int]
    public let test: [Int]
    /// The validation part: `folders`' `val/`, or `validationFraction` of the files drawn from what the test part
    /// leaves; empty without either.
    public let validation: [Int]

    /// Splits `files` (e.g. `ImageFolderIndex.files` or `ImageCache.files`) as `config` says; deterministic. The
    /// test part is drawn first from the seed, exactly as without a validation part, so adding validation leaves
    /// the test set unchanged.
    public init(files: [ImageFile], config: SplitConfig) throws {
        guard config.strategy == .folders || config.folds != nil || (config.testFraction > 0 && config.testFraction < 1) else {
            throw DatasetError.invalidConfiguration(
                "test fraction \(config.testFraction) must be between 0 and 1 (exclusive), e.g. 0.2")
        }
        if let v = config.validationFraction,
           !(v > 0 && v < 1 && (config.folds.map { v + 1 / Double($0) < 1 } ?? (v + config.testFraction < 1))) {
            throw DatasetError.invalidConfiguration("validation fraction \(v) must be above 0 and leave files for "
                + "training beside the test fraction \(config.testFraction), e.g. 0.1")
        }
        self.config = config
        var rng = SplitMix64(seed: config.seed)
        var test: [Int] = [], validation: [Int] = []
        let all = Array(files.indices)
        if config.strategy == .kfold || config.folds != nil {
            guard config.strategy == .grouped || config.strategy == .kfold, let folds = config.folds else {
                throw DatasetError.invalidConfiguration("k-fold cross-validation deals whole groups to folds: it needs the kfold protocol and a number of folds")
            }
            guard folds >= 2, let fold = config.fold, (0..<folds).contains(fold) else {
                throw DatasetError.invalidConfiguration("k-fold needs folds ≥ 2 and a fold in 0..<folds (got folds \(folds), "
                    + "fold \(config.fold.map(String.init) ?? "none"))")
            }
            let groups = try FileGroups(files, indices: all, rule: config.effectiveGroupKey)
            guard groups.keys.count >= folds else {
                throw DatasetError.invalidConfiguration("\(folds) folds need at least \(folds) groups; the files form "
                    + "\(groups.keys.count) by \(config.effectiveGroupKey.name)")
            }
            let assignment = GroupFolds.assign(classCounts: groups.classCounts, folds: folds, seed: config.seed)
            for (g, f) in assignment.enumerated() where f == fold { test += groups.members[g] }
            if let v = config.validationFraction {
                let held = Set(test)
                let rest = all.filter { !held.contains($0) }
                // A fraction of all files, drawn from this fold's training folds: scaled to their size.
                validation = try DatasetSplit.draw(.grouped, from: rest, fraction: min(0.95, v * Double(files.count) / Double(max(1, rest.count))),
                                                   files: files, rule: config.effectiveGroupKey, rng: &rng)
            }
        } else if config.strategy == .folders {
            guard files.allSatisfy({ $0.partition != nil }) else {
                throw DatasetError.invalidConfiguration(
                    "the 'folders' split needs files scanned with the split-folder layout (train/ and test/ folders)")
            }
            test = files.indices.filter { files[$0].partition == .test }
            validation = files.indices.filter { files[$0].partition == .val }
        } else {
            test = try DatasetSplit.draw(config.strategy, from: all, fraction: config.testFraction, files: files,
                                         rule: config.effectiveGroupKey, rng: &rng)
            if let v = config.validationFraction {
                let held = Set(test)
                // A fraction of all files, taken from the rest: scaled to the rest's size.
                validation = try DatasetSplit.draw(config.strategy, from: all.filter { !held.contains($0) },
                                                   fraction: v / (1 - config.testFraction), files: files,
                                                   rule: config.effectiveGroupKey, rng: &rng)
            }
        }
        let held = Set(test).union(validation)
        self.test = test.sorted()
        self.validation = validation.sorted()
        self.train = files.indices.filter { !held.contains($0) }
    }

    /// Shuffles `members` and returns the test part, sized like `random_split([1 - f, f])`: both lengths floored,
    /// the remainder going to train first.
    static func cut(_ members: [Int], testFraction: Double, rng: inout SplitMix64) -> [Int] {
        var order = members
        rng.shuffle(&order)
        let n = order.count
        var trainCount = Int((Double(n) * (1 - testFraction)).rounded(.down))
        var testCount = Int((Double(n) * testFraction).rounded(.down))
        var turn = 0
        while trainCount + testCount < n {
            if turn % 2 == 0 { trainCount += 1 } else { testCount += 1 }
            turn += 1
        }
        return Array(order[trainCount...])
    }

    /// The held-out part of `indices` (`fraction` of them) as `strategy` draws it: a shuffled cut, a cut per
    /// class, or whole groups per class.
    static func draw(_ strategy: SplitProtocol, from indices: [Int], fraction: Double, files: [ImageFile],
                     rule: GroupKeyRule, rng: inout SplitMix64) throws -> [Int] {
        switch strategy {
        case .random: return cut(indices, testFraction: fraction, rng: &rng)
        case .stratified: return byClass(files, indices).flatMap { cut($0, testFraction: fraction, rng: &rng) }
        case .grouped, .kfold: return try grouped(files, indices, fraction: fraction, rule: rule, rng: &rng)
        case .folders: return []
        }
    }

    static func byClass(_ files: [ImageFile], _ indices: [Int]) -> [[Int]] {
        let classes = (files.map(\.label).max() ?? -1) + 1
        var members = [[Int]](repeating: [], count: classes)
        for i in indices { members[files[i].label].append(i) }
        return members
    }

    /// Per class (the class of each group's first file), shuffle the groups and move them to the held-out part
    /// until the class has at least its share of files.
    static func grouped(_ files: [ImageFile], _ indices: [Int], fraction: Double, rule: GroupKeyRule,
                        rng: inout SplitMix64) throws -> [Int] {
        let groups = try FileGroups(files, indices: indices, rule: rule)
        var groupsByClass = [[Int]](repeating: [], count: (files.map(\.label).max() ?? -1) + 1)
        for g in groups.keys.indices { groupsByClass[files[groups.members[g][0]].label].append(g) }
        var held: [Int] = []
        for var keys in groupsByClass {
            rng.shuffle(&keys)
            let classFiles = keys.reduce(0) { $0 + groups.members[$1].count }
            let wanted = Int((Double(classFiles) * fraction).rounded())
            var taken = 0
            // Never take every group: training needs each class too.
            for g in keys.dropLast() where taken < wanted {
                held += groups.members[g]
                taken += groups.members[g].count
            }
        }
        return held
    }
}
