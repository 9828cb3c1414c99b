// A synthetic dataset folder appears whole or not at all. Images are generated into a hidden temporary folder next
// to the target, a manifest (generator settings and file counts) is written last, and the folder is renamed into
// place. Writers take a lock on the parent folder, so of several processes asked for the same missing folder one
// generates it and the others wait and reuse it. A folder carrying a manifest is checked against it before use:
// a folder that lost files, or was made with other settings, is refused instead of trained on.
import AblateCore
import Foundation

/// What a synthetic folder claims to hold (`.ablate-synthetic.json` inside it).
public struct SyntheticManifest: Codable, Equatable, Sendable {
    public static let fileName = ".ablate-synthetic.json"
    /// Names the image generator; a different generator would make different images from the same settings.
    public static let currentGenerator = "striped-ellipses-1"

    public var generator: String
    public var classes: Int
    public var perClass: Int
    public var size: Int
    public var seed: UInt64
    /// Image files per class folder, by folder name.
    public var files: [String: Int]

    enum CodingKeys: String, CodingKey {
        case generator, classes, perClass = "per_class", size, seed, files
    }

    var settings: String { "classes \(classes), per_class \(perClass), size \(size), seed \(seed)" }
}

extension SyntheticData {
    /// The folder `root` holding `classes` × `perClass` synthetic images: generated atomically when missing,
    /// verified against its manifest when present. `created` says whether this call generated it.
    /// A folder without a manifest is not ablate's and is returned as it is (the caller reads it as a dataset).
    public static func materialize(at path: String, classes: Int, perClass: Int, size: Int, seed: UInt64) throws
        -> (manifest: SyntheticManifest?, created: Bool) {
        // Absolute first: a bare name such as `ext` has no parent folder to create the temporary folder in.
        let root = URL(fileURLWithPath: path).standardizedFileURL.path
        let wanted = SyntheticManifest(generator: SyntheticManifest.currentGenerator, classes: classes,
                                       perClass: perClass, size: size, seed: seed, files: [:])
        if FileManager.default.fileExists(atPath: root) { return (try verify(root, wanted: wanted), false) }
        let parent = (root as NSString).deletingLastPathComponent
        let name = (root as NSString).lastPathComponent
        do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw DatasetError.invalidConfiguration("cannot create the folder \(parent) for synthetic data: "
                                                    + "\(ErrorText.reason(error))")
        }
        return try withLock(on: parent) {
            // Another process may have finished it while this one waited for the lock.
            if FileManager.default.fileExists(atPath: root) { return (try verify(root, wanted: wanted), false) }
            // Holding the lock, any temporary folder of this name was left by a writer that was killed.
            let prefix = ".\(name).synthesizing-"
            for leftover in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where leftover.hasPrefix(prefix) {
                try? FileManager.default.removeItem(atPath: parent + "/" + leftover)
            }
            let temporary = parent + "/" + prefix + "\(getpid())"
            do {
                let summary = try write(to: temporary, classes: classes, perClass: perClass, size: size, seed: seed)
                var manifest = wanted
                manifest.files = Dictionary(uniqueKeysWithValues: summary.classNames.map { ($0, perClass) })
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try AtomicWrite.data(try encoder.encode(manifest), to: temporary + "/" + SyntheticManifest.fileName)
                guard rename(temporary, root) == 0 else {
                    throw DatasetError.invalidConfiguration("cannot move the synthetic data from \(temporary) to "
                        + "\(root): \(String(cString: strerror(errno)))")
                }
                return (manifest, true)
            } catch {
                try? FileManager.default.removeItem(atPath: temporary)
                throw error
            }
        }
    }

    /// Checks a folder that exists against the settings asked for and, when it has a manifest, against it.
    static func verify(_ root: String, wanted: SyntheticManifest) throws -> SyntheticManifest? {
        let path = root + "/" + SyntheticManifest.fileName
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let redo = "delete \(root) to have it generated again, or point data.path elsewhere"
        guard let manifest = try? JSONDecoder().decode(SyntheticManifest.self, from: data) else {
            throw DatasetError.invalidConfiguration("\(path) is not a readable synthetic-data manifest; \(redo)")
        }
        guard manifest.generator == wanted.generator, manifest.classes == wanted.classes,
              manifest.perClass == wanted.perClass, manifest.size == wanted.size, manifest.seed == wanted.seed else {
            throw DatasetError.invalidConfiguration("\(root) was synthesised with \(manifest.settings) "
                + "(generator \(manifest.generator)), not the requested \(wanted.settings); \(redo)")
        }
        for (folder, expected) in manifest.files.sorted(by: { $0.key < $1.key }) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + folder)) ?? []
            let found = entries.filter { !$0.hasPrefix(".") }.count
            guard found == expected else {
                throw DatasetError.invalidConfiguration("\(root)/\(folder) holds \(found) of the \(expected) images "
                    + "its manifest (\(path)) lists: the synthetic data is incomplete or was changed; \(redo)")
            }
        }
        return manifest
    }

    /// Runs `body` holding an exclusive `flock` on `folder` (released by the kernel if the process dies).
    static func withLock<T>(on folder: String, _ body: () throws -> T) throws -> T {
        let fd = open(folder, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else {
            throw DatasetError.invalidConfiguration("cannot open \(folder) to lock it while writing synthetic data: "
                                                    + String(cString: strerror(errno)))
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw DatasetError.invalidConfiguration("cannot lock \(folder) while writing synthetic data: "
                                                        + String(cString: strerror(errno)))
            }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

/// Small whole-file writes through a temporary file in the same folder and a rename.
enum AtomicWrite {
    static func data(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw DatasetError.invalidConfiguration("cannot write \(temporary); check the folder's permissions")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw DatasetError.invalidConfiguration("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
