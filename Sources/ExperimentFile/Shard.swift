import Foundation

/// One part of an experiment's matrix, for running it on several machines or in several sittings.
///
/// Shard `I/N` (0 ≤ I < N) holds the matrix entries whose 0-based position in the expansion (`--dry-run` numbers
/// them from 1, so position = # − 1) is ≡ I mod N. The expansion order is fixed by the file, so N processes given
/// shards 0/N … (N−1)/N cover the matrix exactly once, whatever machine each runs on. Combined with `--only`,
/// a shard keeps the selected entries of its positions.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1 else {
            throw ExperimentError.invalid(file: "--shard", issues: [Issue(
                keyPath: "--shard", location: nil, problem: "the number of shards must be at least 1, got \(count)",
                fix: "Write I/N with N ≥ 1, e.g. --shard 0/4")])
        }
        guard (0..<count).contains(index) else {
            throw ExperimentError.invalid(file: "--shard", issues: [Issue(
                keyPath: "--shard", location: nil,
                problem: "shard \(index) does not exist among \(count) (shards are numbered 0 to \(count - 1))",
                fix: "Write I/N with 0 ≤ I < N, e.g. --shard 0/\(count) … --shard \(count - 1)/\(count)")])
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`, e.g. `2/5`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw ExperimentError.invalid(file: "--shard", issues: [Issue(
                keyPath: "--shard", location: nil, problem: "'\(text)' is not I/N",
                fix: "Write the shard as index/count with 0 ≤ index < count, e.g. --shard 0/4")])
        }
        try self.init(index: i, count: n)
    }

    public func contains(_ run: ResolvedRun) -> Bool { (run.index - 1) % count == index }

    public var description: String { "\(index)/\(count)" }
}

extension Experiment {
    /// The runs selected by `--only` filters (see `runs(matching:)`) that belong to `shard` (all if nil). A shard
    /// with nothing selected is not an error: with more shards than runs, some shards are empty.
    public func runs(matching filters: [String], shard: Shard?) throws -> [ResolvedRun] {
        let selected = try runs(matching: filters)
        guard let shard else { return selected }
        return selected.filter(shard.contains)
    }
}
