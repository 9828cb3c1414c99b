// The `ablate` command line: the only module that knows about the terminal.
import ArgumentParser

@main
struct Ablate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Train DenseNet-121 and its Squeeze-and-Excitation variants on the CPU and track ablations.",
        subcommands: [
            ModelCommand.self,
            VerifyCommand.self,
            BenchCommand.self,
            RunCommand.self,
            StatusCommand.self,
            ExportCommand.self,
            DataCommand.self,
            ReportCommand.self,
            PredictCommand.self,
        ]
    )
}
