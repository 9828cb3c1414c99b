import AblateCore
import Foundation

// The fields of a run and of an epoch in `status --json` and in export documents, each declared once: its key (a
// column's name, from the table record's `Columns`, wherever the field is a column), what a record gives for it,
// and how an export document's value is read back. `summaryJSON` and the archive writer write these lists;
// the archive reader reads them. A column added to `runs` or `epochs` is exported and merged by adding one line
// here.

/// A key of an export document's object, for decoding by name.
struct FieldKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

typealias FieldContainer = KeyedDecodingContainer<FieldKey>

/// Dates as export documents write them (ISO 8601 UTC with milliseconds); a missing or empty text is nil.
func exportDate(_ c: FieldContainer, _ key: String, source: String) throws -> Date? {
    guard let text = try c.decodeIfPresent(String.self, forKey: FieldKey(key)), !text.isEmpty else { return nil }
    guard let date = RunStore.parseISO(text) else {
        throw StoreError.invalidArchive(path: source, reason: "\(key) '\(text)' is not an ISO 8601 time")
    }
    return date
}

/// One field of an object of type `Record` (a run, an epoch), with `Extra` the values written beside the record
/// (a run's summary). `read` is nil for fields derived from other data (`epochs_done`) or written for people only.
struct ExportField<Record, Extra>: @unchecked Sendable {  // immutable; its closures capture nothing mutable
    let key: String
    /// Written by `status --json` too (false: export documents only).
    let inStatus: Bool
    /// Left out of the object when nil (fields added later: documents of runs without them keep their form).
    let omitNull: Bool
    let write: (Record, Extra) -> JSONValue
    let read: ((inout Record, FieldContainer, _ source: String) throws -> Void)?

    init(_ key: String, inStatus: Bool = true, omitNull: Bool = false, write: @escaping (Record, Extra) -> JSONValue,
         read: ((inout Record, FieldContainer, String) throws -> Void)? = nil) {
        self.key = key; self.inStatus = inStatus; self.omitNull = omitNull; self.write = write; self.read = read
    }

    /// A text column.
    static func text(_ column: String, _ path: WritableKeyPath<Record, String>) -> Self {
        Self(column, write: { r, _ in .string(r[keyPath: path]) },
             read: { r, c, _ in r[keyPath: path] = try c.decode(String.self, forKey: FieldKey(column)) })
    }

    /// An optional text column.
    static func text(_ column: String, _ path: WritableKeyPath<Record, String?>, inStatus: Bool = true,
                     omitNull: Bool = false) -> Self {
        Self(column, inStatus: inStatus, omitNull: omitNull, write: { r, _ in r[keyPath: path].map(JSONValue.string) ?? .null },
             read: { r, c, _ in r[keyPath: path] = try c.decodeIfPresent(String.self, forKey: FieldKey(column)) })
    }

    /// A whole-number column.
    static func int(_ column: String, _ path: WritableKeyPath<Record, Int>) -> Self {
        Self(column, write: { r, _ in .int(r[keyPath: path]) },
             read: { r, c, _ in r[keyPath: path] = try c.decode(Int.self, forKey: FieldKey(column)) })
    }

    /// An optional whole-number column.
    static func int(_ column: String, _ path: WritableKeyPath<Record, Int?>, omitNull: Bool = false) -> Self {
        Self(column, omitNull: omitNull, write: { r, _ in r[keyPath: path].map(JSONValue.int) ?? .null },
             read: { r, c, _ in r[keyPath: path] = try c.decodeIfPresent(Int.self, forKey: FieldKey(column)) })
    }

    /// A number column.
    static func number(_ column: String, _ path: WritableKeyPath<Record, Double>) -> Self {
        Self(column, write: { r, _ in .double(r[keyPath: path]) },
             read: { r, c, _ in r[keyPath: path] = try c.decode(Double.self, forKey: FieldKey(column)) })
    }

    /// An optional number column.
    static func number(_ column: String, _ path: WritableKeyPath<Record, Double?>, omitNull: Bool = false) -> Self {
        Self(column, omitNull: omitNull, write: { r, _ in r[keyPath: path].map(JSONValue.double) ?? .null },
             read: { r, c, _ in r[keyPath: path] = try c.decodeIfPresent(Double.self, forKey: FieldKey(column)) })
    }

    /// An optional date column; `orEpoch`: a missing date reads as 1970 (a column that is never empty).
    static func date(_ column: String, _ path: WritableKeyPath<Record, Date?>) -> Self {
        Self(column, write: { r, _ in r[keyPath: path].map { .string(RunStore.iso($0)) } ?? .null },
             read: { r, c, source in r[keyPath: path] = try exportDate(c, column, source: source) })
    }

    static func date(_ column: String, _ path: WritableKeyPath<Record, Date>) -> Self {
        Self(column, write: { r, _ in .string(RunStore.iso(r[keyPath: path])) },
             read: { r, c, source in r[keyPath: path] = try exportDate(c, column, source: source) ?? Date(timeIntervalSince1970: 0) })
    }

    /// A value written for people (or derived), not read back.
    static func derived(_ key: String, inStatus: Bool = true, omitNull: Bool = false,
                        _ write: @escaping (Record, Extra) -> JSONValue) -> Self {
        Self(key, inStatus: inStatus, omitNull: omitNull, write: write)
    }
}

extension Array {
    /// The object of these fields for `record`.
    func object<Record, Extra>(_ record: Record, _ extra: Extra, statusOnly: Bool) -> [String: JSONValue]
    where Element == ExportField<Record, Extra> {
        var object: [String: JSONValue] = [:]
        for f in self where !statusOnly || f.inStatus {
            let value = f.write(record, extra)
            if f.omitNull && value == .null { continue }
            object[f.key] = value
        }
        return object
    }

