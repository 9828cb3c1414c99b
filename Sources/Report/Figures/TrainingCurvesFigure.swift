import Foundation

/// Size of a written figure in device pixels.
public struct FigureFile: Sendable, Equatable {
    public var url: URL
    public var pixelWidth: Int
    public var pixelHeight: Int
}

public enum Figures {
    /// Pixels per logical unit: 2 gives sharp figures on high-density screens and in print.
    public static let scale = 2.0

    /// Loss and accuracy against epoch, side by side, in the style of the SE paper's training curves:
    /// one colour (and marker shape) per configuration, training dashed and test solid, the mean over finished
    /// seeds as the line and ±1 sample std as a translucent band, the target accuracy and the test set's chance
    /// level as labelled horizontal lines. A loss that explodes in one run (a test loss of 61 beside losses
    /// below 2) would flatten every other curve: the loss axis stops at 3 × the 90th percentile of the plotted
    /// means, and points above it are marked at the top edge with their value.
    @discardableResult
    public static func trainingCurves(_ input: ReportInput, to url: URL) throws -> FigureFile {
        try input.validate()
        let curves = ConfigurationCurves.from(input)
        guard !curves.isEmpty else { throw ReportError.insufficientData(what: "training curves (finished runs)", needed: 1, got: 0) }

        let width = 1040.0, panelWidth = 400.0, panelHeight = 300.0, top = 40.0
        let lefts = [78.0, 78.0 + panelWidth + 100]
        let legendTop = top + panelHeight + 58
        let legendItems = curveLegend(curves, target: input.targetAccuracy, chance: input.chanceAccuracy != nil,
                                      validation: curves.contains { !$0.validationLoss.epochs.isEmpty },
                                      selected: curves.contains { !$0.selectedEpochs.isEmpty })
        // Measure on a scratch canvas: the figure's height depends on how many legend rows there are.
        let rows = Legend.rows(legendItems.items, maxWidth: width - 2 * lefts[0], canvas: try Canvas(width: 10, height: 10),
                               breakBefore: [legendItems.keyStart])
        let height = Int(legendTop + Double(rows.count) * Legend.rowHeight + 14)

        let canvas = try Canvas(width: Int(width), height: height, scale: scale)
        canvas.fillBackground(.white)
        let epochs = curves.flatMap(\.testLoss.epochs)
        let lastEpoch = max(2, epochs.max() ?? 1)
        let xRange = 1.0...Double(lastEpoch)
        let xStep = max(1, NiceScale.niceStep(span: Double(lastEpoch - 1), targetTicks: 6).rounded())
        let xTicks = stride(from: xStep, through: Double(lastEpoch), by: xStep).map { $0 }
        let firstTicks = xStep > 1 ? [1.0] + xTicks : xTicks

        // Validation curves (when any run has a validation part) count for the axes like the others.
        let lossBands = curves.flatMap { [$0.trainLoss, $0.testLoss] + ($0.validationLoss.epochs.isEmpty ? [] : [$0.validationLoss]) }
        let accuracyBands = curves.flatMap {
            [$0.trainAccuracy, $0.testAccuracy] + ($0.validationAccuracy.epochs.isEmpty ? [] : [$0.validationAccuracy])
        }
        let panels: [(title: String, yLabel: String, bands: [CurveBand], keyPaths: [KeyPath<ConfigurationCurves, CurveBand>],
                      validation: KeyPath<ConfigurationCurves, CurveBand>, target: Double?)] = [
            ("Loss", "cross-entropy loss", lossBands, [\.trainLoss, \.testLoss], \.validationLoss, nil),
            ("Accuracy", "top-1 accuracy", accuracyBands, [\.trainAccuracy, \.testAccuracy], \.validationAccuracy,
             input.targetAccuracy),
        ]
        let chance = input.chanceAccuracy
        for (panel, left) in zip(panels, lefts) {
            var low = panel.bands.flatMap { b in zip(b.mean, b.std).map { $0 - $1 } }.min() ?? 0
            var high = panel.bands.flatMap { b in zip(b.mean, b.std).map { $0 + $1 } }.max() ?? 1
            if let target = panel.target { low = min(low, target, chance ?? 1); high = max(high, target) }
            let cap = panel.target == nil ? lossAxisCap(panel.bands) : nil
            if let cap { high = min(high, cap) }
            // 3% headroom so no point or target line sits on the frame.
            let pad = 0.03 * (high - low)
            low = max(low - pad, 0)
            high += pad
            if panel.target != nil { high = min(high, 1) }  // accuracy never exceeds 1; keep the axis honest
            let axes = PlotAxes(left: left, top: top, width: panelWidth, height: panelHeight,
                                y: NiceScale(minimum: low, maximum: high, targetTicks: 6),
                                xTicks: firstTicks, xRange: xRange)
            axes.drawFrame(on: canvas, title: panel.title, xLabel: "epoch", yLabel: panel.yLabel,
                           xTickLabel: { String(Int($0)) })
            axes.clip(canvas)
            for c in curves {
                for (k, path) in panel.keyPaths.enumerated() {
                    drawBand(c[keyPath: path], axes: axes, canvas: canvas, color: Palette.color(c.colorIndex), alpha: k == 0 ? 0.08 : 0.16)
                }
            }
            if let target = panel.target {
                let y = axes.point(1, target).y
                canvas.line(Point(x: left, y: y), Point(x: left + panelWidth, y: y), color: .text, width: 1.1, dash: targetDash)
                if let chance { drawChanceLine(chance, axes: axes, left: left, width: panelWidth, on: canvas) }
            }
            for c in curves {
                let color = Palette.color(c.colorIndex), shape = MarkerShape.forConfiguration(c.colorIndex)
                let train = c[keyPath: panel.keyPaths[0]], test = c[keyPath: panel.keyPaths[1]]
                canvas.polyline(points(train, axes), color: color, width: 1.6, dash: trainDash)
                canvas.polyline(points(test, axes), color: color, width: 2.2)
                let validation = c[keyPath: panel.validation]
                if !validation.epochs.isEmpty {
                    canvas.polyline(points(validation, axes), color: color, width: 1.6, dash: validationDash)
                }
                // Markers on the test line: every epoch of a short run; on long runs every few epochs, staggered
                // by configuration so the shapes of lines running together do not sit on top of each other.
                let every = lastEpoch <= maxEpochsWithMarkers ? 1 : max(2, lastEpoch / 8)
                for (epoch, p) in zip(test.epochs, points(test, axes)) where (epoch + c.colorIndex) % every == 0 {
                    shape.draw(at: p, radius: 2.8, fill: color, on: canvas)
                }
                // The epochs selected on validation: a ring on the test line (its test value is the headline).
                for (epoch, p) in zip(test.epochs, points(test, axes)) where c.selectedEpochs.contains(epoch) {
                    canvas.circle(p, radius: 5.5, fill: .white, alpha: 0, outline: color, outlineWidth: 1.8)
                }
            }
            canvas.resetClip()
            if let target = panel.target { drawTargetLabel(target, y: axes.point(1, target).y, left: left, on: canvas) }
            if let cap {
                for c in curves {
                    for band in panel.keyPaths.map({ c[keyPath: $0] }) {
                        for (epoch, value) in zip(band.epochs, band.mean) where value > axes.y.upper {
                            let x = axes.point(Double(epoch), 0).x
                            MarkerShape.triangleUp.draw(at: Point(x: x, y: top + 6), radius: 3.5,
                                                        fill: Palette.color(c.colorIndex), on: canvas)
                            canvas.text(NumberFormat.fixed(value, digits: 1), at: Point(x: x + 6, y: top + 6), size: 9.5,
                                        horizontal: .left, vertical: .middle)
                        }
                    }
                }
            }
        }
        Legend.draw(rows, left: lefts[0], top: legendTop, on: canvas)
        try canvas.writePNG(to: url)
        return FigureFile(url: url, pixelWidth: Int(width * scale), pixelHeight: Int(Double(height) * scale))
    }

