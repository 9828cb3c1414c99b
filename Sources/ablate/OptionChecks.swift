// Checks shared by every command that takes --threads or --stale-after, with the limits experiment files use
// (`training.threads` is 1–1024). Options declared with `parsing: .unconditional` take "-1" as a value, so a
// negative number reaches these checks (and gets this message) instead of ArgumentParser's "Missing value".
import AblateCore
import ArgumentParser

enum OptionChecks {
    static let maxThreads = TrainingSection.maxThreads

    /// `otherwise`: what leaving the option out means for this command.
    static func threads(_ value: Int?, otherwise: String = "every core") throws {
        guard let value else { return }
        guard (1...maxThreads).contains(value) else {
            throw ValidationError("--threads must be between 1 and \(maxThreads), got \(value); leave it out to use "
                                  + otherwise)
        }
    }

    /// Run ids start at 1 (`ablate status` lists them).
    static func runID(_ value: Int64) throws {
        guard value >= 1 else {
            throw ValidationError("--run must be a run id (1 or more, see `ablate status`), got \(value)")
        }
    }

    /// The shortest --stale-after: a training process writes its heartbeat every 10 s between batches, but
    /// one batch, a test pass or the first decode of a dataset can hold it up for tens of seconds, and a run of
    /// another machine whose heartbeat is merely late would be taken from a live process.
    static let minStaleAfter = 60.0

    static func staleAfter(_ value: Double) throws {
        guard value.isFinite, value >= minStaleAfter else {
            throw ValidationError("--stale-after must be a number of seconds of at least \(Int(minStaleAfter)), got "
                                  + "\(value); a running run without a heartbeat for that long counts as killed "
                                  + "(default 600; a run whose process exited on this machine is resumed at once anyway)")
        }
    }
}
