// Whole-map operations on (possibly strided) feature maps: zero, copy, add. Used where a kernel that wants dense
// memory meets a channel slice of a dense-block buffer.

/// Sets every float of a (possibly strided) feature map to zero.
public func zeroMap(_ m: FeatureMap) {
    if m.isDense {
        m.base.update(repeating: 0, count: m.rows * m.c)
        return
    }
    parallelRows(m.rows, chunk: 4096) { r0, r1 in
        for r in r0..<r1 { (m.base + r * m.stride).update(repeating: 0, count: m.c) }
    }
}

/// Copies `src` into `dst` (same shape, any strides).
public func copyMap(_ src: FeatureMap, _ dst: FeatureMap) {
    precondition(src.rows == dst.rows && src.c == dst.c)
    parallelRows(src.rows, chunk: 4096) { r0, r1 in
        for r in r0..<r1 { (dst.base + r * dst.stride).update(from: src.base + r * src.stride, count: src.c) }
    }
}

/// dst += src (same shape, any strides).
public func addMap(_ src: FeatureMap, into dst: FeatureMap) {
    precondition(src.rows == dst.rows && src.c == dst.c)
    parallelRows(src.rows, chunk: 4096) { r0, r1 in
        for r in r0..<r1 {
            let s = src.base + r * src.stride, d = dst.base + r * dst.stride
            for c in 0..<src.c { d[c] += s[c] }
        }
    }
}
