// The `ablate` command line: the only module that knows about the terminal.
#if canImport(Glibc)
// C's `stdout` is a mutable global, which Swift 6 refuses to read outside an actor unless its module is imported
// @preconcurrency (before Foundation, which re-exports it); `main` only sets its buffering, once, first thing.
@preconcurrency import Glibc
#endif
import ArgumentParser
import Foundation

@main
struct Ablate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Train DenseNet and ResNet with and without Squeeze-and-Excitation on the CPU and track ablations.",
        subcommands: [
            ModelCommand.self,
            VerifyCommand.self,
            BenchCommand.self,
            RunCommand.self,
            StatusCommand.self,
            ExportCommand.self,
            MergeCommand.self,
            SlurmCommand.self,
            TaskCommand.self,
            DataCommand.self,
            ReportCommand.self,
            PredictCommand.self,
            EvaluateCommand.self,
        ]
    )

    static func main() {
        // Line-buffered standard output: under `nohup ablate run … > run.log`, every line reaches the log file
        // when it is printed instead of when a 4 KiB block fills (which, for an overnight run, is at exit).
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: CommandFailure.readable(error))
        }
        // `print` drops write errors: a full disk under `ablate export > runs.json` would otherwise exit 0 with
        // half a document.
        // (The reason is not known here: `errno` has changed many times since the write that failed.)
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            exit(withError: CommandFailure("could not write all output to standard output (a full disk, or a reader "
                                           + "that went away?); what was written is incomplete"))
        }
    }
}