    /// Sets `record` from an export document's object.
    func read<Record, Extra>(into record: inout Record, from c: FieldContainer, source: String) throws
    where Element == ExportField<Record, Extra> {
        for f in self { try f.read?(&record, c, source) }
    }
}

/// What a run's fields write beside the record: its experiment and progress.
typealias RunExtra = RunSummary

extension RunRecord {
    /// A blank record that an export document's fields fill in.
    static var blank: RunRecord {
        RunRecord(id: 0, experimentID: 0, configJSON: "", configHash: "", label: "", seed: nil, status: .queued,
                  epochsTotal: 0, queuedAt: Date(timeIntervalSince1970: 0), heartbeat: nil, host: nil, gitCommit: nil,
                  ablateVersion: nil, threads: nil, startedAt: nil, endedAt: nil, errorMessage: nil,
                  checkpointPath: nil, dataAuditJSON: nil, attempts: 0)
    }

    /// The run's fields. Column names come from `RunRow.Columns`; `experiment_id`, `claim_token` and `lease_holder`
    /// belong to one store and are not exported.
    static let exportFields: [ExportField<RunRecord, RunExtra>] = {
        typealias C = RunRow.Columns
        typealias F = ExportField<RunRecord, RunExtra>
        return [
            F(C.id.rawValue, write: { r, _ in .int(Int(r.id)) },
              read: { r, c, _ in r.id = Int64(try c.decode(Int.self, forKey: FieldKey(C.id.rawValue))) }),
            .derived("experiment") { _, s in .string(s.experimentName) },
            .text(C.label.rawValue, \.label),
            .int(C.seed.rawValue, \.seed),
            F(C.status.rawValue, write: { r, _ in .string(r.status.rawValue) }, read: { r, c, source in
                let text = try c.decode(String.self, forKey: FieldKey(C.status.rawValue))
                guard let status = RunStatus(rawValue: text) else {
                    throw StoreError.invalidArchive(path: source, reason: "run '\(r.label)' has an unknown status '\(text)'")
                }
                r.status = status
            }),
            .text(C.configHash.rawValue, \.configHash),
            .derived("config") { r, _ in .raw(r.configJSON) },
            F(C.configJSON.rawValue, inStatus: false, write: { r, _ in .string(r.configJSON) },
              read: { r, c, _ in r.configJSON = try c.decode(String.self, forKey: FieldKey(C.configJSON.rawValue)) }),
            .derived("epochs_done") { _, s in .int(s.epochsDone) },
            .int(C.epochsTotal.rawValue, \.epochsTotal),
            .derived("best_test_acc") { _, s in s.bestTestAcc.map(JSONValue.double) ?? .null },
            .derived("best_epoch") { _, s in s.bestEpoch.map(JSONValue.int) ?? .null },
            .derived("last_test_acc") { _, s in s.lastTestAcc.map(JSONValue.double) ?? .null },
            .text(C.host.rawValue, \.host),
            .text(C.gitCommit.rawValue, \.gitCommit),
            .text(C.ablateVersion.rawValue, \.ablateVersion),
            .int(C.threads.rawValue, \.threads),
            // The `hardware_json` column, as the JSON array it holds.
            F("machines", write: { r, _ in r.hardwareJSON.map(JSONValue.raw) ?? .null }, read: { r, c, _ in
                r.hardwareJSON = try c.decodeIfPresent([Machine].self, forKey: FieldKey("machines")).map(Machine.encode)
            }),
            .int(C.attempts.rawValue, \.attempts),
            .date(C.queuedAt.rawValue, \.queuedAt),
            .date(C.startedAt.rawValue, \.startedAt),
            .date(C.endedAt.rawValue, \.endedAt),
            .date(C.heartbeat.rawValue, \.heartbeat),
            .text(C.errorMessage.rawValue, \.errorMessage),
            .text(C.checkpointPath.rawValue, \.checkpointPath),
            .derived("data_audit") { r, _ in r.dataAuditJSON.map(JSONValue.raw) ?? .null },
            .text(C.dataAuditJSON.rawValue, \.dataAuditJSON, inStatus: false),
            .int(C.stoppedEarlyAt.rawValue, \.stoppedEarlyAt, omitNull: true),
            .derived("init_report", omitNull: true) { r, _ in r.initReportJSON.map(JSONValue.raw) ?? .null },
            .text(C.initReportJSON.rawValue, \.initReportJSON, inStatus: false, omitNull: true),
        ]
    }()
}

extension EpochMetrics {
    /// An epoch's fields (with its record time), column names from `EpochRow.Columns`; the validation ones only
    /// where an epoch has them.
    static let exportFields: [ExportField<EpochRecord, Void>] = {
        typealias C = EpochRow.Columns
        typealias F = ExportField<EpochRecord, Void>
        return [
            .int(C.epoch.rawValue, \.metrics.epoch),
            .number(C.trainLoss.rawValue, \.metrics.trainLoss),
            .number(C.trainAcc.rawValue, \.metrics.trainAccuracy),
            .number(C.testLoss.rawValue, \.metrics.testLoss),
            .number(C.testAcc.rawValue, \.metrics.testAccuracy),
            .number(C.learningRate.rawValue, \.metrics.learningRate),
            .number(C.seconds.rawValue, \.metrics.seconds),
            .number(C.imagesPerSecond.rawValue, \.metrics.imagesPerSecond),
            .date(C.recordedAt.rawValue, \.recordedAt),
            .number(C.valLoss.rawValue, \.metrics.validationLoss, omitNull: true),
            .number(C.valAcc.rawValue, \.metrics.validationAccuracy, omitNull: true),
        ]
    }()
}
