import AblateCore
@testable import Checkpoints
import Engine
import Foundation
@testable import Models
import XCTest
import ZIPFoundation

/// Weight files that must not load: each a clear error naming the file, nothing executed, the network unchanged.
final class PretrainedBadFileTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-badweights-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    let tiny = DenseNetConfig(growthRate: 8, blockConfig: [2, 2, 2, 2], initChannels: 16, bnSize: 4,
                              compression: DenseNetConfig.standardCompression, dropRate: DenseNetConfig.standardDropRate,
                              classes: 10, seReduction: nil, sePlacement: .standard)

    /// Loads `bytes` written as `name` into a tiny DenseNet and returns the error's text; fails when it loads or
    /// when the network changed.
    func failure(_ bytes: [UInt8], _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        let net = try DenseNet(tiny, seed: 1), before = net.store.values.array
        var text = ""
        XCTAssertThrowsError(try Pretrained.load(contentsOf: url, into: net), file: file, line: line) { text = "\($0)" }
        XCTAssertTrue(text.contains(name), "the error names the file: \(text)", file: file, line: line)
        XCTAssertTrue(net.store.values.array == before, "a failed load changed the network", file: file, line: line)
        return text
    }

    /// A protocol-2 pickle that calls `os.system("echo pwned")` when Python unpickles it.
    let systemCall: [UInt8] = Array("\u{80}\u{02}cos\nsystem\nq\u{00}X\u{0A}\u{00}\u{00}\u{00}echo pwnedq\u{01}\u{85}q\u{02}Rq\u{03}.".unicodeScalars.map { UInt8($0.value) })

    func testEmptyFile() throws {
        XCTAssertTrue(try failure([], "empty.pth").contains("empty"))
    }

    func testTruncatedZipAndLegacyFiles() throws {
        let zip = [UInt8](try Data(contentsOf: try PretrainedTests.file("tiny_densenet.pth")))
        for cut in [zip.count / 2, zip.count - 10, 30] {
            let text = try failure(Array(zip.prefix(cut)), "cut\(cut).pth")
            XCTAssertTrue(text.contains("truncated"), text)
        }
        let legacy = [UInt8](try Data(contentsOf: try PretrainedTests.file("tiny_densenet_legacy_format.pth")))
        for cut in [legacy.count - 1, legacy.count / 2, 300, 20] {
            let text = try failure(Array(legacy.prefix(cut)), "legacycut\(cut).pth")
            XCTAssertTrue(text.contains("truncated"), text)
        }
        // A storage's bytes damaged inside the archive: the entry's CRC no longer matches.
        var damaged = zip
        damaged[zip.count / 2] ^= 0xFF
        XCTAssertTrue(try failure(damaged, "damaged.pth").contains("cannot be read"))
    }

    func testGlobalsOutsideTheAllowedSetAreRefusedUnexecuted() throws {
        var text = try failure(systemCall, "system.pth")
        XCTAssertTrue(text.contains("'os.system'") && text.contains("only state_dicts"), text)
        // The same inside a zip archive's data.pkl, and other globals and opcodes that build objects.
        text = try failure(try zipped(systemCall), "system-zip.pth")
        XCTAssertTrue(text.contains("'os.system'"), text)
        let eval: [UInt8] = Array("\u{80}\u{02}c__builtin__\neval\n)R.".unicodeScalars.map { UInt8($0.value) })
        XCTAssertTrue(try failure(try zipped(eval), "eval.pth").contains("'__builtin__.eval'"))
        // Protocol 4's STACK_GLOBAL naming a model class (a whole pickled nn.Module).
        var module: [UInt8] = [0x80, 0x04, 0x8C, 0x1B] + Array("torchvision.models.densenet".utf8) + [0x8C, 0x08] + Array("DenseNet".utf8)
        module += [0x93, 0x29, 0x81, 0x2E] // STACK_GLOBAL, EMPTY_TUPLE, NEWOBJ, STOP
        XCTAssertTrue(try failure(try zipped(module), "module.pth").contains("'torchvision.models.densenet.DenseNet'"))
        let inst: [UInt8] = Array("(iposix\nsystem\n.".utf8)
        XCTAssertTrue(try failure(try zipped(inst), "inst.pth").contains("'posix.system'"))
    }

    func testOtherArchitectureNamesTheFirstMismatchingTensor() throws {
        let resnet = [UInt8](try Data(contentsOf: try PretrainedTests.file("tiny_resnet_basic.pth")))
        var text = try failure(resnet, "resnet.pth")
        XCTAssertTrue(text.contains("'features.conv0.weight' is not in the file") && text.contains("different architecture"), text)
        // The same family with another growth rate: the first tensor whose shape differs, in the model's order.
        var other = tiny; other.growthRate = 4
        let url = dir.appendingPathComponent("growth4.safetensors")
        try DenseNet(other, seed: 3).store.save(to: url)
        text = try failure([UInt8](try Data(contentsOf: url)), "growth4.safetensors")
        XCTAssertTrue(text.contains("'features.denseblock1.denselayer1.conv1.weight' has shape [16, 16, 1, 1] in the file, the model's is [32, 16, 1, 1]"), text)
    }

    func testNotAWeightFile() throws {
        XCTAssertTrue(try failure(Array("hello, world\n".utf8), "hello.pth").contains("not a PyTorch checkpoint"))
        // A zip without data.pkl, and a pickle of a list instead of a state_dict.
        XCTAssertTrue(try failure(try zipped(Array("x".utf8), entry: "archive/other.txt"), "other.zip").contains("data.pkl"))
        let list: [UInt8] = [0x80, 0x02, 0x5D, 0x4B, 0x01, 0x61, 0x2E] // [1]
        XCTAssertTrue(try failure(try zipped(list), "list.pth").contains("holds no state_dict"))
    }

    /// A zip archive with `bytes` as its one entry (torch.save's layout when `entry` is `<name>/data.pkl`).
    func zipped(_ bytes: [UInt8], entry: String = "archive/data.pkl") throws -> [UInt8] {
        let archive = try Archive(data: Data(), accessMode: .create)
        try archive.addEntry(with: entry, type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .none) { position, size in
            Data(bytes[Int(position)..<(Int(position) + size)])
        }
        return [UInt8](archive.data!)
    }
}
