// Patient-level cross-validation and validation parts: whole groups (photographs, patients) go to one side, so no
// copy of a validation or test image is in training.

/// Stratified group k-fold: groups dealt to k folds so that every group is in exactly one fold and each fold's
/// class proportions stay as close to the whole set's as the groups allow. The procedure is scikit-learn's
/// `StratifiedGroupKFold(shuffle=True)`: shuffle the groups (seeded), order them by how concentrated their classes
/// are (the standard deviation of their class counts, largest first, stable), and give each group to the fold
/// where, after adding it, the spread over folds of each class's share is smallest (ties: the fold with fewer
/// files, then the lower index).
public enum GroupFolds {
    /// The fold of each group, in 0..<folds. `classCounts[g][c]`: files of class c in group g.
    public static func assign(classCounts: [[Int]], folds: Int, seed: UInt64) -> [Int] {
        precondition(folds >= 2, "k-fold needs at least 2 folds")
        let classes = classCounts.map(\.count).max() ?? 0
        let totals = (0..<classes).map { c in classCounts.reduce(0) { $0 + ($1.count > c ? $1[c] : 0) } }
        var order = Array(classCounts.indices)
        var rng = SplitMix64(seed: seed)
        rng.shuffle(&order)
        func spread(_ counts: [Int]) -> Double {
            let mean = Double(counts.reduce(0, +)) / Double(max(1, counts.count))
            return (counts.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / Double(max(1, counts.count))).squareRoot()
        }
        // Stable sort by concentration, largest first (Swift's sort is not stable: sort by (key, position)).
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        order.sort { (spread(classCounts[$0]), -position[$0]!) > (spread(classCounts[$1]), -position[$1]!) }

        var perFold = [[Int]](repeating: [Int](repeating: 0, count: classes), count: folds)
        var assignment = [Int](repeating: 0, count: classCounts.count)
        for g in order {
            var best = 0, bestScore = Double.infinity, bestSize = Int.max
            for f in 0..<folds {
                var trial = perFold
                for c in 0..<classCounts[g].count { trial[f][c] += classCounts[g][c] }
                // Mean over classes of the std over folds of the class's share in each fold.
                var score = 0.0
                for c in 0..<classes where totals[c] > 0 {
                    score += spread(trial.map { $0[c] }.map { $0 }) / Double(totals[c])
                }
                let size = trial[f].reduce(0, +)
                if score < bestScore - 1e-12 || (abs(score - bestScore) <= 1e-12 && size < bestSize) {
                    best = f; bestScore = score; bestSize = size
                }
            }
            for c in 0..<classCounts[g].count { perFold[best][c] += classCounts[g][c] }
            assignment[g] = best
        }
        return assignment
    }
}

/// Groups of files by a group key, in order of first appearance, with the class counts the fold and hold-out
/// procedures need.
public struct FileGroups: Sendable {
    public let keys: [String]
    public let members: [[Int]]
    /// classCounts[g][c]: files of class c in group g.
    public let classCounts: [[Int]]

    /// Groups of `indices` into `files` by `rule` (a file whose name the rule does not match is its own group).
    public init(_ files: [ImageFile], indices: [Int], rule: GroupKeyRule) throws {
        let matcher = try rule.matcher()
        var byKey: [String: Int] = [:]
        var keys: [String] = [], members: [[Int]] = []
        for i in indices {
            let key = matcher.key(forFileName: files[i].fileName)
            if let g = byKey[key] { members[g].append(i) } else {
                byKey[key] = keys.count; keys.append(key); members.append([i])
            }
        }
        let classes = (files.map(\.label).max() ?? -1) + 1
        self.keys = keys; self.members = members
        classCounts = members.map { m in
            var counts = [Int](repeating: 0, count: classes)
            for i in m { counts[files[i].label] += 1 }
            return counts
        }
    }
}
