import AblateCore
import Foundation

// An error found while a command runs (a missing store, a folder that is not one): printed as "Error: …" without
// the usage text that ArgumentParser adds to `ValidationError`, which is for mistakes in the arguments themselves.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension CommandFailure {
    /// The error as the user should read it: Foundation's file errors ("The operation could not be completed.
    /// (NSCocoaErrorDomain error 512.)") become "<path>: <reason>"; every other error is kept as it is, so
    /// ArgumentParser still prints usage for bad arguments and exits with the codes commands ask for.
    static func readable(_ error: Error) -> Error {
        let domain = (error as NSError).domain
        guard domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain else { return error }
        return CommandFailure(ErrorText.describe(error))
    }
}
