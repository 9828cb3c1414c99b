import Foundation

extension Figures {
    /// Headline test accuracy per configuration (the last epoch's, or the one selected on validation): one dot per
    /// finished seed (k-fold: per fold and seed; spread sideways by a fixed, seed-derived jitter so equal values stay
    /// visible), and beside them the mean as a diamond with its
    /// t-based 95% CI as an error bar. The target accuracy is a labelled horizontal line.
    @discardableResult
    public static func finalAccuracy(_ input: ReportInput, to url: URL) throws -> FigureFile {
        try input.validate()
        let groups = input.groups()
        let columns = groups.enumerated().map { index, group in
            (index: index, name: group.name,
             seeds: group.finished.compactMap { d in d.headlineTestAccuracy.map { (jitterKey(d.run), $0) } })
        }
        let allValues = columns.flatMap { $0.seeds.map(\.1) }
        guard !allValues.isEmpty else { throw ReportError.insufficientData(what: "final accuracy figure (finished runs)", needed: 1, got: 0) }
        let intervals = columns.map { c in try? Statistics.meanConfidenceInterval(c.seeds.map(\.1)) }

        let canvas = try Canvas(width: 10, height: 10)  // scratch, to measure label lines before sizing the figure
        let left = 78.0, top = 40.0, plotHeight = 300.0
        let columnWidth = max(150.0, 520.0 / Double(columns.count))
        let plotWidth = columnWidth * Double(columns.count)
        let labelLines = columns.map { wrap($0.name, width: columnWidth - 12, size: PlotAxes.tickFontSize, canvas: canvas) }
        let labelHeight = Double(labelLines.map(\.count).max() ?? 1) * 14
        let legendTop = top + plotHeight + 12 + labelHeight + 12
        let width = left + plotWidth + 30
        let legendRows = Legend.rows(finalAccuracyLegend(folds: input.isCrossValidated), maxWidth: width - left - 10, canvas: canvas)
        let height = legendTop + Double(legendRows.count) * Legend.rowHeight + 12
        let figure = try Canvas(width: Int(width.rounded(.up)), height: Int(height.rounded(.up)), scale: scale)
        figure.fillBackground(.white)

        var low = min(allValues.min()!, input.targetAccuracy, input.chanceAccuracy ?? 1)
        var high = max(allValues.max()!, input.targetAccuracy)
        for ci in intervals.compactMap({ $0 }) { low = min(low, ci.lower); high = max(high, ci.upper) }
        let pad = 0.03 * (high - low)  // headroom so no dot or target line sits on the frame
        let axes = PlotAxes(left: left, top: top, width: plotWidth, height: plotHeight,
                            y: NiceScale(minimum: max(0, low - pad), maximum: min(1, high + pad), targetTicks: 6),
                            xTicks: [], xRange: 0...Double(columns.count))
        axes.drawFrame(on: figure, title: "Final test accuracy (\(input.epochRule.selects ? "selected" : "last") epoch)",
                       xLabel: "", yLabel: "top-1 accuracy",
                       xTickLabel: { _ in "" })
        let targetY = axes.point(0, input.targetAccuracy).y
        figure.line(Point(x: left, y: targetY), Point(x: left + plotWidth, y: targetY), color: .text, width: 1.1, dash: targetDash)
        let chance = input.chanceAccuracy.flatMap { $0 >= axes.y.lower && $0 <= axes.y.upper ? $0 : nil }
        if let chance { drawChanceLine(chance, axes: axes, left: left, width: plotWidth, on: figure) }

        for (c, column) in columns.enumerated() {
            let center = axes.point(Double(c) + 0.5, 0).x
            for (l, line) in labelLines[c].enumerated() {
                figure.text(line, at: Point(x: center, y: top + plotHeight + 10 + Double(l) * 14), size: PlotAxes.tickFontSize,
                            color: .text, horizontal: .center, vertical: .top)
            }
            let color = Palette.color(column.index)
            if column.seeds.isEmpty {
                figure.text("no finished run", at: Point(x: center, y: top + plotHeight / 2), size: PlotAxes.tickFontSize,
                            color: .neutral, horizontal: .center, vertical: .middle)
                continue
            }
            for (seed, value) in column.seeds {
                let p = axes.point(Double(c) + 0.5, value)
                figure.circle(Point(x: center - 20 + jitter(seed: seed) * 12, y: p.y), radius: 4, fill: color, alpha: 0.85, outline: .white)
            }
            guard let mean = try? Statistics.mean(column.seeds.map(\.1)) else { continue }
            let x = center + 16
            if let ci = intervals[c] {
                let a = axes.point(0, ci.lower).y, b = axes.point(0, ci.upper).y
                figure.line(Point(x: x, y: a), Point(x: x, y: b), color: color, width: 1.6)
                for y in [a, b] { figure.line(Point(x: x - 5, y: y), Point(x: x + 5, y: y), color: color, width: 1.6) }
            }
            figure.diamond(Point(x: x, y: axes.point(0, mean).y), radius: 5.5, fill: .white, outline: color, outlineWidth: 2)
        }
        drawTargetLabel(input.targetAccuracy, y: targetY, left: left, on: figure)

        Legend.draw(legendRows, left: left, top: legendTop, on: figure)
        try figure.writePNG(to: url)
        return FigureFile(url: url, pixelWidth: Int((width.rounded(.up) * scale)), pixelHeight: Int(height.rounded(.up) * scale))
    }

