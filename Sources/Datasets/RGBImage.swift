/// An 8-bit RGB image, rows top to bottom, pixels interleaved: `pixels.count == height * width * 3` (HWC).
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: pixel count must be width * height * 3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The (r, g, b) value at column `x`, row `y`.
    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
