// Widening of the 16-bit floats weight files hold (PyTorch's float16 and bfloat16) to Float, by bit pattern, so
// it does not depend on the platform's `Float16` type.

extension Float {
    /// IEEE 754 binary16 → binary32, exactly (every half value is a float).
    ///
    /// Layout: sign 1 bit, exponent 5 bits (bias 15), fraction 10 bits. Normal numbers re-bias the exponent
    /// (+112 = 127 − 15) and shift the fraction up 13 bits; subnormals (exponent 0) are fraction · 2⁻²⁴;
    /// exponent 31 is infinity (fraction 0) or NaN.
    public init(float16Bits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let fraction = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(fraction) * 0x1p-24
            self = sign == 0 ? magnitude : -magnitude
        case 0x1F:
            self = Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
        default:
            self = Float(bitPattern: sign | (exponent + 112) << 23 | fraction << 13)
        }
    }

    /// bfloat16 → binary32, exactly: bfloat16 is the upper half of a binary32 (same sign and exponent, 7 of the
    /// 23 fraction bits).
    public init(bfloat16Bits b: UInt16) {
        self = Float(bitPattern: UInt32(b) << 16)
    }
}
