import CPNG
import CTurboJPEG

/// Writes JPEG (TurboJPEG) and PNG (libpng simplified API) files: synthetic data, and test fixtures in every
/// colour layout the decoder must handle.
public enum ImageEncoder {
    /// A JPEG of an RGB image (4:2:0 chroma subsampling).
    public static func jpeg(_ image: RGBImage, quality: Int = 90) throws -> [UInt8] {
        try compress(image.pixels, width: image.width, height: image.height, format: TJPF_RGB, subsampling: TJSAMP_420,
                     quality: quality)
    }

    /// A greyscale JPEG; `gray.count == width * height`.
    public static func jpeg(gray: [UInt8], width: Int, height: Int, quality: Int = 90) throws -> [UInt8] {
        try compress(gray, width: width, height: height, format: TJPF_GRAY, subsampling: TJSAMP_GRAY, quality: quality)
    }

    /// A CMYK (YCCK) JPEG as Photoshop writes them (inverted ink values); `cmyk.count == width * height * 4`.
    public static func jpeg(cmyk: [UInt8], width: Int, height: Int, quality: Int = 90) throws -> [UInt8] {
        try compress(cmyk, width: width, height: height, format: TJPF_CMYK, subsampling: TJSAMP_444, quality: quality)
    }

    private static func compress(_ pixels: [UInt8], width: Int, height: Int, format: TJPF, subsampling: TJSAMP,
                                 quality: Int) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw DatasetError.invalidConfiguration("TurboJPEG could not start") }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var outputSize: UInt = 0
        let status = pixels.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress, Int32(width), 0, Int32(height), Int32(format.rawValue), &output,
                        &outputSize, Int32(subsampling.rawValue), Int32(quality), 0)
        }
        defer { tjFree(output) }
        guard status == 0, let output else {
            throw DatasetError.invalidConfiguration("JPEG encoding failed: \(ImageDecoder.turboError(handle))")
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(outputSize)))
    }

    /// Pixel layouts for `png(_:width:height:layout:)`.
    public enum PNGLayout: Sendable {
        case gray, grayAlpha, rgb, rgba
        /// 16-bit linear RGB (libpng writes gAMA 1.0); samples are native-endian UInt16 byte pairs.
        case rgb16Linear
        /// One byte per pixel indexing `palette` (RGB triples).
        case palette([UInt8])
    }

    /// An 8-bit RGB PNG.
    public static func png(_ image: RGBImage) throws -> [UInt8] {
        try png(image.pixels, width: image.width, height: image.height, layout: .rgb)
    }

    /// A PNG of raw samples in `layout`.
    public static func png(_ samples: [UInt8], width: Int, height: Int, layout: PNGLayout) throws -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        var colormap: [UInt8]? = nil
        switch layout {
        case .gray: image.format = PNGFormat.gray
        case .grayAlpha: image.format = PNGFormat.grayAlpha
        case .rgb: image.format = PNGFormat.rgb
        case .rgba: image.format = PNGFormat.rgba
        case .rgb16Linear: image.format = PNGFormat.linearRGB
        case .palette(let colors):
            image.format = PNGFormat.rgbColormap
            image.colormap_entries = UInt32(colors.count / 3)
            colormap = colors
        }
        var size = 0
        let encoded = samples.withUnsafeBytes { buffer -> [UInt8]? in
            (colormap ?? []).withUnsafeBytes { map -> [UInt8]? in
                let mapPointer = colormap == nil ? nil : map.baseAddress
                // First call measures, second call writes.
                guard png_image_write_to_memory(&image, nil, &size, 0, buffer.baseAddress, 0, mapPointer) != 0 else {
                    return nil
                }
                var output = [UInt8](repeating: 0, count: size)
                let written = output.withUnsafeMutableBytes {
                    png_image_write_to_memory(&image, $0.baseAddress, &size, 0, buffer.baseAddress, 0, mapPointer)
                }
                return written != 0 ? Array(output.prefix(size)) : nil
            }
        }
        guard let encoded else {
            throw DatasetError.invalidConfiguration("PNG encoding failed: \(ImageDecoder.pngMessage(&image))")
        }
        return encoded
    }
}
