// What a run records about where it ran: the host, the machine (processor, ISA, libraries), the project's git
// commit and ablate's version with its backend.
import AblateCore
import Engine
import Foundation

public enum Provenance {
    /// This machine's name, as the store records it with each run.
    public static var host: String { ProcessInfo.processInfo.hostName }

    /// This machine as a run that trains here with `threads` threads records it.
    public static func machine(threads: Int) -> Machine {
        Machine(cpu: ProcessorInfo.modelName, isa: ProcessorInfo.isa,
                logicalCPUs: ProcessInfo.processInfo.activeProcessorCount, threads: threads,
                memoryGiB: ProcessorInfo.memoryGiB,
                onednn: Libraries.oneDNN + (OneDNNISACap.value.map { ", max ISA \($0)" } ?? ""),
                openblas: Libraries.openBLAS, backend: Backend.description)
    }

    /// The git commit (12 hex digits) checked out in `directory` (default: the current one), nil outside a git
    /// checkout or without git.
    public static func gitCommit(in directory: String = FileManager.default.currentDirectoryPath) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", directory, "rev-parse", "--short=12", "HEAD"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        let commit = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }
}

/// Version stored with each run, with the compute backend: the backends agree to float rounding, not bit for bit,
/// so a run's numbers are reproducible on the backend it names.
public var ablateVersionString: String { "0.1.0 (\(Backend.description))" }
