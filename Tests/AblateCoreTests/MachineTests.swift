import AblateCore
import Foundation
import XCTest

final class MachineTests: XCTestCase {
    func testISALevelFromFlags() {
        #if arch(x86_64)
        let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]
        XCTAssertEqual(ProcessorInfo.isaLevel(flags: avx2), "avx2")
        XCTAssertEqual(ProcessorInfo.isaLevel(flags: avx2.union(["avx512f"])), "avx2", "F alone is not AVX-512 core")
        let core = avx2.union(["avx512f", "avx512bw", "avx512vl", "avx512dq"])
        XCTAssertEqual(ProcessorInfo.isaLevel(flags: core), "avx512")
        XCTAssertEqual(ProcessorInfo.isaLevel(flags: core.union(["avx512_bf16"])), "avx512+bf16")
        XCTAssertEqual(ProcessorInfo.isaLevel(flags: ["sse4_2", "avx"]), "x86-64")
        #endif
        XCTAssertFalse(ProcessorInfo.modelName.isEmpty)
        XCTAssertGreaterThan(ProcessorInfo.memoryGiB, 0)
    }

    func testStoredListRoundTripsAndRejectsOtherShapes() throws {
        let m = Machine(cpu: "CPU \"quoted\"", isa: "avx2", logicalCPUs: 8, threads: 4, memoryGiB: 15.5, onednn: nil,
                        openblas: "0.3.21 Haswell", backend: "openblas")
        XCTAssertEqual(try Machine.decode(Machine.encode([m, m])), [m, m])
        XCTAssertEqual(try Machine.decode(nil), [])
        XCTAssertThrowsError(try Machine.decode("{\"cpu\":\"x\"}"))
        XCTAssertThrowsError(try Machine.decode("[{\"cpu\":\"x\"}]"))
        XCTAssertEqual(Machine.appending(m, to: [m]), [m])
        var other = m; other.threads = 2
        XCTAssertEqual(Machine.appending(other, to: [m]), [m, other])
        XCTAssertEqual(m.summary, "CPU \"quoted\" (avx2), 4 of 8 CPUs, 15.5 GiB, OpenBLAS 0.3.21 Haswell")
    }
}
