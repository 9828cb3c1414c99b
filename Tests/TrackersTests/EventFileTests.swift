import Foundation
@testable import Trackers
import XCTest

/// The TensorBoard writer against known vectors: CRC-32C's check value, TensorFlow's mask, a hand-encoded Event.
final class EventFileTests: XCTestCase {
    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xFF, and ascending 0…31.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map(UInt8.init)), 0x46DD_794E)
    }

    func testMaskIsTensorFlows() {
        // ((crc >> 15) | (crc << 17)) + 0xa282ead8, as tensorflow/core/lib/hash/crc32c.h defines it.
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0xE306_9283), ((0xE306_9283 >> 15) | (0xE306_9283 << 17 & 0xFFFF_FFFF)) &+ 0xA282_EAD8)
    }

    /// Event { wall_time: 1.5, step: 3, summary { value { tag: "a" simple_value: 0.5 } } }, byte by byte.
    func testEventEncodingByHand() {
        let event = Event(wallTime: 1.5, step: 3, content: .scalars([.init(tag: "a", value: 0.5)]))
        let expected: [UInt8] = [
            0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF8, 0x3F,  // field 1, fixed64: 1.5
            0x10, 0x03,                                            // field 2, varint: 3
            0x2A, 0x0A,                                            // field 5, 10 bytes: Summary
            0x0A, 0x08,                                            //   field 1, 8 bytes: Value
            0x0A, 0x01, 0x61,                                      //     field 1: "a"
            0x15, 0x00, 0x00, 0x00, 0x3F,                          //     field 2, fixed32: 0.5
        ]
        XCTAssertEqual(event.encoded, expected)
        XCTAssertEqual(try Event(decoding: expected), event)
    }

    func testFileVersionEventByHand() {
        let event = Event(wallTime: 0, step: 0, content: .fileVersion("brain.Event:2"))
        XCTAssertEqual(event.encoded, [0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x1A, 0x0D] + Array("brain.Event:2".utf8))
    }

    func testLargeAndNegativeVarints() {
        var w = ProtobufWriter()
        w.int64(2, 300)
        XCTAssertEqual(w.bytes, [0x10, 0xAC, 0x02])
        var n = ProtobufWriter()
        n.int64(2, -1)
        XCTAssertEqual(n.bytes, [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        XCTAssertEqual(try Event(decoding: Event(wallTime: 2, step: -1, content: .scalars([])).encoded).step, -1)
    }

    func testTFRecordFramingAndCorruption() throws {
        let data: [UInt8] = Array("hello".utf8)
        let framed = TFRecord.frame(data)
        XCTAssertEqual(Array(framed.prefix(8)), [5, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(framed[8..<12]), TFRecord.littleEndian(CRC32C.maskedChecksum([5, 0, 0, 0, 0, 0, 0, 0] as [UInt8])))
        XCTAssertEqual(Array(framed.suffix(4)), TFRecord.littleEndian(CRC32C.maskedChecksum(data)))
        XCTAssertEqual(try TFRecord.records(in: framed + framed), [data, data])
        // A record cut short by a killed writer ends the file quietly; a flipped byte is an error.
        XCTAssertEqual(try TFRecord.records(in: framed + framed.dropLast(2)), [data])
        var flipped = framed
        flipped[13] ^= 1
        XCTAssertThrowsError(try TFRecord.records(in: flipped))
    }
}
