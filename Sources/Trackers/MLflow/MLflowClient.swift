// MLflow's tracking REST API (`/api/2.0/mlflow/...`), the few endpoints ablate uses, over Foundation's URLSession:
// a handful of JSON calls per epoch do not need an HTTP stack of their own. Calls are synchronous; the live
// tracker makes them from a thread of its own.
import AblateCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public final class MLflowClient: Sendable {
    /// The server's root, e.g. http://127.0.0.1:5000.
    public let base: URL
    private let session: URLSession
    private let timeout: TimeInterval

    /// `uri` is the tracking server's http(s) address (what MLFLOW_TRACKING_URI holds for a server).
    public init(uri: String, timeout: TimeInterval = 15) throws {
        let trimmed = uri.hasSuffix("/") ? String(uri.dropLast()) : uri
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            throw TrackerError.invalidURI("'\(uri)' is not an MLflow tracking server address: ablate speaks MLflow's "
                + "REST API and needs http://HOST:PORT (file stores and databases are for MLflow's Python client)")
        }
        base = url
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout * 2
        session = URLSession(configuration: configuration)
    }

    public func post(_ endpoint: String, _ body: JSONValue) throws -> JSONValue {
        var request = URLRequest(url: base.appendingPathComponent("api/2.0/mlflow/\(endpoint)"))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.canonical.utf8)
        return try send(request, endpoint: endpoint)
    }

    public func get(_ endpoint: String, _ query: [(String, String)]) throws -> JSONValue {
        var components = URLComponents(url: base.appendingPathComponent("api/2.0/mlflow/\(endpoint)"),
                                       resolvingAgainstBaseURL: false)!
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        // "+" is a space to MLflow's (Flask's) form decoding: send it escaped.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        var request = URLRequest(url: components.url!)
        request.httpMethod = "GET"
        return try send(request, endpoint: endpoint)
    }

    private func send(_ request: URLRequest, endpoint: String) throws -> JSONValue {
        let reply = Reply()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            reply.set(data, (response as? HTTPURLResponse)?.statusCode, error)
            done.signal()
        }.resume()
        // URLSession's own time-outs end the task; this wait only guards against one that never calls back.
        guard done.wait(timeout: .now() + timeout * 3) == .success else {
            throw TrackerError.unreachable("\(base.absoluteString): no answer to \(endpoint) in \(Int(timeout * 3)) s")
        }
        let (data, status, error) = reply.get()
        if let error { throw TrackerError.unreachable("\(base.absoluteString): \(error.localizedDescription)") }
        guard let status else { throw TrackerError.unreachable("\(base.absoluteString): no HTTP answer to \(endpoint)") }
        let text = String(decoding: data ?? Data(), as: UTF8.self)
        let json = text.isEmpty ? JSONValue.object([:]) : try? JSONValue.parse(text)
        guard (200..<300).contains(status) else {
            let code = json?["error_code"]?.text
            let message = json?["message"]?.text ?? String(text.prefix(300))
            throw TrackerError.server(status: status, endpoint: endpoint, message: code.map { "\($0): \(message)" } ?? message)
        }
        guard let json else {
            throw TrackerError.unexpectedResponse(endpoint: endpoint, "not JSON: \(text.prefix(200))")
        }
        return json
    }
}

/// The completion handler's results, handed to the waiting thread.
private final class Reply: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Data?, Int?, Error?) = (nil, nil, nil)
    func set(_ data: Data?, _ status: Int?, _ error: Error?) { lock.withLock { value = (data, status, error) } }
    func get() -> (Data?, Int?, Error?) { lock.withLock { value } }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// A string, or an id MLflow sent as a number.
    var text: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        default: return nil
        }
    }

    /// int64 fields come as JSON numbers or, in protobuf's JSON mapping, as strings.
    var int64Value: Int64? {
        switch self {
        case .int(let i): return Int64(i)
        case .string(let s): return Int64(s)
        case .double(let d): return Int64(exactly: d)
        default: return nil
        }
    }

    /// Doubles come as numbers, or as "NaN" / "Infinity" / "-Infinity" strings (protobuf's JSON mapping).
    var metricValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        case .string(let s): return ["NaN": .nan, "Infinity": .infinity, "-Infinity": -.infinity][s]
        default: return nil
        }
    }

    var arrayValue: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }
}
