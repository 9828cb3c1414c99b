import CCairo
import Foundation
import XCTest

/// A PNG read back through Cairo, independent of how it was written.
struct DecodedPNG {
    let width: Int, height: Int
    /// ARGB32 pixels, row-major (premultiplied; fully opaque here so equal to plain RGB).
    let pixels: [UInt32]

    init(_ url: URL) throws {
        let surface = cairo_image_surface_create_from_png(url.path)
        defer { cairo_surface_destroy(surface) }
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw NSError(domain: "DecodedPNG", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot decode \(url.path)"])
        }
        cairo_surface_flush(surface)
        width = Int(cairo_image_surface_get_width(surface))
        height = Int(cairo_image_surface_get_height(surface))
        let stride = Int(cairo_image_surface_get_stride(surface))
        let data = cairo_image_surface_get_data(surface)!
        var pixels: [UInt32] = []
        pixels.reserveCapacity(width * height)
        for y in 0..<height {
            let row = UnsafeRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<width { pixels.append(row[x]) }
        }
        self.pixels = pixels
    }

    func pixel(_ x: Int, _ y: Int) -> UInt32 { pixels[y * width + x] }

    /// Distinct colours and the share of non-white pixels in a rectangle given as fractions of the image.
    func content(inFractions x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) -> (distinctColors: Int, nonWhiteShare: Double) {
        var colors = Set<UInt32>(), nonWhite = 0, total = 0
        for y in Int(y0 * Double(height))..<Int(y1 * Double(height)) {
            for x in Int(x0 * Double(width))..<Int(x1 * Double(width)) {
                let p = pixel(x, y) & 0x00FF_FFFF
                colors.insert(p)
                if p != 0x00FF_FFFF { nonWhite += 1 }
                total += 1
            }
        }
        return (colors.count, Double(nonWhite) / Double(max(1, total)))
    }
}

extension DecodedPNG {
    /// Whether some pixel is exactly this opaque colour.
    func containsColor(red: UInt32, green: UInt32, blue: UInt32) -> Bool {
        let wanted = 0xFF00_0000 | red << 16 | green << 8 | blue
        return pixels.contains(wanted)
    }
}
