@testable import Report
import XCTest

/// Splits a markdown table row on unescaped pipes; returns the cells between the outer pipes.
func markdownCells(_ line: String) -> [String] {
    var cells: [String] = [], current = "", escaped = false
    for ch in line {
        if escaped { current.append(ch); escaped = false; continue }
        if ch == "\\" { escaped = true; current.append(ch); continue }
        if ch == "|" { cells.append(current); current = ""; continue }
        current.append(ch)
    }
    cells.append(current)
    // A row "| a | b |" splits into ["", " a ", " b ", ""]: drop the outer empties.
    return Array(cells.dropFirst().dropLast()).map { $0.trimmingCharacters(in: .whitespaces) }
}

/// Every table in `markdown`: header cells, and whether each following row has as many cells.
func assertTablesWellFormed(_ markdown: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
    let lines = markdown.components(separatedBy: "\n")
    var tables = 0, i = 0
    while i < lines.count {
        guard lines[i].hasPrefix("|") else { i += 1; continue }
        tables += 1
        let headerCount = markdownCells(lines[i]).count
        let rule = markdownCells(lines[i + 1])
        XCTAssertEqual(rule.count, headerCount, "alignment row of table \(tables)", file: file, line: line)
        XCTAssertTrue(rule.allSatisfy { $0.range(of: "^:?-+:?$", options: .regularExpression) != nil }, "rule: \(lines[i + 1])", file: file, line: line)
        var j = i + 2
        while j < lines.count, lines[j].hasPrefix("|") {
            XCTAssertEqual(markdownCells(lines[j]).count, headerCount, "row: \(lines[j])", file: file, line: line)
            XCTAssertEqual(lines[j].count, lines[i].count, "padded row lines up with header: \(lines[j])", file: file, line: line)
            j += 1
        }
        i = j
    }
    return tables
}

final class MarkdownTests: XCTestCase {
    func testNumberFormats() {
        XCTAssertEqual(NumberFormat.meanStd(0.91234, 0.0079), "0.912 ± 0.008")
        XCTAssertEqual(NumberFormat.pValue(0.0312), "p = 0.031")
        XCTAssertEqual(NumberFormat.pValue(0.0004), "p < 0.001")
        XCTAssertEqual(NumberFormat.pValue(0.001), "p = 0.001")
        XCTAssertEqual(NumberFormat.pValue(0.0496), "p = 0.0496", "not 0.050 beside a significant verdict")
        XCTAssertEqual(NumberFormat.pValue(0.0504), "p = 0.0504")
        XCTAssertEqual(NumberFormat.pValue(0.0514), "p = 0.051")
        XCTAssertEqual(NumberFormat.fixed(-0.0001), "0.000")
        XCTAssertEqual(NumberFormat.signed(0.0123), "+0.012")
        XCTAssertEqual(NumberFormat.signed(-0.0123), "-0.012")
        XCTAssertEqual(NumberFormat.signed(0.0001), "0.000")
        XCTAssertEqual(NumberFormat.magnitude(6_957_956), "6.96 M")
        XCTAssertEqual(NumberFormat.magnitude(2_865_672_192), "2.87 G")
        XCTAssertEqual(NumberFormat.magnitude(950), "950")
        XCTAssertEqual(NumberFormat.interval(ConfidenceInterval(lower: -0.0031, upper: 0.0171, level: 0.95), signed: true), "[-0.003, +0.017]")
    }

    func testCellSplitterUsedByTheseTestsHonoursEscapes() {
        XCTAssertEqual(markdownCells("| a | b\\|c |  |"), ["a", "b\\|c", ""])
        XCTAssertEqual(markdownCells("| only |"), ["only"])
    }

    func testTableIsPaddedAlignedAndEscaped() throws {
        var table = MarkdownTable(columns: [.init("Name"), .init("Value", .right), .init("Mid", .center)])
        try table.addRow(["a|b", "1", "x"])
        try table.addRow(["long name", "12.345", "yy"])
        XCTAssertEqual(table.render(), """
            | Name      |  Value | Mid |
            | :-------- | -----: | :-: |
            | a\\|b      |      1 |  x  |
            | long name | 12.345 | yy  |

            """)
        XCTAssertThrowsError(try table.addRow(["only one"])) { error in
            XCTAssertEqual(error as? ReportError, .tableShape(expectedCells: 3, got: 1))
        }
    }

    func testSummaryTableOfSample() throws {
        let input = SampleInput.make()
        let summary = try ReportTables.summary(input)
        XCTAssertEqual(assertTablesWellFormed(summary), 1)
        let rows = summary.components(separatedBy: "\n").filter { $0.hasPrefix("| DenseNet-121 ") }
        XCTAssertEqual(rows.count, 1)
        let cells = markdownCells(rows[0])
        XCTAssertEqual(cells[1], "6.96 M")
        XCTAssertEqual(cells[3], "3/3")
        // Best-test-accuracy cell must equal mean ± std of the per-run maxima, computed here independently.
        let best = input.runs.filter { $0.configuration == "DenseNet-121" }.map { $0.epochs.compactMap(\.testAccuracy).max()! }
        XCTAssertEqual(cells[4], NumberFormat.meanStd(try Statistics.mean(best), try Statistics.sampleStandardDeviation(best)))
        XCTAssertFalse(summary.contains("Not finished"))
    }

