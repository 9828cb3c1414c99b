import CCairo
import Foundation

/// An sRGB colour, components in [0, 1].
public struct Color: Sendable, Equatable {
    public var red: Double, green: Double, blue: Double
    public init(red: Double, green: Double, blue: Double) {
        self.red = red
        self.green = green
        self.blue = blue
    }
    /// 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(red: Double((hex >> 16) & 0xFF) / 255, green: Double((hex >> 8) & 0xFF) / 255, blue: Double(hex & 0xFF) / 255)
    }
    static let white = Color(hex: 0xFFFFFF)
    static let text = Color(hex: 0x222222)
    static let axis = Color(hex: 0x555555)
    static let grid = Color(hex: 0xE4E4E4)
    static let neutral = Color(hex: 0x666666)
}

struct Point {
    var x: Double, y: Double
}

/// A thin, throwing wrapper over a Cairo image surface. Callers draw in logical units (points); the surface
/// holds `scale` pixels per unit (2 = "retina" density), so text and lines stay sharp.
final class Canvas {
    enum HorizontalAlignment { case left, center, right }
    /// `middle` centres digits and capitals on y; `top` and `bottom` put their tops / the baseline there.
    enum VerticalAlignment { case baseline, middle, top }

    let width: Double, height: Double, scale: Double
    private let surface: OpaquePointer
    private let context: OpaquePointer
    static let fontFamily = "DejaVu Sans"

