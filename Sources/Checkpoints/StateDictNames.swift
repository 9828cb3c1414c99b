// The names a checkpoint's tensors go by, mapped to the engine's (PyTorch's current names for the same modules).
//
// - DataParallel / DistributedDataParallel save every name with a `module.` prefix: dropped.
// - torchvision's published DenseNet weights predate its current names: `denselayerN.norm.1.weight` is
//   `denselayerN.norm1.weight` (also `relu.1`, `conv.1`, `norm.2`, `relu.2`, `conv.2`). torchvision's
//   `_load_state_dict` renames with `^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|
//   running_mean|running_var))$` → group 1 + group 2; this does the same (and `num_batches_tracked`, which those
//   files lack but renamed copies may hold).
// - The course's SE-DenseNet wraps a dense block with SE on its output as `DenseBlockWithSE(dense_block, se)`,
//   so its layers are `denseblockN.dense_block.denselayerM…` where a plain DenseNet has `denseblockN.denselayerM…`:
//   either name finds the other's tensor (`candidates`).
import Foundation

enum StateDictNames {
    static let dataParallelPrefix = "module."

    /// The engine's name for a file's name, and what was changed, for the load report.
    static func normalise(_ names: [String]) -> (names: [String: String], notes: [String]) {
        var mapping: [String: String] = [:], stripped = 0, renamed = 0
        for original in names {
            var name = original
            if name.hasPrefix(dataParallelPrefix) { name.removeFirst(dataParallelPrefix.count); stripped += 1 }
            if let legacy = legacyDenseNetName(name) { name = legacy; renamed += 1 }
            mapping[original] = name
        }
        var notes: [String] = []
        if stripped > 0 { notes.append("removed DataParallel's 'module.' prefix from \(stripped) name(s)") }
        if renamed > 0 { notes.append("renamed \(renamed) torchvision legacy DenseNet name(s) (norm.1 → norm1, conv.2 → conv2, …)") }
        return (mapping, notes)
    }

    static var legacyPattern: Regex<(Substring, Substring, Substring)> {
        #/^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$/#
    }

    /// `…denselayer3.norm.1.weight` → `…denselayer3.norm1.weight`; nil for any other name.
    static func legacyDenseNetName(_ name: String) -> String? {
        guard let m = name.wholeMatch(of: legacyPattern) else { return nil }
        return String(m.1) + String(m.2)
    }

    /// The names under which a file may hold the model's tensor `name`: itself first, then its form with or
    /// without the SE-DenseNet's `.dense_block` level.
    static func candidates(_ name: String) -> [String] {
        if name.contains(".dense_block.denselayer") {
            return [name, name.replacingOccurrences(of: ".dense_block.denselayer", with: ".denselayer")]
        }
        if let r = name.range(of: #"^(.*\.denseblock\d+)\.denselayer"#, options: .regularExpression) {
            let block = name[r].dropLast(".denselayer".count)
            return [name, block + ".dense_block.denselayer" + name[r.upperBound...]]
        }
        return [name]
    }
}
