import ArgumentParser
import Foundation
import Report
import Store

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export runs and their epochs as CSV or JSON.",
        discussion: """
            CSV writes one table (--table epochs, the default, or runs); JSON writes one document with every run, \
            its configuration and its epochs.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json }

    @Option(help: "Run store file.") var db: String = RunStore.defaultPath
    @Option(help: "csv or json.") var format: Format
    @Option(help: "CSV table: epochs or runs.") var table: String = "epochs"
    @Option(help: "Only runs of this experiment.") var experiment: String?
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func validate() throws {
        guard ExportTable(rawValue: table) != nil else {
            throw ValidationError("--table must be one of \(ExportTable.allCases.map(\.rawValue).joined(separator: ", ")), got '\(table)'")
        }
    }

    func run() throws {
        let store = try RunStore.forReading(db)
        if let experiment { try store.experiment(named: experiment) }
        let text: String
        switch format {
        case .csv:
            let (header, rows) = try store.exportTable(ExportTable(rawValue: table)!, experiment: experiment)
            text = try CSV.render(header: header, rows: rows)
        case .json: text = try store.exportJSON(experiment: experiment)
        }
        if let output {
            try OutputFile.write(text, to: output)
        } else {
            print(text, terminator: "")
        }
    }
}
