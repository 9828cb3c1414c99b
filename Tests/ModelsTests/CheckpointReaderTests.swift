import AblateCore
@testable import Checkpoints
import Engine
import Foundation
import XCTest

/// The unpickler and tensor reader on their own: general strides, half precision, names.
final class CheckpointReaderTests: XCTestCase {
    func testGeneralStridesAndOffsets() throws {
        // A 3×4 float32 storage 0…11; the tensor is its transpose's [1:, :] slice: shape [3, 2], strides [1, 4],
        // offset 1 → rows (1, 5), (2, 6), (3, 7).
        let storage = (0..<12).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
        let ref = StorageRef(key: "0", dtype: .float32, count: 12)
        let t = try TensorRef(storage: ref, offset: 1, shape: [3, 2], strides: [1, 4]).values(from: storage, bigEndian: false)
        XCTAssertEqual(t.values, [1, 5, 2, 6, 3, 7])
        // Scalars, size-1 dimensions with any stride, and an index past the storage.
        XCTAssertEqual(try TensorRef(storage: ref, offset: 11, shape: [], strides: []).values(from: storage, bigEndian: false).values, [11])
        XCTAssertEqual(try TensorRef(storage: ref, offset: 2, shape: [1, 3], strides: [99, 1]).values(from: storage, bigEndian: false).values, [2, 3, 4])
        XCTAssertThrowsError(try TensorRef(storage: ref, offset: 2, shape: [3, 4], strides: [4, 1]).values(from: storage, bigEndian: false))
        // Big-endian files.
        let big = (0..<12).flatMap { withUnsafeBytes(of: Float($0).bitPattern.bigEndian, Array.init) }
        XCTAssertEqual(try TensorRef(storage: ref, offset: 0, shape: [2, 2], strides: [1, 2]).values(from: big, bigEndian: true).values, [0, 2, 1, 3])
    }

