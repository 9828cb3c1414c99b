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
    public static func epochs(_ input: ReportInput) throws -> String {
        try input.validate()
        var rows: [[String]] = []
        for group in input.groups() {
            for digest in group.runs {
                let run = digest.run
                let prefix = [run.configuration, "\(run.seed)", run.status.rawValue, "\(run.parameters)", "\(run.multiplyAdds)"]
                if run.epochs.isEmpty { rows.append(prefix + Array(repeating: "", count: 7)) }
                for e in run.epochs {
                    rows.append(prefix + ["\(e.epoch)"] + [e.trainLoss, e.trainAccuracy, e.testLossOrNaN, e.testAccuracyOrNaN, e.seconds,
                                                           e.imagesPerSecond].map { "\($0)" })
                }
            }
        }
        return try render(header: epochHeader, rows: rows)
    }
}
