import AblateCore

/// What the experiment cost and where it ran, computed from the stored epoch times (never by hand).
extension ReportTables {
    /// One row per configuration: runs, hours of training and testing (the sum of every stored epoch's wall
    /// clock, unfinished runs included), median s/epoch and img/s over finished runs, and the machines its runs
    /// trained on; then the total, and a note when the matrix ran on more than one processor.
    public static func compute(_ input: ReportInput) throws -> String {
        try input.validate()
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Runs", .right), .init("Epochs", .right), .init("Hours", .right),
            .init("s/epoch", .right), .init("img/s", .right), .init("Machines"),
        ])
        var totalSeconds = 0.0, totalEpochs = 0
        var processors: [String] = []
        for group in input.groups() {
            let seconds = group.runs.reduce(0.0) { $0 + $1.run.epochs.reduce(0.0) { $0 + $1.seconds } }
            let epochs = group.runs.reduce(0) { $0 + $1.run.epochs.count }
            totalSeconds += seconds; totalEpochs += epochs
            var machines: [String] = []
            for machine in group.runs.flatMap(\.run.machines) {
                if !machines.contains(machine.summary) { machines.append(machine.summary) }
                if !processors.contains(machine.processor) { processors.append(machine.processor) }
            }
            let unrecorded = group.runs.filter { $0.run.machines.isEmpty }.count
            var where_ = machines.joined(separator: "; ")
            if unrecorded > 0 {
                where_ += (where_.isEmpty ? "" : "; ") + "not recorded" + (machines.isEmpty ? "" : " for \(unrecorded) run\(unrecorded == 1 ? "" : "s")")
            }
            try table.addRow([
                group.name, "\(group.runs.count)", "\(epochs)", NumberFormat.fixed(seconds / 3600, digits: 2),
                SummaryCell.mean(group.finished.compactMap(\.medianSecondsPerEpoch), digits: 1),
                SummaryCell.mean(group.finished.compactMap(\.medianImagesPerSecond), digits: 1),
                where_,
            ])
        }
        var text = table.render()
        text += "\nTotal: \(NumberFormat.fixed(totalSeconds / 3600, digits: 2)) h over \(totalEpochs) epochs of "
            + "\(input.runs.count) runs (sum of the stored epoch times: training and test pass, wall clock).\n"
        if processors.count > 1 {
            text += "\nThese runs trained on \(processors.count) processors (\(processors.joined(separator: ", "))): "
                + "training is bit-reproducible on one processor model and library build, not across them.\n"
        }
        return text
    }
}
