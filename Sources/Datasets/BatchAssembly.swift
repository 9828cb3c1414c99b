import Dispatch

extension ImageCache {
    /// Writes samples `indices` as one NHWC float32 batch: `images` receives `indices.count × size × size × 3`
    /// floats (channels fastest), `labels` `indices.count` class indices. With `augmentation`, each sample is
    /// cropped/flipped/jittered with draws from (seed, `epoch`, sample index), so the result depends neither on the
    /// batch composition nor on thread timing. Samples are spread over all cores.
    public func assembleBatch(_ indices: [Int], epoch: Int, augmentation: AugmentationConfig?,
                              normalization: Normalization, images: UnsafeMutablePointer<Float>,
                              labels: UnsafeMutablePointer<Int32>) {
        let floatsPerImage = bytesPerImage
        let scale = (0..<3).map { c in 1 / (255 * normalization.std[c]) }
        let bias = (0..<3).map { c in -normalization.mean[c] / normalization.std[c] }
        for (n, i) in indices.enumerated() { labels[n] = self.labels[i] }
        // Sample n writes only its own image, images[n·floatsPerImage ..< (n+1)·floatsPerImage]: the pointer may
        // cross threads (Swift cannot see that the ranges are disjoint, hence the unchecked capture).
        nonisolated(unsafe) let images = images
        DispatchQueue.concurrentPerform(iterations: indices.count) { n in
            let sample = indices[n]
            let output = images + n * floatsPerImage
            if let augmentation {
                let draw = augmentation.draw(size: size, epoch: epoch, sample: sample)
                writeAugmented(sample, draw: draw, scale: scale, bias: bias, into: output)
            } else {
                let source = pixels(of: sample)
                for p in 0..<(size * size) {
                    for c in 0..<3 { output[3 * p + c] = Float(source[3 * p + c]) * scale[c] + bias[c] }
                }
            }
        }
    }

    private func writeAugmented(_ sample: Int, draw: AugmentationDraw, scale: [Float], bias: [Float],
                                into output: UnsafeMutablePointer<Float>) {
        let pixelCount = size * size
        // Crop + flip + resize in one resample (values stay 0…255), then jitter and normalise in place.
        resampleRGB(pixels(of: sample), width: size, height: size, region: draw.region, outWidth: size,
                    outHeight: size, mirrored: draw.flip, into: output)
        let brightness = draw.brightness, contrast = draw.contrast
        // Contrast blends towards the mean grey of the brightness-adjusted image (as torchvision), clamping after
        // each step.
        var greySum: Float = 0
        for p in 0..<pixelCount {
            let r = min(output[3 * p] * brightness, 255), g = min(output[3 * p + 1] * brightness, 255)
            let b = min(output[3 * p + 2] * brightness, 255)
            greySum += 0.299 * r + 0.587 * g + 0.114 * b
        }
        let offset = greySum / Float(pixelCount) * (1 - contrast)
        for p in 0..<pixelCount {
            for c in 0..<3 {
                let bright = min(max(output[3 * p + c] * brightness, 0), 255)
                let contrasted = min(max(bright * contrast + offset, 0), 255)
                output[3 * p + c] = contrasted * scale[c] + bias[c]
            }
        }
    }
}
