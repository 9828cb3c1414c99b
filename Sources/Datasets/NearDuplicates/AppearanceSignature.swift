import CNearDuplicate
import Foundation

/// What the near-duplicate audit keeps of one image, computed from its decoded pixels at 64×64 grey (about 20 KB):
/// - `hashes`: pHash of the 8 orientations (the fast, scalable signal);
/// - `thumbnails`: the 16×16 grey image of the 8 orientations, minus its mean and scaled to unit length, so a dot
///   product is a correlation that ignores brightness and contrast (colour changes, jitter, noise, blur);
/// - `polar`: per ring around the centre, the magnitudes of the first Fourier harmonics along the ring: the same for
///   any rotation about the centre and any mirror, which the 8 orientations alone do not cover;
/// - `ringDetail`: the rings themselves without their slow variation along the angle (harmonics 0–2), to confirm a
///   ring-spectrum match at the rotation where the detail lines up (magnitudes alone match any two images with a
///   blob at the same distance from the centre);
/// - `content`: for an image with black borders (a copy shifted with black fill), the thumbnail of what is left
///   and where that part lies in the source, per orientation; compared against the other image's same part.
public struct AppearanceSignature: Sendable {
    public static let greySide = 64, thumbnailSide = 16
    static let rings = 16, ringSamples = 64, harmonics = 9

    public let hashes: [UInt64]
    /// The 8 orientations' thumbnails back to back (8 × 256).
    let thumbnails: [Float]
    let polar: [Float]
    /// `rings` × `ringSamples`, unit length.
    let ringDetail: [Float]
    /// Per scale in `centreScales`, the unit-length thumbnail of the image's centre (that fraction of each side),
    /// back to back: compared with other images' whole thumbnails, they find zoomed copies.
    let centres: [Float]
    static let centreScales: [Double] = [0.9, 0.8, 0.7, 0.6]
    /// Summed-area table of the 64×64 grey image, (65×65), for thumbnails of any part of it.
    let integral: [Double]
    let content: [ContentCrop]

    struct ContentCrop: Sendable {
        /// Unit-length 16×16 thumbnail of the non-black part, in one orientation.
        let thumbnail: [Float]
        /// The part of an unshifted source (same orientation as `thumbnail`) that the content came from, in 64ths.
        let sourceRows: Range<Int>, sourceColumns: Range<Int>
        let orientation: Int
    }

    /// From interleaved RGB bytes (`width`×`height`×3), e.g. a slot of `ImageCache`.
    public init(rgb: UnsafePointer<UInt8>, width: Int, height: Int) {
        let n = Self.greySide
        let grey = [Float](unsafeUninitializedCapacity: n * n) { buffer, count in
            resampleLuma(rgb, width: width, height: height, outWidth: n, outHeight: n, into: buffer.baseAddress!)
            count = n * n
        }
        self.init(grey64: grey, borders: Self.blackBorders(rgb: rgb, width: width, height: height))
    }

    public init(image: RGBImage) {
        self = image.pixels.withUnsafeBufferPointer { AppearanceSignature(rgb: $0.baseAddress!, width: image.width, height: image.height) }
    }

    /// `borders`: black rows and columns at the top, bottom, left and right, in 64ths of the side.
    init(grey64 grey: [Float], borders: Borders) {
        let n = Self.greySide
        hashes = PerceptualHash.orientations(grey32: Self.boxDownsample(grey, side: n, factor: 2))
        let thumbnail = Self.boxDownsample(grey, side: n, factor: n / Self.thumbnailSide)
        thumbnails = Orientation.all.flatMap { Self.unitLength($0.apply(thumbnail, side: Self.thumbnailSide)) }
        (polar, ringDetail) = Self.polarSignals(grey)
        integral = Self.summedArea(grey, side: n)
        centres = Self.centreScales.flatMap { [integral] scale in
            let margin = Int((Double(n) * (1 - scale) / 2).rounded())
            let centre = Self.thumbnail(of: integral, side: n, rows: margin..<(n - margin), columns: margin..<(n - margin))
            return Self.unitLength(centre)
        }
        content = borders == Borders() ? [] : Orientation.all.enumerated().compactMap { index, o in
            Self.contentCrop(o.apply(grey, side: n), borders: o.apply(borders), orientation: index)
        }
    }

    /// The centre thumbnails in the 8 orientations, per scale (scales × 8 × 256): a query's side of the zoom
    /// comparison (a permutation keeps them unit length).
    var orientedCentres: [Float] {
        let t = Self.thumbnailSide * Self.thumbnailSide
        return (0..<Self.centreScales.count).flatMap { k in
            let centre = Array(centres[(k * t)..<((k + 1) * t)])
            return Orientation.all.flatMap { $0.apply(centre, side: Self.thumbnailSide) }
        }
    }

    // MARK: comparisons (all symmetric in what they measure; `query` is the side whose orientations vary)

