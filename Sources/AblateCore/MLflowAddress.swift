// What an MLflow tracking server's address must look like for ablate, checked in one place: where the experiment
// file's `tracking.mlflow` is read (so a bad one fails the file, naming its key) and where a client is made.
import Foundation

public enum MLflowAddress {
    /// Why `uri` is not an address ablate can log to, or nil when it is one: ablate speaks MLflow's REST API, so it
    /// needs http(s)://HOST[:PORT], not the file stores and databases MLflow's Python client also accepts.
    public static func problem(_ uri: String) -> String? {
        let trimmed = uri.hasSuffix("/") ? String(uri.dropLast()) : uri
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            return "'\(uri)' is not an MLflow tracking server address: ablate speaks MLflow's REST API and needs "
                + "http://HOST:PORT (file stores and databases are for MLflow's Python client)"
        }
        return nil
    }
}