    func testUnfinishedRunsAreListedNotAveraged() throws {
        var input = SampleInput.make()
        // SE r=8 seed 3 failed after 4 epochs with a (deliberately absurd) high accuracy that must not be averaged.
        let index = input.runs.firstIndex { $0.configuration == "SE-DenseNet-121 r=8" && $0.seed == 3 }!
        input.runs[index].status = .failed
        input.runs[index].epochs = Array(input.runs[index].epochs.prefix(4))
        input.runs[index].epochs[3].testAccuracy = 0.999
        let summary = try ReportTables.summary(input)
        XCTAssertEqual(assertTablesWellFormed(summary), 1)
        let row = markdownCells(summary.components(separatedBy: "\n").first { $0.hasPrefix("| SE-DenseNet-121 r=8 ") }!)
        XCTAssertEqual(row[3], "2/3")
        let finishedBest = input.runs.filter { $0.configuration == "SE-DenseNet-121 r=8" && $0.status == .finished }
            .map { $0.epochs.compactMap(\.testAccuracy).max()! }
        XCTAssertEqual(row[4], NumberFormat.meanStd(try Statistics.mean(finishedBest), try Statistics.sampleStandardDeviation(finishedBest)))
        XCTAssertTrue(summary.contains("- SE-DenseNet-121 r=8 seed 3: failed after 4 epochs"))

        let runs = try ReportTables.runs(input)
        XCTAssertTrue(runs.contains("failed (not averaged)"))
        // The comparison pairs only seeds finished in both configurations.
        let comparison = try ReportTables.comparison(input, baseline: "DenseNet-121")
        let cmp = markdownCells(comparison.components(separatedBy: "\n").first { $0.hasPrefix("| SE-DenseNet-121 r=8 ") }!)
        XCTAssertEqual(cmp[1], "2")
        XCTAssertFalse(cmp[5].contains("seed 3"))
    }

    /// Explicit pairs (each SE variant against its own backbone): one row per pair, each naming its baseline, with
    /// the same statistics as a single-baseline comparison of that pair; the README heading says so.
    func testComparisonWithAPairPerBackbone() throws {
        var input = SampleInput.make()
        input.comparisons = [ComparisonPair(candidate: "SE-DenseNet-121 r=16", baseline: "DenseNet-121"),
                             ComparisonPair(candidate: "SE-DenseNet-121 r=8", baseline: "SE-DenseNet-121 r=16")]
        let table = try ReportTables.comparison(input, pairs: input.comparisons)
        XCTAssertEqual(assertTablesWellFormed(table), 1)
        let lines = table.components(separatedBy: "\n")
        XCTAssertTrue(lines[0].contains("| Baseline "), lines[0])
        let row = markdownCells(lines.first { $0.hasPrefix("| SE-DenseNet-121 r=8 ") }!)
        XCTAssertEqual(row[1], "SE-DenseNet-121 r=16")
        let single = try ReportTables.comparison(input, baseline: "SE-DenseNet-121 r=16")
        let alone = markdownCells(single.components(separatedBy: "\n").first { $0.hasPrefix("| SE-DenseNet-121 r=8 ") }!)
        XCTAssertEqual(Array(row.dropFirst(2)), Array(alone.dropFirst(1)))
        let readme = try reportMarkdown(input, generatedAt: Date(timeIntervalSince1970: 0))
        XCTAssertTrue(readme.contains("## Comparison of each configuration with its baseline"))
        input.comparisons = [ComparisonPair(candidate: "ResNet-50", baseline: "DenseNet-121")]
        XCTAssertThrowsError(try input.validate())
    }

