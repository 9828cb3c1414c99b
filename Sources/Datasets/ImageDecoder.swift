import CPNG
import CTurboJPEG

/// A decode failure without a path; `decodeFile` adds the path.
struct DecodeProblem: Error { let reason: String }

/// JPEG (TurboJPEG) and PNG (libpng simplified API) to 8-bit RGB. Neither library may longjmp through Swift:
/// both APIs used here return error codes instead.
public enum ImageDecoder {
    /// Largest image decoded at full size (PNG, or a JPEG that DCT scaling cannot shrink enough): 50 MP,
    /// 200 MB of RGBA while decoding.
    public static let defaultMaxPixels = 50_000_000

    /// Reads and decodes one file. `minimumShorterSide`: a JPEG may be decoded at a reduced DCT scale
    /// (1/2, 1/4, 1/8, …) as long as its shorter side stays at least this long (0 = full size).
    public static func decodeFile(_ path: String, minimumShorterSide: Int = 0,
                                  maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let bytes = try readFileBytes(path)
        do {
            return try bytes.withUnsafeBytes {
                try decode($0, minimumShorterSide: minimumShorterSide, maxPixels: maxPixels)
            }
        } catch let problem as DecodeProblem {
            throw DatasetError.unreadableImage(path: path, reason: problem.reason)
        }
    }

    /// Decodes JPEG or PNG bytes (any colour type) to RGB; throws `DecodeProblem` for anything else.
    static func decode(_ bytes: UnsafeRawBufferPointer, minimumShorterSide: Int, maxPixels: Int) throws -> RGBImage {
        switch sniffFormat(bytes) {
        case .jpeg: return try decodeJPEG(bytes, minimumShorterSide: minimumShorterSide, maxPixels: maxPixels)
        case .png: return try decodePNG(bytes, maxPixels: maxPixels)
        case .other(let what):
            throw DecodeProblem(reason: "\(what), not a JPEG or PNG image; convert it to JPEG/PNG or remove it")
        }
    }

    enum SniffedFormat: Equatable { case jpeg, png, other(String) }