    /// Correlation of the non-black part of either image with the same part of the other, or -1 when neither has
    /// black borders (or both have: then neither is the unshifted source).
    func contentCorrelation(_ other: AppearanceSignature) -> Float {
        if !content.isEmpty && other.content.isEmpty { return Self.bestContent(content, in: other) }
        if content.isEmpty && !other.content.isEmpty { return Self.bestContent(other.content, in: self) }
        return -1
    }

    private static func bestContent(_ crops: [ContentCrop], in source: AppearanceSignature) -> Float {
        var best: Float = -1
        for crop in crops {
            // The source stays as it is and the shifted copy turns: the same as turning both the other way.
            let c = source.integral.withUnsafeBufferPointer { table in
                nd_part_correlation(crop.thumbnail, Int32(thumbnailSide), table.baseAddress!, Int32(greySide),
                                    Int32(crop.sourceRows.lowerBound), Int32(crop.sourceRows.upperBound),
                                    Int32(crop.sourceColumns.lowerBound), Int32(crop.sourceColumns.upperBound))
            }
            best = max(best, c)
        }
        return best
    }

    // MARK: features

    struct Borders: Equatable, Sendable { var top = 0, bottom = 0, left = 0, right = 0 }

    /// Rows and columns from each edge that are black, as fill from a shift leaves them, found at full resolution
    /// (a 64×64 version blurs the edge of a narrow border) and given in 64ths of the side, rounded up so the
    /// content never includes black. Borders narrower than 3.5% of the side count as none.
    static func blackBorders(rgb: UnsafePointer<UInt8>, width: Int, height: Int) -> Borders {
        // A line counts as black when nearly all of its pixels are (JPEG ringing leaves a few brighter ones).
        func dark(_ count: Int, _ pixel: (Int) -> Int) -> Bool {
            var black = 0
            for i in 0..<count {
                let p = rgb + 3 * pixel(i)
                if 299 * Int(p[0]) + 587 * Int(p[1]) + 114 * Int(p[2]) < 24_000 { black += 1 }
            }
            return Double(black) >= 0.97 * Double(count)
        }
        func run(_ length: Int, _ isDark: (Int) -> Bool) -> Int {
            var k = 0
            while k < length && isDark(k) { k += 1 }
            return Double(k) >= 0.035 * Double(length) ? Int((Double(k * greySide) / Double(length)).rounded(.up)) : 0
        }
        return Borders(top: run(height) { y in dark(width) { y * width + $0 } },
                       bottom: run(height) { y in dark(width) { (height - 1 - y) * width + $0 } },
                       left: run(width) { x in dark(height) { $0 * width + x } },
                       right: run(width) { x in dark(height) { $0 * width + width - 1 - x } })
    }

    /// A black border that leaves at least 40% of each side (less is too little to compare).
    static func contentCrop(_ grey: [Float], borders: Borders, orientation: Int) -> ContentCrop? {
        let n = greySide
        let (top, bottom, left, right) = (borders.top, borders.bottom, borders.left, borders.right)
        guard max(top, bottom, left, right) > 0, n - top - bottom >= n * 2 / 5, n - left - right >= n * 2 / 5 else { return nil }
        let table = summedArea(grey, side: n)
        let thumbnail = unitLength(thumbnail(of: table, side: n, rows: top..<(n - bottom), columns: left..<(n - right)))
        // Shifted down by `top` (black above): the content is the source's rows 0..<n-top; shifted up by `bottom`:
        // rows bottom..<n. Only one of the two is non-zero for a shift; the formula covers both.
        return ContentCrop(thumbnail: thumbnail, sourceRows: bottom..<(n - top), sourceColumns: right..<(n - left),
                           orientation: orientation)
    }

    /// Box means of `rows`×`columns` of an image (given by its summed-area table) on a 16×16 grid.
    static func thumbnail(of table: [Double], side n: Int, rows: Range<Int>, columns: Range<Int>) -> [Float] {
        let m = thumbnailSide
        func edges(_ range: Range<Int>) -> [Int] {
            var e = (0...m).map { range.lowerBound + Int((Double(range.count) * Double($0) / Double(m)).rounded()) }
            for k in 1...m { e[k] = min(n, max(e[k], e[k - 1] + 1)) }
            return e
        }
        let ys = edges(rows), xs = edges(columns)
        var out = [Float](repeating: 0, count: m * m)
        let w = n + 1
        for i in 0..<m {
            for j in 0..<m {
                let (y0, y1, x0, x1) = (ys[i], max(ys[i + 1], ys[i] + 1), xs[j], max(xs[j + 1], xs[j] + 1))
                let sum = table[y1 * w + x1] - table[y0 * w + x1] - table[y1 * w + x0] + table[y0 * w + x0]
                out[i * m + j] = Float(sum / Double((y1 - y0) * (x1 - x0)))
            }
        }
        return out
    }

