import ExperimentFile
import Foundation
import Store

/// `ablate merge`: gathers runs from other run stores (shards, Slurm tasks, other machines) and from
/// `ablate export --format json` files into one store, for `ablate report`.
public enum RunMerge {
    /// Reads one source: a run store (opened read-only, never changed) or an export document.
    public static func load(_ path: String) throws -> RunArchive {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw StoreError.invalidArchive(path: path, reason: "there is no such file")
        }
        guard !isDirectory.boolValue else {
            throw StoreError.invalidArchive(path: path, reason: "it is a folder; give its .sqlite or .json files")
        }
        let head: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            head = try handle.read(upToCount: 16) ?? Data()
            try? handle.close()
        } catch {
            throw StoreError.invalidArchive(path: path, reason: "it cannot be read (permissions?)")
        }
        if head.starts(with: Array("SQLite format 3".utf8)) {
            let store = try RunStore(readingOnly: path)
            defer { try? store.close() }
            return try store.archive()
        }
        guard let first = head.first(where: { !" \n\r\t".utf8.contains($0) }), first == UInt8(ascii: "{") else {
            throw StoreError.invalidArchive(path: path, reason: head.isEmpty ? "it is empty"
                : "it is neither a SQLite run store nor a JSON export document")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw StoreError.invalidArchive(path: path, reason: "it cannot be read (permissions?)")
        }
        return try RunArchive(json: data, source: path)
    }

    /// Two experiment file texts define the same experiment when they expand to the same configurations
    /// (same config hashes) with the same target: comments, formatting and key order do not matter. Texts
    /// that do not parse must be identical.
    public static func sameDefinition(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        var options = Experiment.LoadOptions(checkDataExists: false)
        options.storedText = true
        guard let x = try? Experiment.parse(text: a, options: options),
              let y = try? Experiment.parse(text: b, options: options) else { return false }
        return x.name == y.name && x.target == y.target
            && Set(x.runs.map(\.configHash)) == Set(y.runs.map(\.configHash))
    }

    /// The finished runs of `archive`, from any experiment, whose configuration (config hash) is a run of
    /// `experiment`: each filed under `experiment` with its label there, as one source named
    /// "`source` (experiment E, run N)". A configuration is a full description of a run (data, split, recipe, model,
    /// seed) and training is bit-reproducible on one backend, so a run trained for one experiment answers the same
    /// entry of another without training it again.
    public static func reusable(_ archive: RunArchive, source: String,
                                for experiment: Experiment) -> [(name: String, archive: RunArchive)] {
        let labels = Dictionary(experiment.runs.map { ($0.configHash, $0.label) }, uniquingKeysWith: { a, _ in a })
        let now = Date()
        let definition = RunArchive.Experiment(name: experiment.name, fileText: experiment.fileText,
                                               filePath: experiment.filePath, created: now, updated: now)
        return archive.runs.compactMap { run -> (name: String, archive: RunArchive)? in
            guard run.record.status == .finished, let label = labels[run.record.configHash] else { return nil }
            var refiled = run
            refiled.experimentName = experiment.name
            refiled.record.label = label
            return ("\(source) (experiment \(run.experimentName), run \(run.record.id))",
                    RunArchive(experiments: [definition], runs: [refiled]))
        }
    }

    /// Merges `sources` into the store at `target` (created when missing) in one transaction. With `reuseFor`,
    /// only the finished runs that are configurations of that experiment are merged, filed under it (`reusable`).
    public static func merge(sources: [String], into target: String, includeUnfinished: Bool,
                             reuseFor: Experiment? = nil,
                             afterEachRun: (() -> Void)? = nil) throws -> MergeSummary {
        let targetPath = URL(fileURLWithPath: target).standardizedFileURL.path
        let archives = try sources.flatMap { source -> [(name: String, archive: RunArchive)] in
            guard URL(fileURLWithPath: source).standardizedFileURL.path != targetPath else {
                throw StoreError.invalidArchive(path: source, reason: "it is the target database itself")
            }
            let archive = try load(source)
            try archive.validate(source: source)
            guard let reuseFor else { return [(source, archive)] }
            return reusable(archive, source: source, for: reuseFor)
        }
        let existed = FileManager.default.fileExists(atPath: target)
        let store = try RunStore(path: target)
        let summary: MergeSummary
        do {
            summary = try store.merge(archives, includeUnfinished: includeUnfinished && reuseFor == nil,
                                      sameDefinition: sameDefinition, afterEachRun: afterEachRun)
        } catch {
            // A store this merge created and could not fill is removed ("Nothing was merged" leaves nothing behind),
            // unless another process has filled it meanwhile.
            let empty = (try? store.experiments().isEmpty) ?? false
            try? store.close()
            if !existed && empty {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target + suffix) }
            }
            throw error
        }
        try? store.close()
        return summary
    }
}
