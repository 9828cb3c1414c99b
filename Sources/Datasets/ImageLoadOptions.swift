/// How files become the cached square images. Codable for the run record.
public struct ImageLoadOptions: Codable, Equatable, Hashable, Sendable {
    /// Side of the square model input, e.g. 224.
    public var size: Int
    /// false: stretch the whole image to size×size (torchvision `Resize((s, s))`).
    /// true: resize the shorter side to `resizeShorterSide` (default `size`), then take the centre size×size
    /// (torchvision `Resize(r)` + `CenterCrop(s)`).
    public var centerCrop: Bool
    public var resizeShorterSide: Int?
    /// Larger images are refused with a clear message (JPEGs are first shrunk by DCT scaling, so only PNGs and
    /// extreme JPEGs reach this).
    public var maxPixels: Int
    /// Decode JPEGs at a reduced DCT scale (1/2, 1/4, 1/8) when the result is still at least the resize size:
    /// much faster and less memory for big photos.
    public var jpegDCTScaling: Bool
    /// Throw on the first broken image instead of skipping it.
    public var strict: Bool

    public init(size: Int, centerCrop: Bool = false, resizeShorterSide: Int? = nil,
                maxPixels: Int = ImageDecoder.defaultMaxPixels, jpegDCTScaling: Bool = true, strict: Bool = false) {
        self.size = size
        self.centerCrop = centerCrop
        self.resizeShorterSide = resizeShorterSide
        self.maxPixels = maxPixels
        self.jpegDCTScaling = jpegDCTScaling
        self.strict = strict
    }

    enum CodingKeys: String, CodingKey {
        case size, strict
        case centerCrop = "center_crop"
        case resizeShorterSide = "resize_shorter_side"
        case maxPixels = "max_pixels"
        case jpegDCTScaling = "jpeg_dct_scaling"
    }

    func validate() throws {
        guard size >= 1 && size <= 4096 else {
            throw DatasetError.invalidConfiguration("image size \(size) must be between 1 and 4096 pixels")
        }
        if let shorter = resizeShorterSide, centerCrop && shorter < size {
            throw DatasetError.invalidConfiguration(
                "resize size \(shorter) is smaller than the crop size \(size); use a resize size of at least \(size)")
        }
        guard maxPixels > 0 else { throw DatasetError.invalidConfiguration("the pixel limit must be positive") }
    }

    /// The region of a `width`×`height` image that maps onto the output square.
    func sourceRegion(width: Int, height: Int) -> PixelRegion {
        guard centerCrop else { return PixelRegion(x: 0, y: 0, width: Double(width), height: Double(height)) }
        // As torchvision: the shorter side becomes `shorter`, the longer one int(shorter * long / short); the crop
        // offset is round((resized - size) / 2) with Python's round-half-to-even. Mapped back to source pixels, one
        // resample does both steps.
        let shorter = resizeShorterSide ?? size
        let (resizedWidth, resizedHeight) = width <= height
            ? (shorter, Int(Double(shorter) * Double(height) / Double(width)))
            : (Int(Double(shorter) * Double(width) / Double(height)), shorter)
        let scaleX = Double(width) / Double(resizedWidth), scaleY = Double(height) / Double(resizedHeight)
        let left = (Double(resizedWidth - size) / 2).rounded(.toNearestOrEven)
        let top = (Double(resizedHeight - size) / 2).rounded(.toNearestOrEven)
        return PixelRegion(x: left * scaleX, y: top * scaleY, width: Double(size) * scaleX, height: Double(size) * scaleY)
    }

    /// The shorter side a JPEG may be DCT-shrunk to without losing resolution the resize needs.
    var minimumDecodedShorterSide: Int { jpegDCTScaling ? (centerCrop ? (resizeShorterSide ?? size) : size) : 0 }

    /// Decodes and resizes one file to size×size×3 bytes at `output`.
    func load(_ path: String, into output: UnsafeMutablePointer<UInt8>) throws {
        let image = try ImageDecoder.decodeFile(path, minimumShorterSide: minimumDecodedShorterSide, maxPixels: maxPixels)
        let region = sourceRegion(width: image.width, height: image.height)
        let count = size * size * 3
        image.pixels.withUnsafeBufferPointer { source in
            if region == PixelRegion(x: 0, y: 0, width: Double(size), height: Double(size))
                && image.width == size && image.height == size {
                output.update(from: source.baseAddress!, count: count)   // already the right size
                return
            }
            let floats = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { floats.deallocate() }
            resampleRGB(source.baseAddress!, width: image.width, height: image.height, region: region,
                        outWidth: size, outHeight: size, into: floats)
            storeBytes(floats, count: count, into: output)
        }
    }
}