    func testComparisonTableMatchesPairedStatistics() throws {
        let input = SampleInput.make()
        let comparison = try ReportTables.comparison(input, baseline: "DenseNet-121")
        XCTAssertEqual(assertTablesWellFormed(comparison), 1)
        func last(_ config: String) -> [Double] {
            input.runs.filter { $0.configuration == config }.sorted { $0.seed < $1.seed }.map { $0.epochs.last!.testAccuracy! }
        }
        let expected = try Statistics.pairedTTest(candidate: last("SE-DenseNet-121 r=16"), baseline: last("DenseNet-121"))
        let other = try Statistics.pairedTTest(candidate: last("SE-DenseNet-121 r=8"), baseline: last("DenseNet-121"))
        let lines = comparison.components(separatedBy: "\n")
        XCTAssertEqual(markdownCells(lines[0])[6], "Holm-adjusted", "two comparisons are one family")
        XCTAssertEqual(markdownCells(lines[0])[4], "95% interval of Δ (paired bootstrap over 80 images)")
        let row = markdownCells(lines.first { $0.hasPrefix("| SE-DenseNet-121 r=16 ") }!)
        XCTAssertEqual(row[1], "3")
        XCTAssertEqual(row[2], NumberFormat.signed(expected.meanDifference))
        XCTAssertEqual(row[5], NumberFormat.pValue(expected.pValue!))
        // Holm with m = 2: the smaller p doubled, the larger one max(itself, the smaller doubled), capped at 1.
        let (p, q) = (expected.pValue!, other.pValue!)
        let adjusted = p <= q ? min(1, 2 * p) : max(min(1, 2 * q), p)
        XCTAssertEqual(row[6], NumberFormat.pValue(adjusted))
        XCTAssertEqual(row[8], (adjusted >= 0.05 ? "not significant" : (expected.meanDifference > 0 ? "higher than baseline" : "lower than baseline"))
                       + " (Holm over 2 comparisons)", "the verdict names its family")
        XCTAssertEqual(row[7].components(separatedBy: "; ").count, 3, "one McNemar p per seed: \(row[7])")
        XCTAssertFalse(comparison.contains("| DenseNet-121 "), "baseline is not compared with itself")
        XCTAssertThrowsError(try ReportTables.comparison(input, baseline: "ResNet-50"))

        // Predictions on different images cannot be paired: the error names the runs.
        var mismatched = input
        mismatched.runs[3].predictions[0].file = "elsewhere.jpg"
        XCTAssertThrowsError(try ReportTables.comparison(mismatched, baseline: "DenseNet-121")) { error in
            XCTAssertTrue("\(error)".contains("SE-DenseNet-121 r=16 vs DenseNet-121, seed 1"), "\(error)")
        }
    }

    func testVerdictWording() {
        func result(_ d: Double, _ p: Double?) -> PairedTTestResult {
            PairedTTestResult(count: 3, meanDifference: d, standardDeviation: 0.01, tStatistic: 0, pValue: p,
                              confidenceInterval: ConfidenceInterval(lower: 0, upper: 0, level: 0.95))
        }
        XCTAssertEqual(ReportTables.verdict(result(0.02, 0.05), adjustedP: nil), "not significant")
        XCTAssertEqual(ReportTables.verdict(result(0.02, 0.049), adjustedP: nil), "higher than baseline")
        XCTAssertEqual(ReportTables.verdict(result(-0.02, 0.01), adjustedP: nil), "lower than baseline")
        XCTAssertEqual(ReportTables.verdict(result(-0.02, 0.01), adjustedP: 0.06), "not significant", "Holm decides")
        XCTAssertEqual(ReportTables.verdict(result(0.02, nil), adjustedP: nil), "same Δ in every seed: t-test undefined")
        XCTAssertEqual(ReportTables.verdict(nil, adjustedP: nil), "too few paired seeds (need 2)")
    }

    func testClassificationAndConfusionTables() throws {
        let input = SampleInput.make()
        let metrics = try ReportTables.classificationMetrics(input)
        XCTAssertEqual(assertTablesWellFormed(metrics), 1)
        XCTAssertTrue(metrics.contains("Positive class: **Monkeypox**"))
        let perRun = try ReportTables.classificationMetricsPerRun(input)
        XCTAssertEqual(assertTablesWellFormed(perRun), 1)
        // Row for DenseNet-121 seed 1 agrees with metrics computed directly from its predictions.
        let run = input.runs.first { $0.configuration == "DenseNet-121" && $0.seed == 1 }!
        let direct = try ClassificationMetrics.binary(predictions: run.predictions, positiveClass: 0)
        let row = markdownCells(perRun.components(separatedBy: "\n").first { $0.hasPrefix("| DenseNet-121 ") }!)
        XCTAssertEqual(Array(row[1...6]), ["1", "\(direct.truePositives)", "\(direct.falseNegatives)", "\(direct.falsePositives)",
                                           "\(direct.trueNegatives)", NumberFormat.fixed(direct.sensitivity!)])
        let confusion = try ReportTables.confusionMatrices(input)
        XCTAssertEqual(assertTablesWellFormed(confusion), 3)
        // Each configuration's matrix sums to 3 seeds × 80 images in its Total column.
        let totals = confusion.components(separatedBy: "\n").filter { $0.hasPrefix("| Monkeypox ") }.map { markdownCells($0)[5] }
        XCTAssertEqual(totals, ["84", "84", "84"])  // 28 Monkeypox images × 3 seeds
    }

    func testInvalidInputThrowsClearErrors() {
        var input = SampleInput.make()
        input.positiveClass = 7
        XCTAssertThrowsError(try ReportTables.summary(input)) { XCTAssertEqual($0 as? ReportError, .classOutOfRange(what: "positiveClass", index: 7, classCount: 4)) }
        input = SampleInput.make()
        input.runs.append(input.runs[0])
        XCTAssertThrowsError(try ReportTables.summary(input))
        input = SampleInput.make()
        input.runs[0].epochs[2].testAccuracy = 91.2  // percent instead of fraction
        XCTAssertThrowsError(try ReportTables.summary(input))
    }

    func testOutputIsDeterministic() throws {
        var shuffled = SampleInput.make()
        shuffled.runs.reverse()
        XCTAssertEqual(try ReportTables.summary(SampleInput.make()), try ReportTables.summary(shuffled))
        XCTAssertEqual(try ReportTables.runs(SampleInput.make()), try ReportTables.runs(shuffled))
    }
}
