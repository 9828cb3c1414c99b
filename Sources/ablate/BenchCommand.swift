import ArgumentParser
import Engine
import Foundation
import Training

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training or evaluation steps of a model on random input (median of the measured steps).")

    @Option(help: "Model name, e.g. densenet121, densenet121-se16-layer or resnet50-se16.") var model = "densenet121"
    @Option(parsing: .unconditional, help: "Input size S (images are S×S).") var size = 224
    @Option(parsing: .unconditional, help: "Batch size.") var batch = 32
    @Option(parsing: .unconditional, help: "Measured steps (after --warmup steps).") var steps = 5
    @Option(parsing: .unconditional, help: "Warm-up steps, not measured.") var warmup = 2
    @Option(parsing: .unconditional, help: "Threads, 1–1024 (default: all cores).")
    var threads: Int?
    @Option(help: "train or eval.") var mode = "train"
    @Option(help: "onednn (default) or openblas, the im2col + OpenBLAS reference (also: ABLATE_BACKEND).")
    var backend = Backend.current.rawValue
    @Flag(inversion: .prefixedNo, help: "Winograd 3×3 convolutions on the onednn backend where oneDNN has them (also: ABLATE_WINOGRAD=0).")
    var winograd = Backend.winograd
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Time each op type (forward and backward) and print its share of the step.") var profile = false
    @Option(help: ArgumentHelp("Freeze the parameters under this state_dict prefix, as training.freeze does (repeat for more).",
                               valueName: "prefix"))
    var freeze: [String] = []

    func validate() throws {
        guard Backend(rawValue: backend) != nil else {
            throw ValidationError("--backend must be one of \(Backend.allCases.map(\.rawValue).joined(separator: ", ")), got '\(backend)'")
        }
        guard mode == "train" || mode == "eval" else { throw ValidationError("--mode must be train or eval, got '\(mode)'") }
        try OptionChecks.threads(threads)
        for (option, value, least) in [("--batch", batch, 1), ("--steps", steps, 1), ("--warmup", warmup, 0),
                                       ("--size", size, 32)] where value < least {
            throw ValidationError("\(option) must be at least \(least), got \(value)")
        }
    }

    func run() throws {
        Backend.current = Backend(rawValue: backend)!
        Backend.winograd = winograd
        var options = BenchmarkOptions(model: model, size: size, batch: batch, steps: steps, warmup: warmup,
                                       train: mode == "train", threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        options.profile = profile
        options.freeze = freeze
        let r = try Benchmark.run(options)
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(r), as: UTF8.self))
            return
        }
        let library = r.oneDNNVersion.map { " (oneDNN \($0))" } ?? ""
        print("\(r.model) \(r.mode) \(r.size)×\(r.size) batch \(r.batch), \(r.threads) threads, \(r.backend)\(library), median of \(r.steps) steps")
        if let frozen = r.freeze { print("  frozen        \(frozen.joined(separator: ", "))") }
        print(String(format: "  images/s      %.2f", r.imagesPerSecond))
        print(String(format: "  s/step        %.3f", r.secondsPerStep))
        print(String(format: "  GFLOP/s       %.1f", r.gflops))
        print(String(format: "  peak RSS      %.2f GB", Double(r.peakRSSBytes) / 1e9))
        if let rows = r.profile {
            let total = rows.reduce(0) { $0 + $1.secondsPerStep }
            print("  profile (seconds per step, share of the timed ops):")
            for row in rows {
                let name = row.op.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + row.phase.padding(toLength: 9, withPad: " ", startingAt: 0)
                print("    " + name + String(format: " %8.3f s  %5.1f%%  %5d calls", row.secondsPerStep,
                                               100 * row.secondsPerStep / total, row.callsPerStep))
            }
            print("    " + "total".padding(toLength: 29, withPad: " ", startingAt: 0) + String(format: " %8.3f s", total))
        }
    }
}
