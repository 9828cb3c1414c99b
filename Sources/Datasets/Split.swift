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

    /// Every value explicitly (a run's come from its experiment file, through `RunPlan`).
    public init(strategy: SplitProtocol, testFraction: Double, seed: UInt64, groupKey: GroupKeyRule?) {
        self.strategy = strategy
        self.testFraction = testFraction
        self.seed = seed
        self.groupKey = groupKey
    }

    enum CodingKeys: String, CodingKey {
        case strategy, seed
        case testFraction = "test_fraction"
        case groupKey = "group_key"
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
    /// Only the `folders` strategy fills this (from `val/`).
    public let validation: [Int]

    /// Splits `files` (e.g. `ImageFolderIndex.files` or `ImageCache.files`) as `config` says; deterministic.
    public init(files: [ImageFile], config: SplitConfig) throws {
        guard config.strategy == .folders || (config.testFraction > 0 && config.testFraction < 1) else {
            throw DatasetError.invalidConfiguration(
                "test fraction \(config.testFraction) must be between 0 and 1 (exclusive), e.g. 0.2")
        }
        self.config = config
        var rng = SplitMix64(seed: config.seed)
        var test: [Int] = [], validation: [Int] = []
        switch config.strategy {
        case .random:
            test = DatasetSplit.cut(Array(files.indices), testFraction: config.testFraction, rng: &rng)
        case .stratified:
            for members in DatasetSplit.byClass(files) {
                test += DatasetSplit.cut(members, testFraction: config.testFraction, rng: &rng)
            }
        case .grouped:
            test = try DatasetSplit.groupedTest(files, config: config, rng: &rng)
        case .folders:
            guard files.allSatisfy({ $0.partition != nil }) else {
                throw DatasetError.invalidConfiguration(
                    "the 'folders' split needs files scanned with the split-folder layout (train/ and test/ folders)")
            }
            test = files.indices.filter { files[$0].partition == .test }
            validation = files.indices.filter { files[$0].partition == .val }
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

    static func byClass(_ files: [ImageFile]) -> [[Int]] {
        let classes = (files.map(\.label).max() ?? -1) + 1
        var members = [[Int]](repeating: [], count: classes)
        for (i, file) in files.enumerated() { members[file.label].append(i) }
        return members
    }

    /// Per class (the class of each group's first file), shuffle the groups and move them to test until the class
    /// has at least its share of test files.
    static func groupedTest(_ files: [ImageFile], config: SplitConfig, rng: inout SplitMix64) throws -> [Int] {
        let matcher = try config.effectiveGroupKey.matcher()
        var groups: [String: [Int]] = [:]
        var groupOrder: [String] = []
        for (i, file) in files.enumerated() {
            let key = matcher.key(forFileName: file.fileName)
            if groups[key] == nil { groupOrder.append(key) }
            groups[key, default: []].append(i)
        }
        var groupsByClass = [[String]](repeating: [], count: (files.map(\.label).max() ?? -1) + 1)
        for key in groupOrder { groupsByClass[files[groups[key]![0]].label].append(key) }
        var test: [Int] = []
        for var keys in groupsByClass {
            rng.shuffle(&keys)
            let classFiles = keys.reduce(0) { $0 + groups[$1]!.count }
            let wanted = Int((Double(classFiles) * config.testFraction).rounded())
            var taken = 0
            // Never take every group: training needs each class too.
            for key in keys.dropLast() where taken < wanted {
                test += groups[key]!
                taken += groups[key]!.count
            }
        }
        return test
    }
}
