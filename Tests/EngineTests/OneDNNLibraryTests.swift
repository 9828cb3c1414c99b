@testable import Engine
import Foundation
import XCTest

/// The process loads the oneDNN that the policy in Sources/CDNNL/include/abl_dnnl.h names: 2.x on AVX-512
/// machines (its Winograd kernels), 3.x elsewhere or under an ISA cap below AVX-512, ABLATE_ONEDNN overriding
/// both, and 2.x whenever 3.x is missing. Run it under each of those environments.
final class OneDNNLibraryTests: XCTestCase {
    func testLoadedLibraryIsTheOneThePolicyNames() throws {
        let env = ProcessInfo.processInfo.environment
        var avx512Core = false
        #if arch(x86_64)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? [])
        avx512Core = ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy { flags.contains(Substring($0)) }
        #endif
        let cap = [env["ONEDNN_MAX_CPU_ISA"], env["DNNL_MAX_CPU_ISA"]].compactMap { $0 }.first { !$0.isEmpty }?
            .uppercased() ?? ""
        let capped = cap.hasPrefix("SSE41") || cap == "AVX" || cap.hasPrefix("AVX2")
        var wanted = avx512Core && !capped ? 2 : 3
        if let forced = env["ABLATE_ONEDNN"], let major = Int(forced), major == 2 || major == 3 { wanted = major }
        XCTAssertEqual(Libraries.preferredOneDNNMajor, wanted)

        let has3 = Libraries.oneDNN3LibraryFile.map { FileManager.default.fileExists(atPath: $0) } ?? false
        let expected = wanted == 3 && !has3 ? 2 : wanted
        let version = Libraries.oneDNN
        XCTAssertTrue(version.hasPrefix("\(expected)."), "loaded \(version), expected oneDNN \(expected).x")
        XCTAssertTrue(version.hasSuffix("(libdnnl.so.\(expected))"), version)
    }
}