    static func summedArea(_ grey: [Float], side n: Int) -> [Double] {
        let w = n + 1
        var table = [Double](repeating: 0, count: w * w)
        for y in 0..<n {
            var row = 0.0
            for x in 0..<n {
                row += Double(grey[y * n + x])
                table[(y + 1) * w + x + 1] = table[y * w + x + 1] + row
            }
        }
        return table
    }

    /// Rings from 4% to 47% of the side around the centre (inside the inscribed circle, so the black corners a
    /// rotation adds stay out), sampled bilinearly, normalised for brightness and contrast, then per ring the
    /// magnitudes of harmonics 0–8 along the ring: rotating the image shifts each ring, mirroring reverses it,
    /// and neither changes the magnitudes.
    /// The detail keeps harmonics from this one up (below it: the ring's mean and the slow swell a blob off the
    /// centre gives every ring). From 3 the detail, at 0.7, still confirmed 7% of distinct generated images (1.3%
    /// from 6); from 10 it found 2–6 fewer monkeypox copies per split.
    static let firstDetailHarmonic = 6

    static func polarSignals(_ grey: [Float]) -> (spectrum: [Float], detail: [Float]) {
        let n = greySide, centre = Double(n - 1) / 2
        var samples = [Float](repeating: 0, count: rings * ringSamples)
        for r in 0..<rings {
            let radius = (0.04 + (0.47 - 0.04) * Double(r) / Double(rings - 1)) * Double(n)
            for a in 0..<ringSamples {
                samples[r * ringSamples + a] = bilinear(grey, side: n, y: centre + radius * ringSines[a], x: centre + radius * ringCosines[a])
            }
        }
        let centred = unitLength(samples)
        // Per ring, X_h = Σ_a x[a]·e^{−2πiha/64} for h < `harmonics` (≥ `firstDetailHarmonic`): the spectrum keeps
        // |X_h|; the detail subtracts the harmonics below `firstDetailHarmonic`, x[a] = Σ_h c_h·Re(X_h·e^{2πiha/64})
        // with c_0 = 1/64 and 2/64 above.
        var spectrum = [Float](repeating: 0, count: rings * harmonics)
        var detail = centred
        for r in 0..<rings {
            for h in 0..<harmonics {
                var re = 0.0, im = 0.0
                for a in 0..<ringSamples {
                    // The phase 2π·h·a/64 is one of the 64 sample angles.
                    let k = (h * a) % ringSamples
                    re += Double(centred[r * ringSamples + a]) * ringCosines[k]
                    im -= Double(centred[r * ringSamples + a]) * ringSines[k]
                }
                spectrum[r * harmonics + h] = Float((re * re + im * im).squareRoot())
                guard h < firstDetailHarmonic else { continue }
                let scale = (h == 0 ? 1.0 : 2.0) / Double(ringSamples)
                for a in 0..<ringSamples {
                    let k = (h * a) % ringSamples
                    detail[r * ringSamples + a] -= Float(scale * (re * ringCosines[k] - im * ringSines[k]))
                }
            }
        }
        return (unitLength(spectrum), unitLength(detail))
    }

    static let ringCosines = (0..<ringSamples).map { cos(2 * Double.pi * Double($0) / Double(ringSamples)) }
    static let ringSines = (0..<ringSamples).map { sin(2 * Double.pi * Double($0) / Double(ringSamples)) }

    static func bilinear(_ grey: [Float], side n: Int, y: Double, x: Double) -> Float {
        let y0 = min(max(Int(y.rounded(.down)), 0), n - 2), x0 = min(max(Int(x.rounded(.down)), 0), n - 2)
        let fy = Float(min(max(y - Double(y0), 0), 1)), fx = Float(min(max(x - Double(x0), 0), 1))
        let top = grey[y0 * n + x0] * (1 - fx) + grey[y0 * n + x0 + 1] * fx
        let bottom = grey[(y0 + 1) * n + x0] * (1 - fx) + grey[(y0 + 1) * n + x0 + 1] * fx
        return top * (1 - fy) + bottom * fy
    }

    /// Means of `factor`×`factor` blocks.
    static func boxDownsample(_ grey: [Float], side n: Int, factor f: Int) -> [Float] {
        let m = n / f
        var out = [Float](repeating: 0, count: m * m)
        for y in 0..<n { for x in 0..<n { out[(y / f) * m + x / f] += grey[y * n + x] } }
        let scale = 1 / Float(f * f)
        return out.map { $0 * scale }
    }

    /// Minus the mean, divided by the length (a flat input stays all zeros: it correlates with nothing).
    static func unitLength(_ values: [Float]) -> [Float] {
        let mean = values.reduce(0, +) / Float(values.count)
        let centred = values.map { $0 - mean }
        let length = centred.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return length > 1e-3 ? centred.map { $0 / length } : [Float](repeating: 0, count: values.count)
    }
}
