// Which MLflow server `ablate run` logs to: `--mlflow` on the command line, else the experiment file's
// `tracking.mlflow`, else MLFLOW_TRACKING_URI; the run says which one in its first lines.
public struct MLflowChoice: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        case flag, file, environment
    }

    public var uri: String
    public var source: Source
    /// The lower-ranked settings that were given too, and are not used.
    public var overrides: [Source]

    /// nil when none of the three names a server (an empty value names none).
    public static func resolve(flag: String?, file: String?, environment: String?) -> MLflowChoice? {
        let given: [(Source, String)] = [(.flag, flag), (.file, file), (.environment, environment)]
            .compactMap { source, uri in uri.flatMap { $0.isEmpty ? nil : (source, $0) } }
        guard let (source, uri) = given.first else { return nil }
        return MLflowChoice(uri: uri, source: source, overrides: given.dropFirst().map(\.0))
    }

    /// How the setting is named to the user.
    public static func name(_ source: Source) -> String {
        switch source {
        case .flag: return "--mlflow"
        case .file: return "tracking.mlflow of the experiment file"
        case .environment: return "MLFLOW_TRACKING_URI"
        }
    }

    /// Where the address comes from, e.g. "--mlflow, which replaces tracking.mlflow of the experiment file".
    public var explanation: String {
        Self.name(source) + (overrides.isEmpty ? ""
            : ", which replaces " + overrides.map(Self.name).joined(separator: " and "))
    }
}
