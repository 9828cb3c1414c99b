// Which epoch a run reports. A run that selects on validation (`training.select: best_val_loss | best_val_acc`)
// reports the selected epoch's test accuracy and predictions; every other run its last epoch's. The best epoch on
// the test set stays its own, optimistic number. This file words that rule for the tables and notes, once.
import AblateCore

extension EpochSelection {
    /// "last epoch", "selected on validation loss (best_val_loss)".
    var phrase: String {
        switch self {
        case .last: return "last epoch"
        case .bestValLoss: return "selected on validation loss (best_val_loss)"
        case .bestValAcc: return "selected on validation accuracy (best_val_acc)"
        }
    }
}

/// The epoch rule of a report's runs.
struct EpochRule {
    /// Each configuration's rules (normally one), in display order.
    let rules: [(configuration: String, rules: [EpochSelection])]

    /// Whether any run reports an epoch selected on validation.
    var selects: Bool { rules.contains { $0.rules.contains { $0 != .last } } }

    /// The headline's adjective in column titles: "Last-epoch", or "Selected-epoch" when any run selects (a run
    /// without a selection reports its last epoch, which is then its selected one).
    var adjective: String { selects ? "Selected-epoch" : "Last-epoch" }

    /// "epoch: selected on validation loss (best_val_loss)"; per configuration when they differ:
    /// "epoch: selected on validation loss (best_val_loss) for A, B; last epoch for C".
    var statement: String {
        var order: [[EpochSelection]] = [], members: [[EpochSelection]: [String]] = [:]
        for (configuration, rules) in rules {
            if members[rules] == nil { order.append(rules) }
            members[rules, default: []].append(configuration)
        }
        let phrase = { (rules: [EpochSelection]) in rules.map(\.phrase).joined(separator: " or ") }
        guard order.count > 1 else { return "epoch: " + (order.first.map(phrase) ?? EpochSelection.last.phrase) }
        return "epoch: " + order.map { phrase($0) + " for " + members[$0]!.joined(separator: ", ") }.joined(separator: "; ")
    }
}

extension ReportInput {
    /// The epoch rule of the runs, per configuration.
    var epochRule: EpochRule {
        EpochRule(rules: groups().map { group in
            var rules: [EpochSelection] = []
            for digest in group.runs where !rules.contains(digest.run.selection) { rules.append(digest.run.selection) }
            return (group.name, rules)
        })
    }
}
