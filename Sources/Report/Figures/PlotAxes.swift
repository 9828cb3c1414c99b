/// A rectangular plot area with linear x and y scales, drawn with grid, ticks, labels and a title.
struct PlotAxes {
    /// Plot rectangle in logical units (top-left origin, y down as in Cairo).
    let left: Double, top: Double, width: Double, height: Double
    let y: NiceScale
    /// Tick values to draw on x (epochs use integer ticks inside the data range, not the padded range).
    let xTicks: [Double]
    let xRange: ClosedRange<Double>

    static let tickFontSize = 11.0
    static let labelFontSize = 12.5
    static let titleFontSize = 14.0

    func point(_ dataX: Double, _ dataY: Double) -> Point {
        let fx = (dataX - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound)
        let fy = (dataY - y.lower) / (y.upper - y.lower)
        return Point(x: left + fx * width, y: top + (1 - fy) * height)
    }

    /// Grid lines, frame, tick labels, axis labels and title. Call before plotting data so the data is on top.
    func drawFrame(on canvas: Canvas, title: String, xLabel: String, yLabel: String, xTickLabel: (Double) -> String) {
        for value in y.ticks {
            let p = point(xRange.lowerBound, value)
            canvas.line(Point(x: left, y: p.y), Point(x: left + width, y: p.y), color: .grid, width: 0.8)
            canvas.text(y.label(value), at: Point(x: left - 7, y: p.y), size: Self.tickFontSize, color: .axis,
                        horizontal: .right, vertical: .middle)
        }
        for value in xTicks {
            let p = point(value, y.lower)
            canvas.line(Point(x: p.x, y: top), Point(x: p.x, y: top + height), color: .grid, width: 0.8)
            canvas.line(Point(x: p.x, y: top + height), Point(x: p.x, y: top + height + 4), color: .axis, width: 1)
            canvas.text(xTickLabel(value), at: Point(x: p.x, y: top + height + 8), size: Self.tickFontSize, color: .axis,
                        horizontal: .center, vertical: .top)
        }
        canvas.polyline([Point(x: left, y: top), Point(x: left, y: top + height), Point(x: left + width, y: top + height)],
                        color: .axis, width: 1)
        canvas.text(title, at: Point(x: left, y: top - 12), size: Self.titleFontSize, bold: true)
        canvas.text(xLabel, at: Point(x: left + width / 2, y: top + height + 40), size: Self.labelFontSize,
                    horizontal: .center)
        let widestTick = y.ticks.map { canvas.textWidth(y.label($0), size: Self.tickFontSize) }.max() ?? 0
        canvas.text(yLabel, at: Point(x: left - widestTick - 18, y: top + height / 2), size: Self.labelFontSize,
                    horizontal: .center, rotation: -Double.pi / 2)
    }

    /// Clips to the plot rectangle (a hair larger so lines on the border are not cut in half).
    func clip(_ canvas: Canvas) {
        canvas.clip(x: left - 1, y: top - 1, width: width + 2, height: height + 2)
    }
}
