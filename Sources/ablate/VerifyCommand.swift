import ArgumentParser
import Engine
import Foundation
import Models
import Verification

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run PyTorch reference files (per-op or whole-network JSON) through the engine and report the worst errors.")

    @Argument(help: "Reference files, e.g. ../shared/reference/*.json")
    var files: [String]

    @Flag(help: "List every quantity, not only failures and a per-file summary.")
    var verbose = false

    @Option(parsing: .unconditional, help: "Threads for GEMM and kernels, 1–1024 (default: all cores).")
    var threads: Int?

    func validate() throws { try OptionChecks.threads(threads) }

    func run() throws {
        if let threads { Engine.Threads.set(threads) }
        // Files that could not be checked at all are counted apart from quantities beyond tolerance.
        var failed = 0, total = 0
        var unreadable: [String] = []
        for file in files {
            let checks: [Check]
            do { checks = try Verifier.verify(path: file) } catch {
                print("\(file): error: \(error)")
                unreadable.append(file)
                continue
            }
            total += checks.count
            let bad = checks.filter { !$0.passed }
            failed += bad.count
            let worstRel = checks.map(\.maxRelError).max() ?? 0
            let worstAbs = checks.map(\.maxAbsError).max() ?? 0
            print("\(file): \(checks.count) quantities, \(bad.count) beyond tolerance; worst abs \(fmt(worstAbs)), worst rel \(fmt(worstRel))")
            for c in checks where verbose || !c.passed {
                print("  \(c.passed ? "ok  " : "FAIL") \(c.item) \(c.quantity): abs \(fmt(c.maxAbsError)) rel \(fmt(c.maxRelError)) (tol \(fmt(c.tolerance)), \(c.elements) values)")
                if let r = c.roundingLevel {
                    print("       \(r.count) with a rounding-level reference gradient: moved up to "
                          + "\(String(format: "%.3f", r.largestStepInLR))·lr, Adam allows \(String(format: "%.2f", r.allowedStepInLR))·lr")
                }
                if let note = c.note { print("       \(note)") }
            }
        }
        let checked = files.count - unreadable.count
        let quantities = "\(total) quantities in \(checked) file(s)"
        if !unreadable.isEmpty {
            print("verify: \(unreadable.count) of \(files.count) file(s) could not be checked (see above)"
                  + (checked > 0 ? "; \(failed) of \(quantities) beyond tolerance" : ""))
            throw ExitCode(1)
        }
        if failed > 0 {
            print("verify: \(failed) of \(quantities) beyond tolerance")
            throw ExitCode(1)
        }
        print("verify: all \(quantities) within tolerance")
    }

    func fmt(_ x: Double) -> String { String(format: "%.2e", x) }
}
