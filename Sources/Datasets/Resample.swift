import CNearDuplicate

/// Separable triangle-filter (bilinear) resampling that widens the filter when shrinking, the scheme of PIL's
/// `Image.resize(BILINEAR)` and torchvision's `Resize(antialias=True)`, computed in float without rounding between
/// the two passes.

/// A rectangle in input pixel coordinates (may be fractional).
public struct PixelRegion: Equatable, Sendable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
}

/// Filter taps for one axis: output pixel `o` reads inputs `first[o] ..< first[o] + taps` with
/// weights `weights[o * taps ..< (o + 1) * taps]` (zero-padded, summing to 1).
struct AxisWeights {
    let first: [Int]
    let taps: Int
    let weights: [Float]

    /// Maps `[start, start + span)` of an axis of `inputLength` pixels onto `outputLength` pixels; `mirrored`
    /// reverses the output order (a horizontal flip for free).
    init(inputLength: Int, outputLength: Int, start: Double, span: Double, mirrored: Bool = false) {
        let scale = span / Double(outputLength)
        let filterScale = max(scale, 1)            // widen the triangle when shrinking: antialiasing
        let support = filterScale                  // the bilinear triangle has radius 1
        var ranges: [(Int, [Double])] = []
        var taps = 1
        for o in 0..<outputLength {
            let center = start + (Double(o) + 0.5) * scale
            let low = max(0, Int(center - support + 0.5))
            let high = min(inputLength, Int(center + support + 0.5))
            var w: [Double] = []
            if high > low {
                w = (low..<high).map { max(0, 1 - abs((Double($0) - center + 0.5) / filterScale)) }
            }
            let total = w.reduce(0, +)
            if total > 0 {
                ranges.append((low, w.map { $0 / total }))
            } else {                               // degenerate: take the nearest pixel
                ranges.append((min(max(Int(center), 0), inputLength - 1), [1]))
            }
            taps = max(taps, ranges.last!.1.count)
        }
        taps = min(taps, inputLength)
        var first = [Int](repeating: 0, count: outputLength)
        var weights = [Float](repeating: 0, count: outputLength * taps)
        for o in 0..<outputLength {
            let (low, w) = ranges[mirrored ? outputLength - 1 - o : o]
            // Keep every tap inside the input so the inner loops need no bounds checks.
            let start = min(low, inputLength - taps)
            first[o] = start
            for (k, value) in w.enumerated() { weights[o * taps + (low - start) + k] = Float(value) }
        }
        self.first = first
        self.taps = taps
        self.weights = weights
    }
}

/// Resamples `region` of an RGB8 image (`width`×`height`, HWC) to `outWidth`×`outHeight` RGB floats in 0…255 (HWC).
func resampleRGB(_ source: UnsafePointer<UInt8>, width: Int, height: Int, region: PixelRegion,
                 outWidth: Int, outHeight: Int, mirrored: Bool = false, into output: UnsafeMutablePointer<Float>) {
    let horizontal = AxisWeights(inputLength: width, outputLength: outWidth, start: region.x, span: region.width,
                                 mirrored: mirrored)
    let vertical = AxisWeights(inputLength: height, outputLength: outHeight, start: region.y, span: region.height)
    let rowLow = vertical.first.min()!, rowHigh = vertical.first.max()! + vertical.taps
    let rows = rowHigh - rowLow
    let rowFloats = outWidth * 3
    let temporary = UnsafeMutablePointer<Float>.allocate(capacity: rows * rowFloats)
    defer { temporary.deallocate() }

    horizontal.weights.withUnsafeBufferPointer { weights in
        let taps = horizontal.taps
        for r in 0..<rows {
            let inRow = source + (rowLow + r) * width * 3
            let outRow = temporary + r * rowFloats
            for o in 0..<outWidth {
                var red: Float = 0, green: Float = 0, blue: Float = 0
                let pixel = inRow + horizontal.first[o] * 3
                for k in 0..<taps {
                    let w = weights[o * taps + k]
                    red += w * Float(pixel[3 * k]); green += w * Float(pixel[3 * k + 1]); blue += w * Float(pixel[3 * k + 2])
                }
                outRow[3 * o] = red; outRow[3 * o + 1] = green; outRow[3 * o + 2] = blue
            }
        }
    }
    vertical.weights.withUnsafeBufferPointer { weights in
        let taps = vertical.taps
        for o in 0..<outHeight {
            let outRow = output + o * rowFloats
            for i in 0..<rowFloats { outRow[i] = 0 }
            for k in 0..<taps {
                let w = weights[o * taps + k]
                if w == 0 { continue }
                let inRow = temporary + (vertical.first[o] - rowLow + k) * rowFloats
                for i in 0..<rowFloats { outRow[i] += w * inRow[i] }
            }
        }
    }
}

/// Rounds and clamps floats in 0…255 to bytes.
func storeBytes(_ values: UnsafePointer<Float>, count: Int, into bytes: UnsafeMutablePointer<UInt8>) {
    for i in 0..<count { bytes[i] = UInt8(min(max(values[i] + 0.5, 0), 255)) }
}

public enum Resize {
    /// Resizes a whole image to `width`×`height` (antialiased bilinear).
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resample(image, region: PixelRegion(x: 0, y: 0, width: Double(image.width), height: Double(image.height)),
                 width: width, height: height)
    }

    /// Resamples `region` of `image` to `width`×`height`.
    public static func resample(_ image: RGBImage, region: PixelRegion, width: Int, height: Int) -> RGBImage {
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: width * height * 3)
        defer { floats.deallocate() }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        image.pixels.withUnsafeBufferPointer { source in
            resampleRGB(source.baseAddress!, width: image.width, height: image.height, region: region,
                        outWidth: width, outHeight: height, into: floats)
        }
        pixels.withUnsafeMutableBufferPointer { storeBytes(floats, count: width * height * 3, into: $0.baseAddress!) }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// The luma (0.299 R + 0.587 G + 0.114 B) of a whole RGB8 image resampled to `outWidth`×`outHeight` floats in
/// 0…255: the same filter as `resampleRGB`, applied to one channel computed first (both are linear, so this is
/// `resampleRGB` followed by the luma, up to float rounding, at a third of the filter work). The loops are C's
/// (CNearDuplicate), as the near-duplicate audit runs them for every image.
func resampleLuma(_ source: UnsafePointer<UInt8>, width: Int, height: Int, outWidth: Int, outHeight: Int,
                  into output: UnsafeMutablePointer<Float>) {
    let horizontal = AxisWeights(inputLength: width, outputLength: outWidth, start: 0, span: Double(width))
    let vertical = AxisWeights(inputLength: height, outputLength: outHeight, start: 0, span: Double(height))
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: width + height * outWidth)
    defer { scratch.deallocate() }
    let hFirst = horizontal.first.map(Int32.init), vFirst = vertical.first.map(Int32.init)
    nd_resample_luma(source, Int32(width), Int32(height), Int32(outWidth), Int32(outHeight),
                     hFirst, horizontal.weights, Int32(horizontal.taps), vFirst, vertical.weights, Int32(vertical.taps),
                     scratch, output)
}