    init(width: Int, height: Int, scale: Double = 2) throws {
        guard width > 0, height > 0, scale > 0 else {
            throw ReportError.invalidValue(what: "canvas size", value: "\(width)×\(height) at \(scale)×")
        }
        self.width = Double(width)
        self.height = Double(height)
        self.scale = scale
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32((Double(width) * scale).rounded()),
                                             Int32((Double(height) * scale).rounded()))
        context = cairo_create(surface)
        try check("create")
        cairo_scale(context, scale, scale)
        cairo_set_antialias(context, CAIRO_ANTIALIAS_BEST)
        let options = cairo_font_options_create()
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT)
        cairo_set_font_options(context, options)
        cairo_font_options_destroy(options)
        cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(context, CAIRO_LINE_CAP_BUTT)
    }

    deinit {
        cairo_destroy(context)
        cairo_surface_destroy(surface)
    }

    func fillBackground(_ color: Color) {
        setSource(color)
        cairo_paint(context)
    }

    func line(_ a: Point, _ b: Point, color: Color, width: Double, dash: [Double] = [], alpha: Double = 1) {
        polyline([a, b], color: color, width: width, dash: dash, alpha: alpha)
    }

    func polyline(_ points: [Point], color: Color, width: Double, dash: [Double] = [], alpha: Double = 1) {
        guard points.count >= 2 else { return }
        path(points)
        setSource(color, alpha: alpha)
        cairo_set_line_width(context, width)
        dash.withUnsafeBufferPointer { cairo_set_dash(context, $0.baseAddress, Int32($0.count), 0) }
        cairo_stroke(context)
        cairo_set_dash(context, nil, 0, 0)
    }

    func fillPolygon(_ points: [Point], color: Color, alpha: Double) {
        guard points.count >= 3 else { return }
        path(points)
        cairo_close_path(context)
        setSource(color, alpha: alpha)
        cairo_fill(context)
    }

    func fillRectangle(x: Double, y: Double, width: Double, height: Double, color: Color, alpha: Double = 1) {
        cairo_rectangle(context, x, y, width, height)
        setSource(color, alpha: alpha)
        cairo_fill(context)
    }

    /// A filled disc with an optional outline (white outlines keep overlapping dots distinguishable).
    func circle(_ center: Point, radius: Double, fill: Color, alpha: Double = 1, outline: Color? = nil, outlineWidth: Double = 1) {
        cairo_new_path(context)
        cairo_arc(context, center.x, center.y, radius, 0, 2 * Double.pi)
        setSource(fill, alpha: alpha)
        if let outline {
            cairo_fill_preserve(context)
            setSource(outline)
            cairo_set_line_width(context, outlineWidth)
            cairo_stroke(context)
        } else {
            cairo_fill(context)
        }
    }

    /// A diamond (mean marker), filled and outlined.
    func diamond(_ center: Point, radius: Double, fill: Color, outline: Color, outlineWidth: Double = 1.2) {
        path([Point(x: center.x, y: center.y - radius), Point(x: center.x + radius, y: center.y),
              Point(x: center.x, y: center.y + radius), Point(x: center.x - radius, y: center.y)])
        cairo_close_path(context)
        setSource(fill)
        cairo_fill_preserve(context)
        setSource(outline)
        cairo_set_line_width(context, outlineWidth)
        cairo_stroke(context)
    }

    /// Restricts drawing to a rectangle until `resetClip`, so bands and lines never spill over the axes.
    func clip(x: Double, y: Double, width: Double, height: Double) {
        cairo_new_path(context)
        cairo_rectangle(context, x, y, width, height)
        cairo_clip(context)
    }

    func resetClip() { cairo_reset_clip(context) }

    func textWidth(_ text: String, size: Double, bold: Bool = false) -> Double {
        selectFont(size: size, bold: bold)
        var extents = cairo_text_extents_t()
        cairo_text_extents(context, text, &extents)
        return extents.x_advance
    }

    /// Draws UTF-8 text anchored at `point`, optionally rotated (radians, counter-clockwise negative as in Cairo).
    func text(_ text: String, at point: Point, size: Double, color: Color = .text, bold: Bool = false,
              horizontal: HorizontalAlignment = .left, vertical: VerticalAlignment = .baseline, rotation: Double = 0) {
        let width = textWidth(text, size: size, bold: bold)
        let dx: Double = horizontal == .left ? 0 : (horizontal == .center ? -width / 2 : -width)
        // DejaVu Sans capitals are 0.73 em tall: half of that centres digits and capitals on the anchor.
        let dy: Double = vertical == .baseline ? 0 : (vertical == .middle ? 0.365 * size : 0.73 * size)
        cairo_save(context)
        cairo_translate(context, point.x, point.y)
        cairo_rotate(context, rotation)
        cairo_move_to(context, dx, dy)
        setSource(color)
        cairo_show_text(context, text)
        cairo_restore(context)
    }

    /// Draws an 8-bit RGB image with its top-left corner at (x, y), scaled to `side` units on its longer side.
    func image(_ thumbnail: Thumbnail, x: Double, y: Double, side: Double) {
        let (w, h) = (thumbnail.width, thumbnail.height)
        guard w > 0, h > 0, thumbnail.rgb.count == w * h * 3 else { return }
        let stride = Int(cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, Int32(w)))
        guard let image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(w), Int32(h)),
              let data = cairo_image_surface_get_data(image) else { return }
        defer { cairo_surface_destroy(image) }
        cairo_surface_flush(image)
        // Cairo's RGB24 is one native-endian 32-bit word per pixel, 0x00RRGGBB.
        data.withMemoryRebound(to: UInt8.self, capacity: stride * h) { bytes in
            for row in 0..<h {
                let line = UnsafeMutableRawPointer(bytes + row * stride).assumingMemoryBound(to: UInt32.self)
                for col in 0..<w {
                    let i = (row * w + col) * 3
                    line[col] = UInt32(thumbnail.rgb[i]) << 16 | UInt32(thumbnail.rgb[i + 1]) << 8 | UInt32(thumbnail.rgb[i + 2])
                }
            }
        }
        cairo_surface_mark_dirty(image)
        let factor = side / Double(max(w, h))
        cairo_save(context)
        cairo_translate(context, x, y)
        cairo_scale(context, factor, factor)
        cairo_set_source_surface(context, image, 0, 0)
        cairo_paint(context)
        cairo_restore(context)
    }

    /// Writes the surface as PNG; throws if Cairo reported any earlier error or the file cannot be written.
    func writePNG(to url: URL) throws {
        try check("drawing")
        cairo_surface_flush(surface)
        let status = cairo_surface_write_to_png(surface, url.path)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw ReportError.cairo(operation: "write PNG \(url.path)", status: String(cString: cairo_status_to_string(status)))
        }
    }

    private func check(_ operation: String) throws {
        for status in [cairo_surface_status(surface), cairo_status(context)] where status != CAIRO_STATUS_SUCCESS {
            throw ReportError.cairo(operation: operation, status: String(cString: cairo_status_to_string(status)))
        }
    }

    private func path(_ points: [Point]) {
        cairo_new_path(context)
        cairo_move_to(context, points[0].x, points[0].y)
        for p in points.dropFirst() { cairo_line_to(context, p.x, p.y) }
    }

    private func selectFont(size: Double, bold: Bool) {
        cairo_select_font_face(context, Self.fontFamily, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(context, size)
    }

    private func setSource(_ color: Color, alpha: Double = 1) {
        cairo_set_source_rgba(context, color.red, color.green, color.blue, alpha)
    }
}
