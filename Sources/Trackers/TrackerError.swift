public enum TrackerError: Error, CustomStringConvertible, Equatable {
    case corruptEventFile(String)
    case io(String)
    case invalidURI(String)
    /// The MLflow server could not be reached or did not answer in time.
    case unreachable(String)
    /// The server answered with an error status (its own message included).
    case server(status: Int, endpoint: String, message: String)
    case unexpectedResponse(endpoint: String, String)

    public var description: String {
        switch self {
        case .corruptEventFile(let why): return "corrupt TensorBoard event file: \(why)"
        case .io(let why): return why
        case .invalidURI(let why): return why
        case .unreachable(let why): return "MLflow server unreachable: \(why)"
        case let .server(status, endpoint, message): return "MLflow \(endpoint) answered HTTP \(status): \(message)"
        case let .unexpectedResponse(endpoint, why): return "MLflow \(endpoint) gave an unexpected answer: \(why)"
        }
    }
}
