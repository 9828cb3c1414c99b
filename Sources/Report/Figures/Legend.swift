/// A legend laid out in rows that wrap at a maximum width.
struct Legend {
    enum Swatch {
        case line(Color, dash: [Double], width: Double)
        case band(Color, alpha: Double)
        case dot(Color)
        case meanWithInterval(Color)
        case lineWithMarker(Color, MarkerShape)
        case ring(Color)
    }
    struct Item {
        let swatch: Swatch
        let label: String
    }

    static let fontSize = 11.5
    static let rowHeight = 20.0
    static let swatchWidth = 26.0
    static let itemGap = 22.0

    /// Rows of items that fit `maxWidth`; a new row also starts at each `breakBefore` index.
    static func rows(_ items: [Item], maxWidth: Double, canvas: Canvas, breakBefore: Set<Int> = []) -> [[Item]] {
        var rows: [[Item]] = [[]]
        var used = 0.0
        for (i, item) in items.enumerated() {
            let w = itemWidth(item, canvas: canvas)
            if !rows[rows.count - 1].isEmpty && (used + w > maxWidth || breakBefore.contains(i)) {
                rows.append([])
                used = 0
            }
            rows[rows.count - 1].append(item)
            used += w + itemGap
        }
        return rows
    }

    static func itemWidth(_ item: Item, canvas: Canvas) -> Double {
        swatchWidth + 6 + canvas.textWidth(item.label, size: fontSize)
    }

    /// Draws rows from (left, top), one row per `rowHeight`.
    static func draw(_ rows: [[Item]], left: Double, top: Double, on canvas: Canvas) {
        for (r, row) in rows.enumerated() {
            var x = left
            let y = top + Double(r) * rowHeight + rowHeight / 2
            for item in row {
                switch item.swatch {
                case let .line(color, dash, width):
                    canvas.line(Point(x: x, y: y), Point(x: x + swatchWidth, y: y), color: color, width: width, dash: dash)
                case let .band(color, alpha):
                    canvas.fillRectangle(x: x, y: y - 5, width: swatchWidth, height: 10, color: color, alpha: alpha)
                case let .dot(color):
                    canvas.circle(Point(x: x + swatchWidth / 2, y: y), radius: 3.5, fill: color, outline: .white)
                case let .lineWithMarker(color, shape):
                    canvas.line(Point(x: x, y: y), Point(x: x + swatchWidth, y: y), color: color, width: 3)
                    shape.draw(at: Point(x: x + swatchWidth / 2, y: y), radius: 3.6, fill: color, on: canvas)
                case let .ring(color):
                    canvas.circle(Point(x: x + swatchWidth / 2, y: y), radius: 5, fill: .white, alpha: 0, outline: color, outlineWidth: 1.8)
                case let .meanWithInterval(color):
                    canvas.line(Point(x: x + swatchWidth / 2, y: y - 7), Point(x: x + swatchWidth / 2, y: y + 7), color: color, width: 1.4)
                    canvas.diamond(Point(x: x + swatchWidth / 2, y: y), radius: 4.5, fill: .white, outline: color)
                }
                canvas.text(item.label, at: Point(x: x + swatchWidth + 6, y: y), size: fontSize, horizontal: .left, vertical: .middle)
                x += itemWidth(item, canvas: canvas) + itemGap
            }
        }
    }
}
