import ArgumentParser

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Describe a model.")
    @Argument var name: String
    func run() throws { print(name) }
}