    /// What the README says under the curves beyond the figure's legend: how validation curves and selected epochs
    /// are drawn, and how runs of different lengths are averaged; "" when neither applies.
    static func curvesNote(_ input: ReportInput) -> String {
        let finished = input.runs.filter { $0.status == .finished }
        var sentences: [String] = []
        if finished.contains(where: { $0.epochs.contains { $0.validationLoss != nil } }) {
            sentences.append("Validation loss and accuracy are dash-dot in the configuration's colour"
                + (finished.contains(where: \.selectsOnValidation) ? "; a ring on the test line marks each epoch a run selected on validation." : "."))
        }
        if finished.contains(where: { $0.stoppedEarlyAt != nil }) {
            sentences.append("Runs that stopped early end at their last epoch; from there on a configuration's mean and band "
                + "are over the runs still training (each epoch averages the runs that have it), so the tail of a curve "
                + "rests on fewer runs.")
        }
        return sentences.isEmpty ? "" : "\n" + sentences.joined(separator: " ") + "\n"
    }

    static let trainDash: [Double] = [6, 4]
    static let validationDash: [Double] = [7, 2.5, 1.5, 2.5]
    static let chanceDash: [Double] = [1, 2.5]

    /// The loss axis's top: 3 × the 90th percentile of every plotted mean, or nil when nothing lies above it.
    static func lossAxisCap(_ bands: [CurveBand]) -> Double? {
        let values = bands.flatMap(\.mean).filter(\.isFinite).sorted()
        guard let largest = values.last, values.count >= 4 else { return nil }
        let cap = 3 * values[Int(0.9 * Double(values.count - 1))]
        return largest > cap ? cap : nil
    }

