// A folder of TensorBoard runs kept in step with the store: `export --format tensorboard` and `run --tensorboard`
// both call `sync`, which appends the epochs a run's folder lacks. Each process writes event files of its own
// (TensorBoard reads every file of a folder), and only steps after the last one already in the folder, so a
// resumed run, a repeated export or an export after a live run never writes a step twice.
import AblateCore
import Foundation
import Store

public final class TensorBoardLog {
    public let root: URL
    /// This process's open event file per run folder (relative path), created when it first has something to write.
    private var files: [String: FileHandle] = [:]
    /// The last step in each run folder, this process's writes included.
    private var lastStep: [String: Int64] = [:]
    private let clock: () -> Date

    public init(root: String, clock: @escaping () -> Date = { Date() }) throws {
        self.root = URL(fileURLWithPath: root)
        self.clock = clock
        do { try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true) } catch {
            throw TrackerError.io("cannot create the TensorBoard folder \(root): \(ErrorText.reason(error))")
        }
    }

    deinit { for file in files.values { try? file.close() } }

    /// Appends the run's epochs after the last step its folder holds; returns how many it wrote.
    @discardableResult
    public func sync(_ run: RunRecord, experiment: String, epochs: [EpochRecord]) throws -> Int {
        let folder = RunFolderName.of(run, experiment: experiment)
        let last = try lastStep[folder] ?? Self.lastStep(in: root.appendingPathComponent(folder))
        lastStep[folder] = last
        let new = epochs.filter { Int64($0.metrics.epoch) > last }
        guard !new.isEmpty else { return 0 }
        var bytes: [UInt8] = []
        for e in new {
            let scalars = TrackedMetrics.values(e.metrics).map { Event.Scalar(tag: $0.key, value: Float($0.value)) }
            let event = Event(wallTime: e.recordedAt.timeIntervalSince1970, step: Int64(e.metrics.epoch),
                              content: .scalars(scalars))
            bytes += TFRecord.frame(event.encoded)
        }
        do {
            let file = try files[folder] ?? newFile(folder)
            files[folder] = file
            try file.write(contentsOf: bytes)
        } catch let e as TrackerError { throw e } catch {
            throw TrackerError.io("cannot write TensorBoard events under \(root.path)/\(folder): \(ErrorText.reason(error))")
        }
        lastStep[folder] = Int64(new.last!.metrics.epoch)
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

    /// The highest step of a scalar event in the folder's event files (0 when there is none).
    static func lastStep(in folder: URL) throws -> Int64 {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var last: Int64 = 0
        for name in names where name.contains("tfevents") {
            let path = folder.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TrackerError.io("cannot read \(path)")
            }
            for record in try TFRecord.records(in: Array(data)) {
                let event = try Event(decoding: record)
                if case .scalars(let s) = event.content, !s.isEmpty { last = max(last, event.step) }
            }
        }
        return last
    }

    /// Every scalar event in a run folder's files, in file-name order: what a reader of the folder sees.
    public static func events(in folder: URL) throws -> [Event] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.contains("tfevents") }.sorted()
        return try names.flatMap { name -> [Event] in
            let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) ?? Data()
            return try TFRecord.records(in: Array(data)).map(Event.init(decoding:))
        }
    }
}
