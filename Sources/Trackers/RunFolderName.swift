// Where a run's TensorBoard events go: `<config label>/seed=N`, so TensorBoard's run list groups the seeds of a
// configuration under one folder. Labels are the matrix's "key=value key=value" text, which may hold characters
// a file system or TensorBoard's run names handle badly.
import AblateCore
import Store

public enum RunFolderName {
    /// The relative folder of one run, e.g. "model.name=custom-se4/seed=2"; a run whose label names only its
    /// seed (a matrix over seeds alone) is under its experiment's name.
    public static func of(_ run: RunRecord, experiment: String) -> String {
        let tokens = run.label.split(separator: " ").filter { !$0.hasPrefix("seed=") }
        let config = safe(tokens.isEmpty ? experiment : tokens.joined(separator: ","), fallback: "run")
        return config + "/" + safe("seed=\(run.seed.map(String.init) ?? "none")", fallback: "seed")
    }

    /// Characters outside [A-Za-z0-9._=,+-] become "_"; a name that would be hidden, empty or too long for one
    /// path component is made safe (a long one keeps a hash of the whole so two long labels stay apart).
    static func safe(_ text: String, fallback: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=,+-")
        var name = String(text.map { allowed.contains($0) ? $0 : "_" })
        while name.hasPrefix(".") { name.removeFirst() }
        if name.isEmpty { return fallback }
        if name.utf8.count > 200 { name = String(name.prefix(180)) + "-" + String(SHA256.hex(text).prefix(12)) }
        return name
    }
}
