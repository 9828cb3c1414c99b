import Foundation

/// Levenshtein distance between two strings (by Unicode scalars).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The candidate nearest to `word` if it is plausibly a typo of it (distance at most max(2, len/3)).
func nearest(_ word: String, in candidates: [String]) -> String? {
    let lowered = word.lowercased()
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(lowered, c.lowercased())
        if best == nil || d < best!.1 { best = (c, d) }
    }
    guard let (candidate, distance) = best else { return nil }
    let limit = max(2, word.count / 3)
    if distance <= limit { return candidate }
    // A word that starts with a candidate, or the reverse ("test_accuracy" for "test_acc", "optim" for "optimizer").
    if let c = candidates.filter({ c in
        let c = c.lowercased()
        return min(c.count, lowered.count) >= 3 && (lowered.hasPrefix(c) || c.hasPrefix(lowered))
    }).min(by: { abs($0.count - word.count) < abs($1.count - word.count) }) {
        return c
    }
    // Also catch a missing or extra prefix/suffix such as "lr_rate" for "lr", "batchsize" for "batch_size".
    let squashed = lowered.replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "")
    for c in candidates where c.lowercased().replacingOccurrences(of: "_", with: "")
        .replacingOccurrences(of: "-", with: "") == squashed {
        return c
    }
    return nil
}
