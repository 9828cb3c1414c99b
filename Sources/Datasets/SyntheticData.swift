import AblateCore
import Foundation

/// What `SyntheticData.write` produced.
public struct SyntheticSummary: Codable, Equatable, Sendable {
    public let root: String
    public let classNames: [String]
    public let jpegFiles: Int
    public let pngFiles: Int
}

/// A learnable but not trivial ImageFolder dataset: each image holds a striped ellipse whose stripe orientation
/// depends on the class (class c of k: c·180°/k, ±15°), with random colours, position, size, stripe period,
/// phase, a shaded background and pixel noise. Colour and position carry no class information; structure does.
public enum SyntheticData {
    /// Writes `classes` × `perClass` images of `size`×`size` under `root/<class>/` (half JPEG, half PNG, some
    /// with upper-case extensions). Same seed, same files.
    public static func write(to root: String, classes: Int, perClass: Int, size: Int, seed: UInt64) throws
        -> SyntheticSummary {
        guard classes >= 2, classes <= 100, perClass >= 1, size >= 8, size <= 4096 else {
            throw DatasetError.invalidConfiguration(
                "synthetic data needs 2–100 classes, at least 1 image per class and a size of 8–4096 pixels")
        }
        let digits = String(classes - 1).count
        let classNames = (0..<classes).map { "class" + String(repeating: "0", count: digits - String($0).count) + "\($0)" }
        var jpegs = 0, pngs = 0
        for (c, name) in classNames.enumerated() {
            let folder = root + "/" + name
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw DatasetError.invalidConfiguration("cannot create \(folder): \(ErrorText.obstacle(creatingFolder: folder) ?? ErrorText.reason(error))")
            }
            for i in 0..<perClass {
                var rng = SplitMix64(seed: seed, streams: UInt64(c), UInt64(i))
                let image = render(classIndex: c, classes: classes, size: size, rng: &rng)
                let isJPEG = i % 2 == 0
                let ext = (isJPEG ? "jpg" : "png")
                // No "_" in the name: under the photo/patient group keys every synthetic image is its own original.
                let fileName = String(format: "%@-%05d.%@", name, i, i % 4 == 3 ? ext.uppercased() : ext)
                let bytes = isJPEG ? try ImageEncoder.jpeg(image, quality: 92) : try ImageEncoder.png(image)
                let path = folder + "/" + fileName
                guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                    throw DatasetError.invalidConfiguration("cannot write \(path); check the folder's permissions")
                }
                if isJPEG { jpegs += 1 } else { pngs += 1 }
            }
        }
        return SyntheticSummary(root: root, classNames: classNames, jpegFiles: jpegs, pngFiles: pngs)
    }

    /// One image of class `classIndex`.
    public static func render(classIndex: Int, classes: Int, size: Int, rng: inout SplitMix64) -> RGBImage {
        func color() -> [Double] { (0..<3).map { _ in rng.uniform(0...255) } }
        let s = Double(size)
        let background = color(), backgroundShade = color()
        let stripeA = color(), stripeB = color()
        let angle = (Double(classIndex) / Double(classes) + rng.uniform(-1.0 / 12...1.0 / 12)) * Double.pi
        let (cosA, sinA) = (cos(angle), sin(angle))
        let period = s * rng.uniform(0.08...0.2)
        let phase = rng.uniform(0...(2 * Double.pi))
        let center = (rng.uniform(0.3...0.7) * s, rng.uniform(0.3...0.7) * s)
        let radii = (rng.uniform(0.2...0.4) * s, rng.uniform(0.2...0.4) * s)
        let shadeAngle = rng.uniform(0...(2 * Double.pi))
        let noise = rng.uniform(5...25)
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                let (fx, fy) = (Double(x) + 0.5, Double(y) + 0.5)
                let dx = (fx - center.0) / radii.0, dy = (fy - center.1) / radii.1
                // Inside the ellipse: blend the two stripe colours; outside: the shaded background.
                let inside = dx * dx + dy * dy <= 1
                let t = inside
                    ? 0.5 + 0.5 * sin(2 * Double.pi * (fx * cosA + fy * sinA) / period + phase)
                    : 0.5 + 0.5 * ((fx / s - 0.5) * cos(shadeAngle) + (fy / s - 0.5) * sin(shadeAngle))
                for c in 0..<3 {
                    let base = inside ? stripeA[c] * t + stripeB[c] * (1 - t) : background[c] * (1 - t) + backgroundShade[c] * t
                    // Sum of two uniforms: a cheap, roughly bell-shaped noise.
                    let value = base + noise * (rng.uniform(-1...1) + rng.uniform(-1...1))
                    pixels[(y * size + x) * 3 + c] = UInt8(min(max(value.rounded(), 0), 255))
                }
            }
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }
}
