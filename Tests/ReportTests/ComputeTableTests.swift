import AblateCore
import Report
import XCTest

/// The compute section: hours are the sum of stored epoch times, and each configuration names its machines.
final class ComputeTableTests: XCTestCase {
    let epyc = Machine(cpu: "AMD EPYC 7B13", isa: "avx2", logicalCPUs: 2, threads: 2, memoryGiB: 23.4,
                       onednn: "3.2.0", openblas: "0.3.21 Zen", backend: "onednn")
    let xeon = Machine(cpu: "Intel Xeon", isa: "avx512", logicalCPUs: 2, threads: 2, memoryGiB: 24,
                       onednn: "2.6.3", openblas: "0.3.21 SkylakeX", backend: "onednn+winograd")

    func testHoursAreSummedFromEpochsAndMachinesAreNamed() throws {
        var input = SampleInput.make()
        for i in input.runs.indices {
            switch input.runs[i].configuration {
            case "DenseNet-121": input.runs[i].machines = [epyc]
            case "SE-DenseNet-121 r=16": input.runs[i].machines = input.runs[i].seed == 3 ? [epyc, xeon] : [epyc]
            default: input.runs[i].machines = []
            }
        }
        let text = try ReportTables.compute(input)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| ") }
        let baseline = try XCTUnwrap(rows.first { $0.hasPrefix("| DenseNet-121 ") })
        let hours = input.runs.filter { $0.configuration == "DenseNet-121" }
            .flatMap(\.epochs).reduce(0.0) { $0 + $1.seconds } / 3600
        XCTAssertTrue(baseline.contains(String(format: "%.2f", hours)), "\(baseline) vs \(hours) h")
        XCTAssertTrue(baseline.contains("AMD EPYC 7B13 (avx2), 2 of 2 CPUs, 23.4 GiB, oneDNN 3.2.0"), String(baseline))
        let se16 = try XCTUnwrap(rows.first { $0.hasPrefix("| SE-DenseNet-121 r=16 ") })
        XCTAssertTrue(se16.contains("Intel Xeon (avx512)"), String(se16))
        let se8 = try XCTUnwrap(rows.first { $0.hasPrefix("| SE-DenseNet-121 r=8 ") })
        XCTAssertTrue(se8.contains("not recorded"), String(se8))
        XCTAssertTrue(text.contains("trained on 2 processors (AMD EPYC 7B13 (avx2), Intel Xeon (avx512))"), text)
        let total = input.runs.flatMap(\.epochs).reduce(0.0) { $0 + $1.seconds } / 3600
        XCTAssertTrue(text.contains("Total: \(String(format: "%.2f", total)) h over 90 epochs of 9 runs"), text)
    }

    func testOneProcessorNeedsNoNote() throws {
        var input = SampleInput.make()
        for i in input.runs.indices { input.runs[i].machines = [epyc] }
        XCTAssertFalse(try ReportTables.compute(input).contains("processors"))
    }
}
