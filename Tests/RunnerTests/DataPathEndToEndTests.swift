import Foundation
import XCTest

extension EndToEndTests {
    /// A data path with `~` is resolved once, when the file is read, and training reads that same folder.
    func testHomeRelativeDataPathTrains() throws {
        let home = dir.appendingPathComponent("home")
        let synth = try run(["data", "synth", "--out", home.appendingPathComponent("pictures").path, "--classes", "2",
                             "--per-class", "12", "--size", "32", "--seed", "1"])
        XCTAssertEqual(synth.status, 0, synth.output)
        let file = dir.appendingPathComponent("home.yaml")
        try """
            name: home
            data: {path: ~/pictures, size: 32, split: {protocol: stratified, test_fraction: 0.25}}
            training: {epochs: 1, batch_size: 4, optimizer: {name: sgd, lr: 0.05}, threads: 1}
            model: {name: custom, growth_rate: 4, block_config: [2], init_channels: 8}
            """.write(to: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = Self.ablate
        p.arguments = ["run", file.path, "--db", "home.sqlite"]
        p.currentDirectoryURL = dir
        p.environment = ProcessInfo.processInfo.environment.merging(["HOME": home.path]) { $1 }
        let log = dir.appendingPathComponent("home.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        let output = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("data \(home.path)/pictures"), output)
        XCTAssertEqual(try epochs("home.sqlite").count, 1)
    }
}
