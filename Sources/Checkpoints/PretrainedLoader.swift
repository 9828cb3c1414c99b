// Pretrained weights into a freshly built network. Every tensor of the model is matched by name (with the
// renames of `StateDictNames`) and shape; the rules:
//   - same name and shape: loaded;
//   - the classifier (`Network.headName`) with another shape or absent: kept fresh (fine-tuning to new classes);
//   - a Squeeze-and-Excitation tensor (`.se.` in its name) absent: kept fresh (SE added to a plain network);
//   - anything else absent or shaped differently: an error naming the first such tensor in the model's order,
//     and nothing is changed;
//   - the file's tensors with no place in the model: reported as unused.
// BatchNorm's `num_batches_tracked` counters are not model tensors: as in `ParameterStore.load(stateDict:)`,
// the first one (sorted by name) sets the store's step counter.
import Engine
import Foundation
import Models

public enum Pretrained {
    /// Reads `url` and loads it into `network`.
    public static func load(contentsOf url: URL, into network: any Network) throws -> LoadReport {
        try load(CheckpointFile(contentsOf: url), into: network)
    }

    public static func load(_ file: CheckpointFile, into network: any Network) throws -> LoadReport {
        let store = network.store
        let head = network.headName + "."
        var plan: [(Param, TorchTensor)] = []
        var used = Set<String>()
        var freshHead: [String] = [], freshSE: [String] = [], headShapes: (file: [Int], model: [Int])?
        var problems: [(tensor: String, problem: String)] = []
        for p in store.parameters + store.buffers {
            let match = StateDictNames.candidates(p.name).first { file.tensors[$0] != nil }
            let isHead = p.name.hasPrefix(head), isSE = p.name.contains(".se.")
            guard let name = match, let t = file.tensors[name] else {
                if isHead { freshHead.append(p.name) } else if isSE { freshSE.append(p.name) } else {
                    problems.append((p.name, "is not in the file"))
                }
                continue
            }
            used.insert(name)
            if t.shape == p.torchShape && t.values.count == p.count {
                plan.append((p, t))
            } else if isHead {
                freshHead.append(p.name)
                if p.name.hasSuffix(".weight") { headShapes = (t.shape, p.torchShape) }
            } else {
                problems.append((p.name, "has shape \(t.shape) in the file, the model's is \(p.torchShape)"))
            }
        }
        if let first = problems.first {
            throw CheckpointError.architectureMismatch(path: file.path, model: network.displayName, tensor: first.tensor,
                                                       problem: first.problem, others: problems.count - 1)
        }
        // The step counter, as the store reads it.
        let counters = store.batchNormNames.sorted().flatMap { bn in
            StateDictNames.candidates(bn + batchesTrackedSuffix)
        }.filter { file.tensors[$0] != nil }
        used.formUnion(counters)
        let batches = counters.first.flatMap { file.tensors[$0]?.values.first }.map { Int64($0) }

        for (p, t) in plan { p.setTorchValues(t.values) }
        if let b = batches { store.batchesTracked = b }

        var fresh: [LoadReport.Fresh] = []
        if !freshHead.isEmpty {
            if let shapes = headShapes, shapes.file.count == 2, shapes.model.count == 2, shapes.file[1] == shapes.model[1] {
                fresh.append(.init(reason: .classCount, tensors: freshHead,
                                   detail: "the file's classifier has \(shapes.file[0]) classes, this model \(shapes.model[0]): freshly initialised"))
            } else if let shapes = headShapes {
                fresh.append(.init(reason: .classCount, tensors: freshHead,
                                   detail: "the file's classifier is \(shapes.file), this model's \(shapes.model): freshly initialised"))
            } else {
                fresh.append(.init(reason: .classifierNotInFile, tensors: freshHead,
                                   detail: "the file has no classifier '\(network.headName)': freshly initialised"))
            }
        }
        if !freshSE.isEmpty {
            fresh.append(.init(reason: .seNotInFile, tensors: freshSE,
                               detail: "Squeeze-and-Excitation layers the file lacks (it holds a network without them): freshly initialised"))
        }
        return LoadReport(
            file: file.path, sha256: file.sha256, format: file.format, model: network.displayName,
            stateDictKey: file.stateDictKey, renames: file.renames, storedTypes: file.storedTypes,
            loaded: plan.map(\.0.name), loadedValues: plan.reduce(0) { $0 + $1.0.count }, fresh: fresh,
            unused: file.names.filter { !used.contains($0) }, batchesTracked: batches)
    }
}
