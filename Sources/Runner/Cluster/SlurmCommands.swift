// The Slurm commands ablate runs: submitting (`ablate slurm --submit`) and requeueing a task (`ablate task`).
import AblateCore
import Foundation

public enum Slurm {
    /// Runs `sbatch --parsable ARGS` and returns the job id.
    public static func sbatch(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sbatch", "--parsable"] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch {
            throw ClusterError.sbatch("cannot start sbatch (\(ErrorText.reason(error))): submit from a Slurm login node")
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let reason = errors.trimmingCharacters(in: .whitespacesAndNewlines)
            throw ClusterError.sbatch("sbatch \(arguments.joined(separator: " ")) failed"
                + (p.terminationStatus == 127 ? ": sbatch is not installed here (submit from a Slurm login node)"
                    : ": \(reason)\nThe scripts are written: submit them where sbatch reaches the cluster (a login node), "
                    + "or fix the Slurm client configuration (SLURM_CONF)"))
        }
        // --parsable prints "jobid" or "jobid;cluster".
        return String(output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first ?? "")
    }

    /// `scontrol requeue JOBID`: the task starts again later and resumes from its checkpoint.
    public static func requeue(_ jobID: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["scontrol", "requeue", jobID]
        do { try p.run() } catch {
            throw ClusterError.sbatch("cannot requeue job \(jobID) (scontrol: \(ErrorText.reason(error))); "
                + "resubmit the unfinished tasks with `ablate slurm FILE --missing`")
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ClusterError.sbatch("`scontrol requeue \(jobID)` failed (status \(p.terminationStatus)); resubmit "
                + "the unfinished tasks with `ablate slurm FILE --missing`")
        }
    }
}
