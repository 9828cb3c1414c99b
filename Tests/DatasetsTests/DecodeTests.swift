import XCTest
@testable import Datasets

final class DecodeTests: XCTestCase {
    /// Expected pixels of monkeypox/Monkeypox/M01_01_00.jpg (224×224), obtained independently with
    /// `djpeg -ppm M01_01_00.jpg` (libjpeg-turbo-progs 2.1.5, Debian 12) and read from the PPM with Python; PIL 9.4
    /// `Image.open(...).getpixel` gives the same values. The byte sum of the whole PPM raster is 24,238,047.
    func testRealJPEGMatchesDjpeg() throws {
        let path = try Fixtures.monkeypox() + "/Monkeypox/M01_01_00.jpg"
        let image = try ImageDecoder.decodeFile(path)
        XCTAssertEqual(image.width, 224)
        XCTAssertEqual(image.height, 224)
        let expected: [((Int, Int), (UInt8, UInt8, UInt8))] = [
            ((0, 0), (236, 182, 170)), ((223, 0), (191, 149, 127)), ((0, 223), (202, 150, 128)),
            ((223, 223), (168, 106, 83)), ((112, 112), (222, 166, 151)), ((57, 150), (221, 155, 143)),
            ((200, 31), (189, 142, 124)),
        ]
        for ((x, y), rgb) in expected {
            let got = image.pixel(x: x, y: y)
            XCTAssertTrue(got == rgb, "pixel (\(x), \(y)) is \(got), djpeg says \(rgb)")
        }
        XCTAssertEqual(image.pixels.reduce(0) { $0 + Int($1) }, 24_238_047)
    }

    /// Resize of the same file against PIL 9.4 `Image.resize(size, Image.BILINEAR)` (antialiased when shrinking).
    /// PIL rounds to 8 bits between its two passes and we do not, so ±1 is allowed.
    func testResizeMatchesPIL() throws {
        let path = try Fixtures.monkeypox() + "/Monkeypox/M01_01_00.jpg"
        let image = try ImageDecoder.decodeFile(path)
        let cases: [((Int, Int), [((Int, Int), (UInt8, UInt8, UInt8))])] = [
            ((112, 112), [((0, 0), (236, 182, 170)), ((111, 0), (195, 153, 131)), ((0, 111), (204, 152, 130)),
                          ((111, 111), (171, 109, 86)), ((56, 56), (221, 165, 150)), ((28, 75), (222, 156, 144)),
                          ((100, 15), (196, 149, 131))]),
            ((100, 60), [((0, 0), (235, 179, 167)), ((99, 59), (171, 109, 86)), ((50, 30), (221, 165, 149)),
                         ((13, 47), (226, 161, 145))]),
            ((300, 260), [((0, 0), (236, 182, 170)), ((299, 259), (168, 106, 83)), ((150, 130), (223, 166, 151)),
                          ((13, 47), (227, 159, 150))]),
        ]
        for ((width, height), points) in cases {
            let resized = Resize.resize(image, width: width, height: height)
            for ((x, y), rgb) in points {
                let got = resized.pixel(x: x, y: y)
                let close = abs(Int(got.0) - Int(rgb.0)) <= 1 && abs(Int(got.1) - Int(rgb.1)) <= 1
                    && abs(Int(got.2) - Int(rgb.2)) <= 1
                XCTAssertTrue(close, "\(width)×\(height) pixel (\(x), \(y)) is \(got), PIL says \(rgb)")
            }
        }
    }

    /// Halving 4 pixels to 2 with the widened triangle: output 0 is centred at input 1.0 with weights
    /// 0.75, 0.75, 0.25 (normalised by 1.75) on inputs 0, 1, 2.
    func testAntialiasedHalvingByHand() {
        let row: [UInt8] = [0, 70, 140, 210]
        let image = RGBImage(width: 4, height: 1, pixels: row.flatMap { [$0, $0, $0] })
        let half = Resize.resize(image, width: 2, height: 1)
        let first = (0.75 * 0 + 0.75 * 70 + 0.25 * 140) / 1.75    // 50
        let second = (0.25 * 70 + 0.75 * 140 + 0.75 * 210) / 1.75 // 160
        XCTAssertEqual(half.pixels[0], UInt8(first.rounded()))
        XCTAssertEqual(half.pixels[3], UInt8(second.rounded()))
    }

    func testConstantImageStaysConstantAtAnySize() {
        let image = Fixtures.solid(width: 37, height: 23, (10, 200, 30))
        for (w, h) in [(5, 5), (37, 23), (80, 61)] {
            let resized = Resize.resize(image, width: w, height: h)
            XCTAssertTrue(stride(from: 0, to: resized.pixels.count, by: 3).allSatisfy {
                resized.pixels[$0] == 10 && resized.pixels[$0 + 1] == 200 && resized.pixels[$0 + 2] == 30
            }, "\(w)×\(h)")
        }
    }