    /// The legacy format as PyTorch 0.3 wrote it (torchvision's 2017 files): Python 2 strings, the first
    /// `_rebuild_tensor`, a view into a storage (view_metadata), and strides that are not row-major.
    func testLegacyFormatOfPyTorch03() throws {
        func str(_ s: String) -> [UInt8] { [0x55, UInt8(s.utf8.count)] + Array(s.utf8) } // SHORT_BINSTRING
        func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
        var file: [UInt8] = [0x80, 0x02, 0x8A, 0x0A] + TorchLegacyFormat.magic + [0x2E]      // magic number
        file += [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]                                          // 1001
        file += [0x80, 0x02, 0x7D] + str("little_endian") + [0x88, 0x73, 0x2E]                // sys_info
        file += [0x80, 0x02] + global("collections", "OrderedDict") + [0x29, 0x52, 0x28]     // OrderedDict(), MARK
        file += str("module.w") + global("torch._utils", "_rebuild_tensor") + [0x28]
        file += [0x28] + str("storage") + global("torch", "FloatStorage") + str("k") + str("cpu") + [0x4B, 12]
        file += [0x28] + str("kv") + [0x4B, 2, 0x4B, 6, 0x74, 0x74, 0x51]                     // view ('kv', 2, 6); BINPERSID
        file += [0x4B, 1, 0x4B, 2, 0x4B, 2, 0x86, 0x4B, 1, 0x4B, 2, 0x86, 0x74, 0x52, 0x75, 0x2E] // offset 1, (2, 2), (1, 2)
        file += [0x80, 0x02, 0x5D] + str("k") + [0x61, 0x2E]                                  // keys ['k']
        file += withUnsafeBytes(of: Int64(12).littleEndian, Array.init)
        file += (0..<12).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("legacy03-\(UUID()).pth")
        try Data(file).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let checkpoint = try CheckpointFile(contentsOf: url)
        XCTAssertEqual(checkpoint.format, .torchLegacy)
        // The view starts at element 2, the tensor 1 further: element (i, j) is storage[3 + i + 2j].
        XCTAssertEqual(checkpoint.tensors["w"], TorchTensor(shape: [2, 2], values: [3, 5, 4, 6]))
        XCTAssertEqual(checkpoint.renames.count, 1)
        // One byte short: the storage no longer fits.
        try Data(file.dropLast()).write(to: url)
        XCTAssertThrowsError(try CheckpointFile(contentsOf: url)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
    }

    func testHalfPrecision() {
        XCTAssertEqual(Float(float16Bits: 0x3C00), 1)
        XCTAssertEqual(Float(float16Bits: 0xC000), -2)
        XCTAssertEqual(Float(float16Bits: 0x7BFF), 65504)
        XCTAssertEqual(Float(float16Bits: 0x0001), 0x1p-24)      // smallest subnormal
        XCTAssertEqual(Float(float16Bits: 0x8000).sign, .minus)  // −0
        XCTAssertEqual(Float(float16Bits: 0x7C00), .infinity)
        XCTAssertTrue(Float(float16Bits: 0x7E00).isNaN)
        XCTAssertEqual(Float(float16Bits: 0x3555), 0.333251953125)
        XCTAssertEqual(Float(bfloat16Bits: 0x3F80), 1)
        XCTAssertEqual(Float(bfloat16Bits: 0xC049), -3.140625)
    }

    func testNames() {
        let (names, notes) = StateDictNames.normalise([
            "module.features.denseblock1.denselayer2.norm.1.weight", "features.denseblock3.denselayer10.conv.2.weight",
            "features.denseblock1.denselayer1.norm1.running_var", "features.transition1.norm.weight",
        ])
        XCTAssertEqual(names["module.features.denseblock1.denselayer2.norm.1.weight"], "features.denseblock1.denselayer2.norm1.weight")
        XCTAssertEqual(names["features.denseblock3.denselayer10.conv.2.weight"], "features.denseblock3.denselayer10.conv2.weight")
        XCTAssertEqual(names["features.denseblock1.denselayer1.norm1.running_var"], "features.denseblock1.denselayer1.norm1.running_var")
        XCTAssertEqual(names["features.transition1.norm.weight"], "features.transition1.norm.weight")
        XCTAssertEqual(notes.count, 2)
        XCTAssertEqual(StateDictNames.candidates("features.denseblock2.dense_block.denselayer1.conv1.weight"),
                       ["features.denseblock2.dense_block.denselayer1.conv1.weight", "features.denseblock2.denselayer1.conv1.weight"])
        XCTAssertEqual(StateDictNames.candidates("features.denseblock2.denselayer1.conv1.weight"),
                       ["features.denseblock2.denselayer1.conv1.weight", "features.denseblock2.dense_block.denselayer1.conv1.weight"])
        XCTAssertEqual(StateDictNames.candidates("layer1.0.conv1.weight"), ["layer1.0.conv1.weight"])
    }

    func testProtocolZeroAndLongs() throws {
        // {'a': (True, 3, -1.5, 2**70)} in protocol 0 text opcodes, with a LONG1 for 2**70.
        var p: [UInt8] = Array("(dp0\nVa\np1\n(I01\nI3\nF-1.5\n".utf8)
        p += [0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x40] + Array("tp2\ns.".utf8)
        var u = Unpickler(p)
        guard case .dict(let d) = try u.load(), case .tuple(let t)? = d["a"] else { return XCTFail("not a dict of a tuple") }
        guard case .bool(true) = t[0], case .int(3) = t[1], case .float(-1.5) = t[2], case .bigInt(let big) = t[3] else {
            return XCTFail("\(t)")
        }
        XCTAssertEqual(big.count, 9)
        XCTAssertEqual(Unpickler.long([0xFF]).asInt, -1)
        XCTAssertEqual(Unpickler.long([0x00, 0x80]).asInt, -32768)
    }
}