    /// Where a dot stands sideways: by seed, and for k-fold runs by fold too.
    static func jitterKey(_ run: ReportRun) -> Int { run.fold.map { run.seed * 101 + $0.fold } ?? run.seed }

    static func finalAccuracyLegend(folds: Bool) -> [Legend.Item] { [
        .init(swatch: .dot(.neutral), label: folds ? "one run (fold × seed)" : "one seed"),
        .init(swatch: .meanWithInterval(.neutral), label: "mean with t-based 95% CI (needs ≥ 2 \(folds ? "runs" : "seeds"))"),
        .init(swatch: .line(.text, dash: targetDash, width: 1.1), label: "target accuracy"),
        .init(swatch: .line(.neutral, dash: chanceDash, width: 1.3), label: "chance (majority class)"),
    ] }

    /// Deterministic jitter in [−1, 1] from the seed: the fractional part of seed × golden ratio spreads
    /// consecutive seeds evenly (a low-discrepancy sequence).
    static func jitter(seed: Int) -> Double {
        let golden = 0.6180339887498949
        let f = (Double(seed) * golden).truncatingRemainder(dividingBy: 1)
        return 2 * (f < 0 ? f + 1 : f) - 1
    }

    /// Greedy word wrap so long configuration names fit under their column; a single word wider than the
    /// column (densenet121-se16-transition) is broken after its hyphens instead of running into the next label.
    static func wrap(_ text: String, width: Double, size: Double, canvas: Canvas) -> [String] {
        var lines: [String] = []
        var current = ""
        var words: [String] = []
        for word in text.split(separator: " ").map(String.init) {
            guard canvas.textWidth(word, size: size) > width, word.contains("-") else { words.append(word); continue }
            let parts = word.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            var piece = ""
            for (i, part) in parts.enumerated() {
                let next = piece + part + (i < parts.count - 1 ? "-" : "")
                if !piece.isEmpty && canvas.textWidth(next, size: size) > width { words.append(piece); piece = "" }
                piece += part + (i < parts.count - 1 ? "-" : "")
            }
            if !piece.isEmpty { words.append(piece) }
        }
        for word in words {
            let candidate = current.isEmpty ? word : current + (current.hasSuffix("-") ? "" : " ") + word
            if !current.isEmpty && canvas.textWidth(candidate, size: size) > width {
                lines.append(current)
                current = word
            } else {
                current = candidate
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines.isEmpty ? [""] : lines
    }
}
