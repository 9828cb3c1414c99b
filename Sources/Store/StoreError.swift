import AblateCore
import Foundation

/// Everything that can go wrong with a run store. `description` names the file or run and says what to do.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The database (or its folder) cannot be created or written.
    case notWritable(path: String, reason: String)
    /// `RunStore(path:create: false)` and nothing is there.
    case missing(path: String)
    /// The file exists but is not an ablate run store (a text file, a corrupt file, another program's SQLite).
    case notAnAblateDatabase(path: String, reason: String)
    /// SQLite's own check (`PRAGMA quick_check`) found damage; nothing is written into such a file.
    case corrupt(path: String, details: String)
    /// The file was written by a newer ablate with a schema this binary does not know.
    case newerSchema(path: String, found: Int, supported: Int)
    /// No run with this id.
    case unknownRun(id: Int64)
    /// No experiment of this name in the store at `path`; `known` are the ones it has.
    case unknownExperiment(path: String, name: String, known: [String])
    /// The run is no longer held by this lease: another process reclaimed it (stale heartbeat), or it ended.
    case leaseLost(runID: Int64, status: RunStatus)
    /// Bad argument to an API call (e.g. negative staleAfter).
    case invalidArgument(String)
    /// A stored value that does not parse (`text`: its beginning).
    case unreadableValue(path: String, what: String, text: String)
    /// Any other SQLite error, with the file it happened on.
    case database(path: String, message: String)
    /// A merge source that is not an export document or run store ablate can read.
    case invalidArchive(path: String, reason: String)
    /// A merge source defines an experiment differently from the target under the same name.
    case definitionConflict(experiment: String, source: String, target: String)

    public var description: String {
        switch self {
        case let .notWritable(path, reason):
            return "cannot write the run store at \(path): \(reason). Choose a writable location (--db PATH; --into PATH for merge)."
        case let .missing(path):
            return "no run store at \(path). Start runs with `ablate run FILE` first, or point to one with --db PATH."
        case let .notAnAblateDatabase(path, reason):
            return "\(path) is not an ablate run store: \(reason). Nothing was changed; "
                + "move the file away or choose another location (--db PATH; --into PATH for merge)."
        case let .corrupt(path, details):
            return "\(path) is damaged (SQLite's quick_check: \(details)). Nothing was written to it. Recover what "
                + "SQLite can still read into a new file: `sqlite3 \(path) \".recover\" | sqlite3 \(path).recovered`, "
                + "check it with `ablate status --db \(path).recovered`, then move the damaged file aside and use the "
                + "recovered one (rename it, or pass --db \(path).recovered)."
        case let .newerSchema(path, found, supported):
            return "\(path) has run-store schema version \(found), but this ablate only knows versions up to "
                + "\(supported). It was written by a newer ablate: upgrade ablate (the file was left untouched)."
        case let .unknownRun(id):
            return "no run with id \(id) in the run store."
        case let .leaseLost(runID, status):
            return "run \(runID) is no longer held by this process (its status is now '\(status.rawValue)'): "
                + "another process reclaimed it after a stale heartbeat, or it already ended. Stop working on it."
        case let .unreadableValue(path, what, text):
            return "\(path): \(what) cannot be read (stored as '\(text)'); a program other than ablate changed "
                + "the file. Restore it from a copy or an export (`ablate merge runs.json --into NEW.sqlite`)."
        case let .invalidArgument(message):
            return message
        case let .unknownExperiment(path, name, known):
            return "no experiment named '\(name)' in \(path); "
                + (known.isEmpty ? "it holds none yet (run `ablate run FILE --db \(path)` first)"
                   : "it has: \(known.joined(separator: ", "))")
        case let .database(path, message):
            return "run store \(path): \(message)"
        case let .invalidArchive(path, reason):
            return "cannot merge \(path): \(reason). Give run stores (.sqlite) or files written by "
                + "`ablate export --format json`."
        case let .definitionConflict(experiment, source, target):
            return "experiment '\(experiment)' in \(source) is defined differently from the experiment of that name in "
                + "\(target) (other settings, matrix or target, not just comments), so their runs do not belong in one "
                + "report. Nothing was merged. Merge it into another database, or rename one of the experiments "
                + "(its `name:`) and run it again."
        }
    }
}
