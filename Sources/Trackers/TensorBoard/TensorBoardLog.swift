// A folder of TensorBoard runs kept in step with the store: `export --format tensorboard` and `run --tensorboard`
// both call `sync`, which appends the epochs a run's folder lacks. Each process writes event files of its own
// (TensorBoard reads every file of a folder), and only steps after the last one already in the folder, so a
// resumed run, a repeated export or an export after a live run never writes a step twice. Besides the epochs'
// metrics (`TrackedMetrics`), a run that selects its epoch on validation has the epoch selected so far at every
// step (`selected_epoch`), and one that stopped early the epoch it stopped after (`stopped_early_at`, once, at
// that step, written when the run ends).
import AblateCore
import Foundation
import Store

public final class TensorBoardLog {
    public let root: URL
    /// This process's open event file per run folder (relative path), created when it first has something to write.
    private var files: [String: FileHandle] = [:]
    /// What each run folder holds, this process's writes included.
    private var seen: [String: Contents] = [:]
    private let clock: () -> Date

    /// A run folder's events as far as syncing needs them: the last epoch's step, and whether early stopping's
    /// scalar is there.
    struct Contents: Equatable {
        var lastStep: Int64 = 0
        var hasStop = false
    }

    public init(root: String, clock: @escaping () -> Date = { Date() }) throws {
        self.root = URL(fileURLWithPath: root)
        self.clock = clock
        do { try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true) } catch {
            throw TrackerError.io("cannot create the TensorBoard folder \(root): \(ErrorText.reason(error))")
        }
    }

    deinit { for file in files.values { try? file.close() } }

    /// Appends the run's epochs after the last step its folder holds, each with the epoch selected so far when
    /// `training.select` follows validation, then early stopping's epoch once the run has one and the folder lacks
    /// it; returns how many epochs it wrote.
    @discardableResult
    public func sync(_ run: RunRecord, experiment: String, epochs: [EpochRecord]) throws -> Int {
        let folder = RunFolderName.of(run, experiment: experiment)
        var contents = try seen[folder] ?? Self.contents(of: root.appendingPathComponent(folder))
        seen[folder] = contents
        let new = epochs.filter { Int64($0.metrics.epoch) > contents.lastStep }
        let selection = new.isEmpty ? nil : TrackedMetrics.selection(run)
        var bytes: [UInt8] = []
        for e in new {
            var scalars = TrackedMetrics.values(e.metrics).map { Event.Scalar(tag: $0.key, value: Float($0.value)) }
            let upToHere = epochs.prefix { $0.metrics.epoch <= e.metrics.epoch }.map(\.metrics)
            if let selected = selection?.selectedEpoch(in: upToHere) {
                scalars.append(Event.Scalar(tag: TrackedMetrics.selectedEpochKey, value: Float(selected)))
            }
            bytes += TFRecord.frame(Event(wallTime: e.recordedAt.timeIntervalSince1970, step: Int64(e.metrics.epoch),
                                          content: .scalars(scalars)).encoded)
        }
        let stop = run.stoppedEarlyAt.flatMap { epoch in
            contents.hasStop ? nil : epochs.first { $0.metrics.epoch == epoch }.map { (epoch, $0) }
        }
        if let (epoch, record) = stop {
            let scalar = Event.Scalar(tag: TrackedMetrics.stoppedEarlyKey, value: Float(epoch))
            bytes += TFRecord.frame(Event(wallTime: (run.endedAt ?? record.recordedAt).timeIntervalSince1970,
                                          step: Int64(epoch), content: .scalars([scalar])).encoded)
        }
        guard !bytes.isEmpty else { return 0 }
        do {
            let file = try files[folder] ?? newFile(folder)
            files[folder] = file
            try file.write(contentsOf: bytes)
        } catch let e as TrackerError { throw e } catch {
            throw TrackerError.io("cannot write TensorBoard events under \(root.path)/\(folder): \(ErrorText.reason(error))")
        }
        if let last = new.last { contents.lastStep = Int64(last.metrics.epoch) }
        if stop != nil { contents.hasStop = true }
        seen[folder] = contents
        return new.count
    }

    /// A new event file in the folder, its first record the file version.
    private func newFile(_ folder: String) throws -> FileHandle {
        let dir = root.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let now = clock()
        // TensorBoard finds event files by "tfevents" in the name and reads a folder's files in name order:
        // the start time first keeps that order the order of writing.
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        let name = "events.out.tfevents.\(Int(now.timeIntervalSince1970)).\(host).\(getpid()).\(files.count)"
        let url = dir.appendingPathComponent(name)
        let header = TFRecord.frame(Event(wallTime: now.timeIntervalSince1970, step: 0,
                                          content: .fileVersion(Event.fileVersion)).encoded)
        guard FileManager.default.createFile(atPath: url.path, contents: Data(header)) else {
            throw TrackerError.io("cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        return handle
    }

    /// The highest step of an epoch's scalars in the folder's event files (0 when there is none), and whether
    /// early stopping's scalar is among them.
    static func contents(of folder: URL) throws -> Contents {
        var contents = Contents()
        for event in try events(in: folder) {
            guard case .scalars(let s) = event.content, !s.isEmpty else { continue }
            if s.contains(where: { $0.tag == TrackedMetrics.stoppedEarlyKey }) {
                contents.hasStop = true
            } else {
                contents.lastStep = max(contents.lastStep, event.step)
            }
        }
        return contents
    }

    /// Every scalar event in a run folder's files, in file-name order: what a reader of the folder sees.
    public static func events(in folder: URL) throws -> [Event] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.contains("tfevents") }.sorted()
        return try names.flatMap { name -> [Event] in
            let path = folder.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else { throw TrackerError.io("cannot read \(path)") }
            return try TFRecord.records(in: Array(data)).map(Event.init(decoding:))
        }
    }
}
