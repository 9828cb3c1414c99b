/// Marker shapes that tell configurations apart beside their colour: with more configurations than the palette
/// has colours, or lines that run close together, the shape still names the line (and it survives grey print).
enum MarkerShape: CaseIterable {
    case circle, square, triangleUp, diamond, triangleDown

    static func forConfiguration(_ index: Int) -> MarkerShape { allCases[index % allCases.count] }

    func draw(at p: Point, radius r: Double, fill: Color, on canvas: Canvas) {
        switch self {
        case .circle: canvas.circle(p, radius: r, fill: fill, outline: .white, outlineWidth: 0.8)
        case .diamond: canvas.diamond(p, radius: r * 1.25, fill: fill, outline: .white, outlineWidth: 0.8)
        case .square:
            canvas.fillPolygon([Point(x: p.x - r, y: p.y - r), Point(x: p.x + r, y: p.y - r),
                                Point(x: p.x + r, y: p.y + r), Point(x: p.x - r, y: p.y + r)], color: fill, alpha: 1)
        case .triangleUp:
            canvas.fillPolygon([Point(x: p.x, y: p.y - 1.3 * r), Point(x: p.x + 1.2 * r, y: p.y + r),
                                Point(x: p.x - 1.2 * r, y: p.y + r)], color: fill, alpha: 1)
        case .triangleDown:
            canvas.fillPolygon([Point(x: p.x, y: p.y + 1.3 * r), Point(x: p.x + 1.2 * r, y: p.y - r),
                                Point(x: p.x - 1.2 * r, y: p.y - r)], color: fill, alpha: 1)
        }
    }
}