    func testCenterCropTakesTheMiddle() throws {
        // 40×20, red = 6·x: resizing the shorter side to 20 keeps the scale, the crop keeps columns 10..<30.
        var pixels = [UInt8](repeating: 0, count: 40 * 20 * 3)
        for y in 0..<20 { for x in 0..<40 { pixels[(y * 40 + x) * 3] = UInt8(6 * x) } }
        let folder = try TemporaryFolder()
        let path = try folder.write(try ImageEncoder.png(RGBImage(width: 40, height: 20, pixels: pixels)), to: "wide.png")
        let options = ImageLoadOptions(size: 20, centerCrop: true)
        var output = [UInt8](repeating: 0, count: 20 * 20 * 3)
        try output.withUnsafeMutableBufferPointer { try options.load(path, into: $0.baseAddress!) }
        for x in 0..<20 { XCTAssertEqual(output[(5 * 20 + x) * 3], UInt8(6 * (x + 10)), "column \(x)") }
        // torchvision's offset round((41 - 20) / 2) = round(10.5) is 10 (Python rounds halves to even).
        XCTAssertEqual(options.sourceRegion(width: 41, height: 20), PixelRegion(x: 10, y: 0, width: 20, height: 20))
        // Shorter side 256 then crop 224 of a 512×384 image: resized 341×256, offsets 58 and 16, scale 1.5.
        let imagenet = ImageLoadOptions(size: 224, centerCrop: true, resizeShorterSide: 256)
        let region = imagenet.sourceRegion(width: 512, height: 384)
        XCTAssertEqual(region.x, 58 * 512.0 / 341, accuracy: 1e-9)
        XCTAssertEqual(region.y, 24, accuracy: 1e-9)
        XCTAssertEqual(region.height, 336, accuracy: 1e-9)
    }

    func testGreyCMYKPaletteAlphaAnd16BitBecomeRGB() throws {
        let folder = try TemporaryFolder()
        // Greyscale JPEG: R = G = B.
        let grey = [UInt8](repeating: 90, count: 16 * 16)
        let greyJPEG = try ImageDecoder.decodeFile(try folder.write(try ImageEncoder.jpeg(gray: grey, width: 16, height: 16),
                                                                    to: "grey.jpg"))
        XCTAssertEqual(greyJPEG.pixels.count, 16 * 16 * 3)
        XCTAssertTrue(greyJPEG.pixels.allSatisfy { abs(Int($0) - 90) <= 1 })
        // CMYK JPEG with Adobe-inverted ink (C, M, Y, K) = (255, 128, 0, 200) → RGB ≈ (200, 100, 0).
        let cmyk = [UInt8]((0..<(16 * 16)).flatMap { _ in [255, 128, 0, 200] as [UInt8] })
        let cmykImage = try ImageDecoder.decodeFile(try folder.write(try ImageEncoder.jpeg(cmyk: cmyk, width: 16, height: 16),
                                                                     to: "cmyk.jpg"))
        let (r, g, b) = cmykImage.pixel(x: 8, y: 8)
        XCTAssertEqual(Int(r), 200, accuracy: 3); XCTAssertEqual(Int(g), 100, accuracy: 3); XCTAssertEqual(Int(b), 0, accuracy: 3)
        // Palette PNG.
        let palette: [UInt8] = [255, 0, 0, 0, 0, 255]
        let indices: [UInt8] = [0, 1, 1, 0]
        let paletted = try ImageDecoder.decodeFile(try folder.write(
            try ImageEncoder.png(indices, width: 2, height: 2, layout: .palette(palette)), to: "palette.png"))
        XCTAssertEqual(paletted.pixels, [255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0])
        // Grey + alpha and RGBA PNGs: alpha is dropped, colour kept (like PIL's convert("RGB")).
        let greyAlpha = try ImageDecoder.decodeFile(try folder.write(
            try ImageEncoder.png([77, 128, 77, 255], width: 2, height: 1, layout: .grayAlpha), to: "ga.png"))
        XCTAssertEqual(greyAlpha.pixels, [77, 77, 77, 77, 77, 77])
        let rgba = try ImageDecoder.decodeFile(try folder.write(
            try ImageEncoder.png([10, 20, 30, 0, 40, 50, 60, 255], width: 2, height: 1, layout: .rgba), to: "rgba.png"))
        XCTAssertEqual(rgba.pixels, [10, 20, 30, 40, 50, 60])
        // 16-bit linear PNG (libpng writes gAMA 1.0): 0 → 0, 65535 → 255, and linear 0.5 is gamma-encoded the way
        // libpng's simplified API does it (gamma 1/2.2, not the exact sRGB curve): 255 · 0.5^(1/2.2) = 186.1.
        let samples: [UInt16] = [0, 65535, 32768]
        let bytes = samples.withUnsafeBytes { Array($0) }
        let deep = try ImageDecoder.decodeFile(try folder.write(
            try ImageEncoder.png(bytes, width: 1, height: 1, layout: .rgb16Linear), to: "deep.png"))
        XCTAssertEqual(deep.pixels[0], 0)
        XCTAssertEqual(deep.pixels[1], 255)
        XCTAssertEqual(Int(deep.pixels[2]), 186, accuracy: 1)
        // Greyscale PNG.
        let greyPNG = try ImageDecoder.decodeFile(try folder.write(
            try ImageEncoder.png([0, 128, 255], width: 3, height: 1, layout: .gray), to: "grey.png"))
        XCTAssertEqual(greyPNG.pixels, [0, 0, 0, 128, 128, 128, 255, 255, 255])
    }

    func testRGBPNGRoundTripsExactly() throws {
        let folder = try TemporaryFolder()
        let image = Fixtures.gradient(width: 33, height: 17)
        let decoded = try ImageDecoder.decodeFile(try folder.write(try ImageEncoder.png(image), to: "x.png"))
        XCTAssertEqual(decoded, image)
    }

    func testJPEGDCTScalingKeepsAtLeastTheTarget() {
        XCTAssertTrue(ImageDecoder.dctScaledSize(width: 12000, height: 9000, minimumShorterSide: 224) == (1500, 1125))
        XCTAssertTrue(ImageDecoder.dctScaledSize(width: 224, height: 224, minimumShorterSide: 112) == (112, 112))
        XCTAssertTrue(ImageDecoder.dctScaledSize(width: 224, height: 224, minimumShorterSide: 224) == (224, 224))
        XCTAssertTrue(ImageDecoder.dctScaledSize(width: 300, height: 200, minimumShorterSide: 0) == (300, 200))
    }
}
