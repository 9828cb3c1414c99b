import Foundation

/// RFC 4180 CSV: CRLF line ends, fields quoted when they contain a comma, quote, CR or LF, quotes doubled.
public enum CSV {
    public static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func render(header: [String], rows: [[String]]) throws -> String {
        for row in rows where row.count != header.count {
            throw ReportError.lengthMismatch(what: "CSV row vs header", left: row.count, right: header.count)
        }
        return ([header] + rows).map { $0.map(field).joined(separator: ",") + "\r\n" }.joined()
    }

    static let epochHeader = ["configuration", "seed", "status", "parameters", "multiply_adds", "epoch",
                              "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "images_per_second"]

    /// One row per run and epoch, runs in report order. A run without epochs still gets one row (empty epoch
    /// fields) so its status is in the file. Numbers use Swift's shortest round-trip form, so nothing is lost.
    /// A k-fold report adds the run's `fold` after its seed; runs with a validation part add `validation_loss` and
    /// `validation_accuracy` (empty where an epoch has none), and a run that selects on validation marks its selected epoch in
    /// `selected` (1) — columns that files of other runs leave out.
    public static func epochs(_ input: ReportInput) throws -> String {
        try input.validate()
        let folds = input.isCrossValidated
        let validation = input.runs.contains { $0.epochs.contains { $0.validationLoss != nil || $0.validationAccuracy != nil } }
        let selects = input.epochRule.selects
        var header = epochHeader
        if folds { header.insert("fold", at: 2) }
        if validation { header += ["validation_loss", "validation_accuracy"] }
        if selects { header.append("selected") }
        var rows: [[String]] = []
        for group in input.groups() {
            for digest in group.runs {
                let run = digest.run
                let prefix = [run.configuration, "\(run.seed)"] + (folds ? [run.fold.map { "\($0.fold)" } ?? ""] : [])
                    + [run.status.rawValue, "\(run.parameters)", "\(run.multiplyAdds)"]
                if run.epochs.isEmpty { rows.append(prefix + Array(repeating: "", count: header.count - prefix.count)) }
                for e in run.epochs {
                    rows.append(prefix + ["\(e.epoch)"] + [e.trainLoss, e.trainAccuracy, e.testLossOrNaN, e.testAccuracyOrNaN, e.seconds,
                                                           e.imagesPerSecond].map { "\($0)" }
                                + (validation ? [e.validationLoss, e.validationAccuracy].map { $0.map { "\($0)" } ?? "" } : [])
                                + (selects ? [run.selectsOnValidation && run.selectedEpoch == e.epoch ? "1" : "0"] : []))
                }
            }
        }
        return try render(header: header, rows: rows)
    }
}
