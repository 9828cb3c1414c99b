// An error found while a command runs (a missing store, a folder that is not one): printed as "Error: …" without
// the usage text that ArgumentParser adds to `ValidationError`, which is for mistakes in the arguments themselves.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
