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
    /// For artifact uploads: the same time-out between two packets, a long one on the whole (a weights file of
    /// tens of megabytes to a distant server may take minutes).
    private let uploadSession: URLSession
    private let timeout: TimeInterval

    /// `uri` is the tracking server's http(s) address (what MLFLOW_TRACKING_URI holds for a server).
    public init(uri: String, timeout: TimeInterval = 15) throws {
        if let problem = MLflowAddress.problem(uri) { throw TrackerError.invalidURI(problem) }
        base = URL(string: uri.hasSuffix("/") ? String(uri.dropLast()) : uri)!
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout * 2
        session = URLSession(configuration: configuration)
        let uploads = URLSessionConfiguration.ephemeral
        uploads.timeoutIntervalForRequest = timeout
        uploads.timeoutIntervalForResource = 24 * 3600
        uploadSession = URLSession(configuration: uploads)
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

    // MARK: artifacts (`/api/2.0/mlflow-artifacts/artifacts/...`, served when the server proxies artifacts)

    /// The artifact API's address of `path`, a path under the server's artifact root (e.g. "1/<run id>/artifacts/x").
    func artifactURL(_ path: String) -> URL {
        let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/;?#%"))
        let escaped = path.split(separator: "/").map { String($0).addingPercentEncoding(withAllowedCharacters: allowed)! }
        return URL(string: base.absoluteString + "/api/2.0/mlflow-artifacts/artifacts/" + escaped.joined(separator: "/"))!
    }

    /// Uploads `file` to `path` under the artifact root (PUT; the server replaces what the path held).
    public func uploadArtifact(_ file: URL, to path: String) throws {
        var request = URLRequest(url: artifactURL(path))
        request.httpMethod = "PUT"
        request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        _ = try send(request, endpoint: "mlflow-artifacts/artifacts (upload of \(file.lastPathComponent))", file: file)
    }

    /// The files and folders directly in `path` under the artifact root, with their sizes (nil for a folder).
    public func listArtifacts(_ path: String) throws -> [(name: String, isDirectory: Bool, size: Int64?)] {
        var components = URLComponents(string: base.absoluteString + "/api/2.0/mlflow-artifacts/artifacts")!
        components.queryItems = [URLQueryItem(name: "path", value: path)]
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        var request = URLRequest(url: components.url!)
        request.httpMethod = "GET"
        let reply = try send(request, endpoint: "mlflow-artifacts/artifacts (list)")
        return (reply["files"]?.arrayValue ?? []).compactMap { f in
            guard let name = f["path"]?.text else { return nil }
            let isDirectory = f["is_dir"].map { $0 == .bool(true) } ?? false
            return (name, isDirectory, f["file_size"]?.int64Value)
        }
    }

    private func send(_ request: URLRequest, endpoint: String, file: URL? = nil) throws -> JSONValue {
        let reply = Reply()
        let done = DispatchSemaphore(value: 0)
        let handler: @Sendable (Data?, URLResponse?, Error?) -> Void = { data, response, error in
            reply.set(data, (response as? HTTPURLResponse)?.statusCode, error)
            done.signal()
        }
        if let file {
            let task = uploadSession.uploadTask(with: request, fromFile: file, completionHandler: handler)
            task.resume()
            // The session times out an upload that stalls; this wait, allowing 64 KiB/s, only guards against one
            // that never calls back.
            let bytes = (try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
            let limit = timeout * 3 + Double(bytes) / 65_536
            guard done.wait(timeout: .now() + limit) == .success else {
                task.cancel()
                throw TrackerError.unreachable("\(base.absoluteString): no answer to \(endpoint) in \(Int(limit)) s")
            }
        } else {
            session.dataTask(with: request, completionHandler: handler).resume()
            // URLSession's own time-outs end the task; this wait only guards against one that never calls back.
            guard done.wait(timeout: .now() + timeout * 3) == .success else {
                throw TrackerError.unreachable("\(base.absoluteString): no answer to \(endpoint) in \(Int(timeout * 3)) s")
            }
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
