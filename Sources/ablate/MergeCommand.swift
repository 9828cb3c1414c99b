import ArgumentParser
import ExperimentFile
import Foundation
import Runner
import Store

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Gather runs from other run stores or JSON exports into one run store.",
        discussion: """
            Sources are run stores (.sqlite, opened read-only) or files written by `ablate export --format json`. \
            Runs are matched by experiment name and config hash: a configuration the target lacks is copied with \
            its epochs, predictions, data audit and provenance; a finished run replaces an unfinished copy; of two \
            finished copies the target's stays. Merging twice changes nothing. An experiment defined differently \
            under the same name is refused. The whole merge is one transaction: on any error the target is left \
            as it was.

            --reuse-for FILE files runs of other experiments under FILE's experiment: every finished run whose \
            configuration (config hash, as `ablate run FILE --dry-run` prints) is an entry of FILE's matrix is \
            copied as that entry, so `ablate run FILE` does not train it again. Other runs are left out.
            """)

    @Argument(help: "Run stores or JSON exports to read.") var sources: [String] = []
    @Option(help: "Run store to merge into (created when missing; with --dir: DIR/merged.sqlite).") var into: String?
    @Option(help: "Plan folder of `ablate slurm`: merge its task stores.") var dir: String?
    @Flag(help: "Also copy unfinished runs (as interrupted) that the target does not have.") var all = false
    @Option(name: .customLong("reuse-for"), help: ArgumentHelp(
        "Experiment file: copy only finished runs that are configurations of its matrix, filed under it.",
        valueName: "file")) var reuseFor: String?

    func validate() throws {
        if sources.isEmpty && dir == nil {
            throw ValidationError("give at least one source: ablate merge SOURCE... --into DB (or --dir PLAN_DIR)")
        }
        if into == nil && dir == nil { throw ValidationError("say where to merge: --into DB") }
        if reuseFor != nil && all {
            throw ValidationError("--all does not go with --reuse-for: only finished runs are reused")
        }
    }

    func run() throws {
        var sources = self.sources
        if let dir {
            let plan = try SlurmPlan.read(from: dir)
            sources += plan.taskDatabases(folder: dir)
            guard !sources.isEmpty else {
                print("no task of \(SlurmPlan.planPath(dir)) has a run store yet: nothing to merge")
                return
            }
        }
        let into = self.into ?? SlurmPlan.mergedDatabase(dir!)
        // Test hook: crash (SIGKILL) inside the transaction after this many runs, to show the target survives.
        let crashAfter = ProcessInfo.processInfo.environment["ABLATE_TEST_MERGE_KILL_AFTER_RUNS"].flatMap(Int.init)
        var copied = 0
        let experiment = try reuseFor.map {
            try Experiment.load(file: $0, options: Experiment.LoadOptions(checkDataExists: false))
        }
        let summary = try RunMerge.merge(sources: sources, into: into, includeUnfinished: all, reuseFor: experiment,
                                         afterEachRun: {
            copied += 1
            if let crashAfter, copied >= crashAfter { kill(getpid(), SIGKILL) }
        })
        for name in summary.experimentsAdded { print("experiment \(name): new in \(into)") }
        var counts: [String: Int] = [:]
        for e in summary.entries {
            let what: String
            switch e.action {
            case .added: what = "added"
            case .replacedUnfinished: what = "replaced an unfinished copy"
            case .keptFinished(let identical):
                what = identical ? "already there (identical)"
                    : "kept the target's finished copy; the source's finished copy differs and was not copied"
            case .keptExisting: what = "kept the target's copy (the source's is unfinished)"
            case .skippedUnfinished: what = "skipped: unfinished (use --all to copy it)"
            }
            counts[what, default: 0] += 1
            if e.action != .keptFinished(identical: true) {
                print("\(e.source): \(e.experiment) \(e.label) [\(e.configHash.prefix(12))]: \(what)")
            }
        }
        let tally = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        if let experiment, summary.entries.isEmpty {
            print("no finished run in \(sources.joined(separator: ", ")) is a configuration of \(experiment.name) "
                  + "(compare the config hashes of `ablate run \(reuseFor!) --dry-run`)")
        }
        print("merged \(summary.entries.count) run(s) from \(sources.count) source(s) into \(into)"
              + (tally.isEmpty ? "" : ": \(tally)") + (summary.changed ? "" : "; nothing changed"))
    }
}
