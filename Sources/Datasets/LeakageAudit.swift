import Dispatch

/// How much a split's test part is already known from its training part. Codable for the run record; the JSON
/// keys are snake_case.
public struct LeakageAudit: Codable, Equatable, Sendable {
    public let split: SplitConfig
    /// Name of the group key rule used for `testGroupSharedWithTrain` (e.g. `photo`).
    public let groupKey: String
    public let trainFiles: Int
    public let testFiles: Int
    /// Files of the validation part; nil without one (and in records written before splits had one).
    public var validationFiles: Int?
    /// Test files whose bytes equal some training file's bytes.
    public let testByteIdenticalInTrain: Int
    /// Test files whose group key is also the key of some training file.
    public let testGroupSharedWithTrain: Int
    /// Distinct group keys found on both sides.
    public let groupsOnBothSides: Int
    /// Files left out: unusable entries found while scanning plus files the audit could not read.
    public let skippedFiles: Int
    public let skipped: [SkippedFile]
    /// Near-duplicates found by appearance (no names); nil in records written before the audit had it.
    public var nearDuplicates: NearDuplicateAudit?

    enum CodingKeys: String, CodingKey {
        case split
        case groupKey = "group_key"
        case trainFiles = "train_files"
        case testFiles = "test_files"
        case validationFiles = "validation_files"
        case testByteIdenticalInTrain = "test_byte_identical_in_train"
        case testGroupSharedWithTrain = "test_group_shared_with_train"
        case groupsOnBothSides = "groups_on_both_sides"
        case skippedFiles = "skipped_files"
        case skipped
        case nearDuplicates = "near_duplicates"
    }

    /// Audits `split` of `files`: hashes every file's contents (in parallel), confirms equal hashes byte by byte, and
    /// compares group keys (`groupKey`, default: the split's own rule, `photo` unless set). `alreadySkipped`: files
    /// left out before the split (e.g. `ImageFolderIndex.skipped`), counted in `skippedFiles`.
    public init(files: [ImageFile], split: DatasetSplit, groupKey: GroupKeyRule? = nil,
                alreadySkipped: [SkippedFile] = []) throws {
        let rule = groupKey ?? split.config.effectiveGroupKey
        let matcher = try rule.matcher()
        let involved = split.train + split.test
        let fingerprints = LeakageAudit.fingerprints(files, indices: involved)

        var skipped = alreadySkipped
        var trainByFingerprint: [Fingerprint: [Int]] = [:]
        var trainKeys = Set<String>()
        for i in split.train {
            trainKeys.insert(matcher.key(forFileName: files[i].fileName))
            switch fingerprints[i]! {
            case .success(let fingerprint): trainByFingerprint[fingerprint, default: []].append(i)
            case .failure(let problem): skipped.append(problem)
            }
        }
        var identical = 0, sharedGroup = 0
        var keysOnBothSides = Set<String>()
        for i in split.test {
            let key = matcher.key(forFileName: files[i].fileName)
            if trainKeys.contains(key) { sharedGroup += 1; keysOnBothSides.insert(key) }
            switch fingerprints[i]! {
            case .success(let fingerprint):
                // Equal hashes are confirmed byte by byte, so a hash collision cannot count as a duplicate.
                let candidates = trainByFingerprint[fingerprint] ?? []
                if candidates.contains(where: { LeakageAudit.sameBytes(files[$0].path, files[i].path) }) { identical += 1 }
            case .failure(let problem): skipped.append(problem)
            }
        }
        self.split = split.config
        self.groupKey = rule.name
        self.trainFiles = split.train.count
        self.testFiles = split.test.count
        self.validationFiles = split.validation.isEmpty ? nil : split.validation.count
        self.testByteIdenticalInTrain = identical
        self.testGroupSharedWithTrain = sharedGroup
        self.groupsOnBothSides = keysOnBothSides.count
        self.skippedFiles = skipped.count
        self.skipped = skipped
    }

    struct Fingerprint: Hashable { let size: Int; let hash: Int }

    /// Contents hash per file (SipHash via `Hasher`, seeded per process: only compared within this run).
    static func fingerprints(_ files: [ImageFile], indices: [Int]) -> [Int: Result<Fingerprint, SkippedFile>] {
        // Iteration n writes results[n] only (disjoint writes across threads, hence the unchecked capture).
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<Result<Fingerprint, SkippedFile>?>.allocate(capacity: indices.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: indices.count) { n in
            let path = files[indices[n]].path
            do {
                let bytes = try readFileBytes(path)
                var hasher = Hasher()
                bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
                results[n] = .success(Fingerprint(size: bytes.count, hash: hasher.finalize()))
            } catch {
                results[n] = .failure(SkippedFile(path: path, error: error))
            }
        }
        var byIndex: [Int: Result<Fingerprint, SkippedFile>] = [:]
        for (n, i) in indices.enumerated() { byIndex[i] = results[n]! }
        return byIndex
    }

    static func sameBytes(_ a: String, _ b: String) -> Bool {
        guard let x = try? readFileBytes(a), let y = try? readFileBytes(b) else { return false }
        return x == y
    }
}

extension SkippedFile: Error {}
