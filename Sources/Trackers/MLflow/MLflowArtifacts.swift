// `ablate export --format mlflow --artifacts`: files put into an MLflow run's artifacts through the server's
// artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`, which `mlflow server` serves unless started with
// --no-serve-artifacts). Idempotent: the run's tag `ablate.artifacts` lists the size and SHA-256 of each file ablate
// put there; a file whose size and hash the tag lists, and that the server still lists at that size, is not sent
// again. Any other is uploaded to its path, replacing what the path held, so a path never holds two files.
import AblateCore
import Foundation

/// One file to upload.
public struct ArtifactFile: Equatable, Sendable {
    /// Where it goes, relative to the run's artifact root, with "/" between folders ("weights/selected.safetensors").
    public var path: String
    public var local: URL

    public init(path: String, local: URL) { self.path = path; self.local = local }

    /// Every file under `folder` (hidden ones left out), under `prefix` in the run's artifacts, in path order.
    public static func folder(_ folder: URL, under prefix: String) throws -> [ArtifactFile] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrackerError.io("\(folder.path) is not a folder")
        }
        let base = folder.standardizedFileURL.resolvingSymlinksInPath().pathComponents
        guard let walk = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey],
                                                        options: [.skipsHiddenFiles]) else {
            throw TrackerError.io("cannot read the folder \(folder.path)")
        }
        var files: [ArtifactFile] = []
        for case let url as URL in walk where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let parts = url.standardizedFileURL.resolvingSymlinksInPath().pathComponents.dropFirst(base.count)
            files.append(ArtifactFile(path: ([prefix] + parts).filter { !$0.isEmpty }.joined(separator: "/"), local: url))
        }
        return files.sorted { $0.path < $1.path }
    }
}

/// What one upload sent.
public struct ArtifactTotals: Equatable, Sendable {
    public var uploaded = 0
    public var bytes: Int64 = 0
    /// Files the run already had, the same.
    public var unchanged = 0

    public static func += (a: inout ArtifactTotals, b: ArtifactTotals) {
        a.uploaded += b.uploaded; a.bytes += b.bytes; a.unchanged += b.unchanged
    }
}

public final class MLflowArtifacts {
    /// The tag listing what ablate uploaded: one line per file, "SHA-256 size path".
    public static let manifestTag = "ablate.artifacts"

    public let client: MLflowClient

    public init(client: MLflowClient) { self.client = client }

    /// Puts `files` into the artifacts of the MLflow run `runID`, skipping those it already has.
    public func upload(_ files: [ArtifactFile], toRun runID: String) throws -> ArtifactTotals {
        var totals = ArtifactTotals()
        guard !files.isEmpty else { return totals }
        let reply = try client.get("runs/get", [("run_id", runID)])
        guard let run = reply["run"], let uri = run["info"]?["artifact_uri"]?.text else {
            throw TrackerError.unexpectedResponse(endpoint: "runs/get", "no artifact_uri for run \(runID)")
        }
        let root = try Self.proxiedPath(uri)
        var manifest = Self.manifest(run["data"]?["tags"]?.arrayValue.first { $0["key"]?.text == Self.manifestTag }?["value"]?.text)
        var listed: [String: [String: Int64]] = [:]
        for file in files {
            let entry = try Self.fingerprint(file.local)
            let (folder, name) = Self.split(file.path)
            if listed[folder] == nil {
                var sizes: [String: Int64] = [:]
                for f in try client.listArtifacts(Self.join(root, folder)) where !f.isDirectory { sizes[f.name] = f.size }
                listed[folder] = sizes
            }
            if manifest[file.path] == entry && listed[folder]?[name] == entry.size {
                totals.unchanged += 1
                continue
            }
            try client.uploadArtifact(file.local, to: Self.join(root, file.path))
            manifest[file.path] = entry
            listed[folder]?[name] = entry.size
            totals.uploaded += 1
            totals.bytes += entry.size
            // After each file, so an export stopped half-way still knows what arrived.
            let text = Self.text(manifest)
            if text.count <= MLflowSync.maxTagLength {
                _ = try client.post("runs/set-tag", .object([
                    "run_id": .string(runID), "key": .string(Self.manifestTag), "value": .string(text),
                ]))
            }
        }
        return totals
    }

    // MARK: pieces

    struct Entry: Equatable {
        var sha256: String
        var size: Int64
    }

    static func fingerprint(_ file: URL) throws -> Entry {
        let data: Data
        do { data = try Data(contentsOf: file, options: .alwaysMapped) } catch {
            throw TrackerError.io("cannot read \(file.path): \(ErrorText.reason(error))")
        }
        let digest = data.withUnsafeBytes { SHA256.digest(buffer: $0) }
        return Entry(sha256: SHA256.hex(bytes: digest), size: Int64(data.count))
    }

    static func manifest(_ text: String?) -> [String: Entry] {
        var out: [String: Entry] = [:]
        for line in (text ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count == 3, let size = Int64(parts[1]) else { continue }
            out[String(parts[2])] = Entry(sha256: String(parts[0]), size: size)
        }
        return out
    }

    static func text(_ manifest: [String: Entry]) -> String {
        manifest.keys.sorted().map { "\(manifest[$0]!.sha256) \(manifest[$0]!.size) \($0)" }.joined(separator: "\n")
    }

    /// The run's artifact root as a path of the artifact API: `mlflow-artifacts:/1/<run>/artifacts` (or
    /// `mlflow-artifacts://host/…`, or the API's own http(s) address) gives "1/<run>/artifacts". Any other root
    /// (a local folder, s3://…) is one the server does not proxy, and ablate cannot write to it.
    static func proxiedPath(_ artifactURI: String) throws -> String {
        let anchor = "/api/2.0/mlflow-artifacts/artifacts/"
        if let url = URL(string: artifactURI), let scheme = url.scheme?.lowercased() {
            if scheme == "mlflow-artifacts" { return trimmedSlashes(url.path) }
            if ["http", "https"].contains(scheme), let range = url.path.range(of: anchor) {
                return trimmedSlashes(String(url.path[range.upperBound...]))
            }
        }
        throw TrackerError.io("the MLflow run's artifacts are stored at \(artifactURI), which the server does not "
            + "proxy: ablate uploads through the server's artifact API, so start `mlflow server` with --serve-artifacts "
            + "(the default since MLflow 2) and an --artifacts-destination, and export into an MLflow experiment created "
            + "by such a server")
    }

    static func trimmedSlashes(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    static func join(_ a: String, _ b: String) -> String { b.isEmpty ? a : a.isEmpty ? b : a + "/" + b }
}
