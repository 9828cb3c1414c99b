// Checks shared by every command that takes --threads or --stale-after, with the limits experiment files use
// (`training.threads` is 1–1024). Options declared with `parsing: .unconditional` take "-1" as a value, so a
// negative number reaches these checks (and gets this message) instead of ArgumentParser's "Missing value".
import ArgumentParser

enum OptionChecks {
    static let maxThreads = 1024

    /// `otherwise`: what leaving the option out means for this command.
    static func threads(_ value: Int?, otherwise: String = "every core") throws {
        guard let value else { return }
        guard (1...maxThreads).contains(value) else {
            throw ValidationError("--threads must be between 1 and \(maxThreads), got \(value); leave it out to use "
                                  + otherwise)
        }
    }

    static func staleAfter(_ value: Double) throws {
        guard value.isFinite, value > 0 else {
            throw ValidationError("--stale-after must be a number of seconds greater than 0, got \(value); a "
                                  + "running run without a heartbeat for that long counts as killed (default 600)")
        }
    }
}
