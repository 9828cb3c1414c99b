import Foundation

/// A small 8-bit RGB picture for a figure (row-major, 3 bytes per pixel).
public struct Thumbnail: Sendable, Equatable {
    public var width: Int, height: Int
    public var rgb: [UInt8]
    public init(width: Int, height: Int, rgb: [UInt8]) { self.width = width; self.height = height; self.rgb = rgb }
}

/// One flagged (or closest) pair of the near-duplicate audit, as the contact sheet shows it.
public struct NearDuplicatePairPicture: Sendable, Equatable {
    /// File names (no folders) and the pictures; a picture is nil when its file could not be read here.
    public var query: String, reference: String
    public var queryPicture: Thumbnail?, referencePicture: Thumbnail?
    /// "Hamming 2 · r 0.991 · thumbnail": how close the audit measured them and which signal flagged them.
    public var caption: String
    public var flagged: Bool
    public init(query: String, reference: String, queryPicture: Thumbnail?, referencePicture: Thumbnail?,
                caption: String, flagged: Bool) {
        self.query = query; self.reference = reference; self.queryPicture = queryPicture
        self.referencePicture = referencePicture; self.caption = caption; self.flagged = flagged
    }
}

extension Figures {
    /// The closest test–train pairs of the near-duplicate audit side by side (test left, training right), with
    /// the distance under each pair, so a reader can see what was flagged and judge it.
    @discardableResult
    public static func contactSheet(_ pairs: [NearDuplicatePairPicture], title: String, to url: URL) throws -> FigureFile {
        guard !pairs.isEmpty else { throw ReportError.insufficientData(what: "contact sheet (pairs)", needed: 1, got: 0) }
        let thumb = 110.0, gap = 6.0, cellWidth = 2 * thumb + gap + 24, cellHeight = thumb + 52
        let columns = min(3, pairs.count), rows = (pairs.count + columns - 1) / columns
        let left = 16.0, top = 40.0
        let width = left * 2 + Double(columns) * cellWidth, height = top + Double(rows) * cellHeight + 10
        let canvas = try Canvas(width: Int(width.rounded(.up)), height: Int(height.rounded(.up)), scale: scale)
        canvas.fillBackground(.white)
        canvas.text(title, at: Point(x: left, y: 24), size: PlotAxes.titleFontSize, bold: true)
        for (i, pair) in pairs.enumerated() {
            let x = left + Double(i % columns) * cellWidth, y = top + Double(i / columns) * cellHeight
            for (k, picture) in [pair.queryPicture, pair.referencePicture].enumerated() {
                let px = x + Double(k) * (thumb + gap)
                if let picture { canvas.image(picture, x: px, y: y, side: thumb) } else {
                    canvas.fillRectangle(x: px, y: y, width: thumb, height: thumb, color: .grid)
                    canvas.text("not readable here", at: Point(x: px + thumb / 2, y: y + thumb / 2), size: 9,
                                color: .neutral, horizontal: .center, vertical: .middle)
                }
            }
            let color: Color = pair.flagged ? Color(hex: 0xD55E00) : .neutral
            canvas.text(pair.caption, at: Point(x: x, y: y + thumb + 14), size: 10, color: color, bold: pair.flagged)
            canvas.text("test: " + pair.query, at: Point(x: x, y: y + thumb + 28), size: 9, color: .axis)
            canvas.text("train: " + pair.reference, at: Point(x: x, y: y + thumb + 41), size: 9, color: .axis)
        }
        try canvas.writePNG(to: url)
        return FigureFile(url: url, pixelWidth: Int(width.rounded(.up) * scale), pixelHeight: Int(height.rounded(.up) * scale))
    }
}