    /// Identifies the container from its first bytes (the file extension is not trusted).
    static func sniffFormat(_ bytes: UnsafeRawBufferPointer) -> SniffedFormat {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + prefix.count && zip(prefix, bytes[offset...]).allSatisfy { $0 == $1 }
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF8".utf8)) { return .other("is a GIF file") }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .other("is a WebP file") }
        if starts([0x42, 0x4D]) { return .other("is a BMP file") }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .other("is a TIFF file") }
        if starts(Array("ftyp".utf8), at: 4) { return .other("is a HEIF/AVIF/MP4 file") }
        let head = bytes.prefix(512)
        let printable = head.filter { $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }.count
        if head.count > 0 && printable == head.count { return .other("is a text file") }
        return .other("has an unknown format")
    }

    // MARK: JPEG

    static func decodeJPEG(_ bytes: UnsafeRawBufferPointer, minimumShorterSide: Int, maxPixels: Int) throws -> RGBImage {
        guard let handle = tjInitDecompress() else { throw DecodeProblem(reason: "TurboJPEG could not start") }
        defer { tjDestroy(handle) }
        let source = bytes.bindMemory(to: UInt8.self).baseAddress!
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let headerStatus = tjDecompressHeader3(handle, source, UInt(bytes.count), &width, &height, &subsampling,
                                               &colorspace)
        guard headerStatus == 0 || isHarmlessWarning(handle), width > 0, height > 0 else {
            throw DecodeProblem(reason: "corrupt JPEG header (\(turboError(handle))); re-export or remove the file")
        }
        let (scaledWidth, scaledHeight) = dctScaledSize(width: Int(width), height: Int(height),
                                                        minimumShorterSide: minimumShorterSide)
        try checkPixelLimit(width: scaledWidth, height: scaledHeight, maxPixels: maxPixels, original: (Int(width), Int(height)))
        // TurboJPEG cannot convert CMYK/YCCK to RGB itself: decode the four channels and convert below.
        let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = isCMYK ? 4 : 3
        let format = isCMYK ? TJPF_CMYK : TJPF_RGB
        var decoded = [UInt8](repeating: 0, count: scaledWidth * scaledHeight * channels)
        let status = decoded.withUnsafeMutableBufferPointer {
            tjDecompress2(handle, source, UInt(bytes.count), $0.baseAddress, Int32(scaledWidth), 0,
                          Int32(scaledHeight), Int32(format.rawValue), 0)
        }
        guard status == 0 || isHarmlessWarning(handle) else {
            throw DecodeProblem(reason: "corrupt or truncated JPEG (\(turboError(handle))); re-export or remove the file")
        }
        if isCMYK { decoded = adobeCMYKToRGB(decoded) }
        return RGBImage(width: scaledWidth, height: scaledHeight, pixels: decoded)
    }

    /// The smallest TurboJPEG DCT scale whose shorter side is still ≥ `minimumShorterSide` (full size if none).
    static func dctScaledSize(width: Int, height: Int, minimumShorterSide: Int) -> (Int, Int) {
        var best = (width, height)
        guard minimumShorterSide > 0 else { return best }
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return best }
        for factor in UnsafeBufferPointer(start: factors, count: Int(count)) where factor.num < factor.denom {
            let num = Int(factor.num), denom = Int(factor.denom)
            let w = (width * num + denom - 1) / denom, h = (height * num + denom - 1) / denom  // TJSCALED
            if min(w, h) >= minimumShorterSide && w * h < best.0 * best.1 { best = (w, h) }
        }
        return best
    }

    /// Adobe (Photoshop) CMYK JPEGs store inverted ink values, so RGB = stored C·K/255 (as PIL does).
    static func adobeCMYKToRGB(_ cmyk: [UInt8]) -> [UInt8] {
        let count = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: count * 3)
        for i in 0..<count {
            let k = UInt32(cmyk[4 * i + 3])
            for c in 0..<3 { rgb[3 * i + c] = UInt8((UInt32(cmyk[4 * i + c]) * k + 127) / 255) }
        }
        return rgb
    }

    /// Harmless warnings (e.g. extraneous bytes before a marker) keep the image, as PIL does. A premature end of
    /// data means a truncated or damaged file whose missing part libjpeg filled with grey: not data.
    static func isHarmlessWarning(_ handle: tjhandle) -> Bool {
        tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            && !turboError(handle).lowercased().contains("premature end")
    }

    static func turboError(_ handle: tjhandle) -> String {
        guard let message = tjGetErrorStr2(handle) else { return "unknown error" }
        return String(cString: message)
    }

    static func checkPixelLimit(width: Int, height: Int, maxPixels: Int, original: (Int, Int)) throws {
        guard width * height > maxPixels else { return }
        // Pixels as people say them: "52.4 MP", or the count itself below a tenth of a megapixel.
        func megapixels(_ n: Int) -> String { n < 100_000 ? "\(n) pixels" : String(format: "%.1f MP", Double(n) / 1e6) }
        throw DecodeProblem(reason: "is \(original.0)×\(original.1) pixels (\(megapixels(width * height)) to decode), "
            + "over the \(megapixels(maxPixels)) limit; shrink the image or raise the limit: `data: {max_pixels: N}` "
            + "in an experiment file, --max-pixels N for `ablate predict` and `ablate data`")
    }

    // MARK: PNG

    static func decodePNG(_ bytes: UnsafeRawBufferPointer, maxPixels: Int) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw DecodeProblem(reason: "corrupt PNG (\(pngMessage(&image))); re-export or remove the file")
        }
        defer { png_image_free(&image) }
        let width = Int(image.width), height = Int(image.height)
        try checkPixelLimit(width: width, height: height, maxPixels: maxPixels, original: (width, height))
        // Always ask for 8-bit RGBA and drop alpha (like PIL's convert("RGB")): grey, palette, tRNS and 16-bit
        // files all expand to it. 16-bit files without gAMA are sRGB-coded, not linear (libpng's default guess).
        image.format = PNGFormat.rgba
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else {
            throw DecodeProblem(reason: "corrupt or truncated PNG (\(pngMessage(&image))); re-export or remove the file")
        }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            rgb[3 * i] = rgba[4 * i]; rgb[3 * i + 1] = rgba[4 * i + 1]; rgb[3 * i + 2] = rgba[4 * i + 2]
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }

    static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "unknown error" : text
        }
    }
}

/// libpng's composite `PNG_FORMAT_*` macros are not imported into Swift; these are their values.
enum PNGFormat {
    static let gray = UInt32(0)
    static let grayAlpha = UInt32(PNG_FORMAT_FLAG_ALPHA)
    static let rgb = UInt32(PNG_FORMAT_FLAG_COLOR)
    static let rgba = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
    static let linearRGB = UInt32(PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLOR)
    static let rgbColormap = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_COLORMAP)
}
