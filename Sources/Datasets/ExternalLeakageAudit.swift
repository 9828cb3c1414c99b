/// How much of an external test folder a model has already seen in training: files whose bytes equal a training
/// file's, and files whose name gives the same original photograph or the same patient as a training file.
/// The name keys (`GroupKeyRule.photo`, `.patient`) follow the monkeypox data's naming (`M01_02_07.jpg`) and are
/// compared only between names that follow it (two unrelated folders may both hold an `image-001.jpg`); on
/// folders named another way the byte comparison is what counts. Codable for the run store;
/// the JSON keys are snake_case.
public struct ExternalLeakageAudit: Codable, Equatable, Sendable {
    public let trainFiles: Int
    public let testFiles: Int
    /// Test files whose bytes equal some training file's bytes (hash match confirmed byte by byte).
    public let testByteIdenticalInTrain: Int
    /// Test files whose photograph key (`GroupKeyRule.photo`) is also some training file's (names following the
    /// scheme only).
    public let testPhotoSharedWithTrain: Int
    /// Test files whose patient key (`GroupKeyRule.patient`) is also some training file's.
    public let testPatientSharedWithTrain: Int
    /// Files that could not be read for the byte comparison.
    public let skippedFiles: Int
    /// The folder's images against the training images by appearance (no names); nil in records written before
    /// the audit had it.
    public var nearDuplicates: NearDuplicateComparison?

    enum CodingKeys: String, CodingKey {
        case trainFiles = "train_files"
        case testFiles = "test_files"
        case testByteIdenticalInTrain = "test_byte_identical_in_train"
        case testPhotoSharedWithTrain = "test_photo_shared_with_train"
        case testPatientSharedWithTrain = "test_patient_shared_with_train"
        case skippedFiles = "skipped_files"
        case nearDuplicates = "near_duplicates"
    }

    public init(trainFiles: Int, testFiles: Int, testByteIdenticalInTrain: Int, testPhotoSharedWithTrain: Int,
                testPatientSharedWithTrain: Int, skippedFiles: Int) {
        self.trainFiles = trainFiles; self.testFiles = testFiles
        self.testByteIdenticalInTrain = testByteIdenticalInTrain
        self.testPhotoSharedWithTrain = testPhotoSharedWithTrain
        self.testPatientSharedWithTrain = testPatientSharedWithTrain; self.skippedFiles = skippedFiles
    }

    /// Audits `test` (an external folder's files) against `train` (the files a run trained on).
    public init(test: [ImageFile], train: [ImageFile]) throws {
        let all = train + test
        let fingerprints = LeakageAudit.fingerprints(all, indices: Array(all.indices))
        var trainByFingerprint: [LeakageAudit.Fingerprint: [Int]] = [:]
        var skipped = 0
        for i in train.indices {
            switch fingerprints[i]! {
            case .success(let f): trainByFingerprint[f, default: []].append(i)
            case .failure: skipped += 1
            }
        }
        let photo = try GroupKeyRule.photo.matcher(), patient = try GroupKeyRule.patient.matcher()
        let trainPhotos = Set(train.compactMap { photo.matchedKey(forFileName: $0.fileName) })
        let trainPatients = Set(train.compactMap { patient.matchedKey(forFileName: $0.fileName) })
        func shared(_ matcher: GroupKeyMatcher, _ keys: Set<String>) -> Int {
            test.filter { file in matcher.matchedKey(forFileName: file.fileName).map(keys.contains) ?? false }.count
        }
        var identical = 0
        for i in train.count..<all.count {
            switch fingerprints[i]! {
            case .success(let f):
                let candidates = trainByFingerprint[f] ?? []
                if candidates.contains(where: { LeakageAudit.sameBytes(all[$0].path, all[i].path) }) { identical += 1 }
            case .failure: skipped += 1
            }
        }
        self.init(trainFiles: train.count, testFiles: test.count, testByteIdenticalInTrain: identical,
                  testPhotoSharedWithTrain: shared(photo, trainPhotos),
                  testPatientSharedWithTrain: shared(patient, trainPatients),
                  skippedFiles: skipped)
    }

    /// True when some test file is a copy of a training file, comes from a training photograph or patient, or looks
    /// like a training image.
    public var leaks: Bool {
        testByteIdenticalInTrain > 0 || testPhotoSharedWithTrain > 0 || testPatientSharedWithTrain > 0
            || (nearDuplicates?.flagged ?? 0) > 0
    }

    /// Adds the appearance comparison of the decoded external images (`test`) with a run's training images.
    public mutating func compareAppearance(test: ImageCache, train: ImageCache, trainIndices: [Int]) {
        let external = NearDuplicateAudit.signatures(test), trained = NearDuplicateAudit.signatures(train)
        nearDuplicates = NearDuplicateComparison(
            queryName: "external", queries: (external, test.files.map(\.path)),
            referenceName: "train", references: (trainIndices.map { trained[$0] }, trainIndices.map { train.files[$0].path }))
    }
}