    /// The chance level as a grey dotted line with its label at the right end, above the line.
    static func drawChanceLine(_ chance: Double, axes: PlotAxes, left: Double, width: Double, on canvas: Canvas) {
        let y = axes.point(0, chance).y
        canvas.line(Point(x: left, y: y), Point(x: left + width, y: y), color: .neutral, width: 1.3, dash: chanceDash)
        let label = "chance \(NumberFormat.fixed(chance, digits: 3))"
        let w = canvas.textWidth(label, size: 10.5)
        canvas.fillRectangle(x: left + width - w - 10, y: y - 16, width: w + 6, height: 13, color: .white, alpha: 0.85)
        canvas.text(label, at: Point(x: left + width - w - 7, y: y - 5), size: 10.5, color: .neutral)
    }
    static let maxEpochsWithMarkers = 25

    /// "target 0.850" just above the target line at the plot's left end, where accuracy curves are still low
    /// early in training, on a translucent white box so a crossing curve cannot make it unreadable.
    static func drawTargetLabel(_ target: Double, y: Double, left: Double, on canvas: Canvas) {
        let label = "target \(NumberFormat.fixed(target, digits: 3))"
        let w = canvas.textWidth(label, size: 10.5)
        canvas.fillRectangle(x: left + 4, y: y - 16, width: w + 6, height: 13, color: .white, alpha: 0.85)
        canvas.text(label, at: Point(x: left + 7, y: y - 5), size: 10.5)
    }
    static let targetDash: [Double] = [1.5, 3]

    static func points(_ band: CurveBand, _ axes: PlotAxes) -> [Point] {
        zip(band.epochs, band.mean).map { axes.point(Double($0), $1) }
    }

    /// Translucent polygon between mean − std and mean + std (skipped where fewer than two seeds exist).
    static func drawBand(_ band: CurveBand, axes: PlotAxes, canvas: Canvas, color: Color, alpha: Double) {
        guard band.std.contains(where: { $0 > 0 }) else { return }
        let upper = band.epochs.indices.map { axes.point(Double(band.epochs[$0]), band.mean[$0] + band.std[$0]) }
        let lower = band.epochs.indices.reversed().map { axes.point(Double(band.epochs[$0]), band.mean[$0] - band.std[$0]) }
        canvas.fillPolygon(upper + lower, color: color, alpha: alpha)
    }

    /// Configuration colours first, then (on a new row) the key to line styles, band and target.
    static func curveLegend(_ curves: [ConfigurationCurves], target: Double, chance: Bool, validation: Bool = false,
                            selected: Bool = false) -> (items: [Legend.Item], keyStart: Int) {
        let configurations = curves.map { c in
            Legend.Item(swatch: .lineWithMarker(Palette.color(c.colorIndex), MarkerShape.forConfiguration(c.colorIndex)),
                        label: "\(c.name) (" + (c.foldCount > 0 ? "\(c.foldCount) fold\(c.foldCount == 1 ? "" : "s") × " : "")
                            + "\(c.seedCount) seed\(c.seedCount == 1 ? "" : "s"))")
        }
        let folds = curves.contains { $0.foldCount > 0 }
        let key: [Legend.Item] = [
            .init(swatch: .line(.neutral, dash: trainDash, width: 1.6), label: "train (dashed)"),
            .init(swatch: .line(.neutral, dash: [], width: 2.2), label: "test (solid)"),
        ] + (validation ? [.init(swatch: .line(.neutral, dash: validationDash, width: 1.6), label: "validation (dash-dot)")] : [])
          + (selected ? [.init(swatch: .ring(.neutral), label: "epoch selected on validation")] : []) + [
            .init(swatch: .band(.neutral, alpha: 0.25), label: folds ? "±1 std over runs" : "±1 std over seeds"),
            .init(swatch: .line(.text, dash: targetDash, width: 1.1), label: "target accuracy"),
        ] + (chance ? [.init(swatch: .line(.neutral, dash: chanceDash, width: 1.3), label: "chance (majority class)")] : [])
        return (configurations + key, configurations.count)
    }
}
