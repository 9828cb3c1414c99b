import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which part of a pre-split dataset (`train/`, `test/`, `val/`) a file came from.
public enum Partition: String, Codable, Sendable, CaseIterable {
    case train, test, val
}

/// One image file of the dataset.
public struct ImageFile: Codable, Equatable, Hashable, Sendable {
    /// Full path, as found under the root (symbolic links not resolved).
    public let path: String
    /// Index into the dataset's sorted class names.
    public let label: Int
    /// Set for the `folders` layout only.
    public let partition: Partition?

    public init(path: String, label: Int, partition: Partition? = nil) {
        self.path = path
        self.label = label
        self.partition = partition
    }

    /// The last path component, e.g. `M01_02_07.jpg`.
    public var fileName: String { (path as NSString).lastPathComponent }
}

/// How the images are arranged on disk.
public enum FolderLayout: String, Codable, Sendable {
    /// `root/<class>/…/*.jpg`
    case classFolders
    /// `root/train/<class>/…`, `root/test/<class>/…`, optionally `root/val/<class>/…`
    case splitFolders
}

/// The files of an ImageFolder dataset, found without decoding anything.
public struct ImageFolderIndex: Sendable {
    public let root: String
    public let layout: FolderLayout
    /// Sorted class folder names; a file's `label` indexes this.
    public let classNames: [String]
    /// Sorted by partition, class, then path.
    public let files: [ImageFile]
    /// Entries with an image extension that cannot be used (broken links, link loops, not regular files).
    public let skipped: [SkippedFile]
    /// Non-hidden files without an image extension (ignored, counted for the record).
    public let ignoredFileCount: Int

    /// Files per class, in `classNames` order.
    public var countsPerClass: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for file in files { counts[file.label] += 1 }
        return counts
    }
}

public enum ImageFolder {
    /// File name extensions read as images, compared case-insensitively.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Lists the dataset under `root`. Classes are the sorted names of the non-hidden subfolders; class folders are
    /// searched recursively (following links, each folder once); hidden files and folders are skipped.
    /// Throws when the root is missing, has no class folders, a class folder is empty, or it has fewer than
    /// `minimumClasses` classes (two to train a classifier; one for a test folder checked against a run's classes).
    public static func scan(_ root: String, layout: FolderLayout = .classFolders,
                            minimumClasses: Int = 2) throws -> ImageFolderIndex {
        let root = (root as NSString).standardizingPath
        try requireDirectory(root)
        switch layout {
        case .classFolders:
            let part = try scanClasses(root, partition: nil, minimumClasses: minimumClasses)
            return ImageFolderIndex(root: root, layout: layout, classNames: part.classNames, files: part.files,
                                    skipped: part.skipped, ignoredFileCount: part.ignored)
        case .splitFolders:
            var files: [ImageFile] = [], skipped: [SkippedFile] = [], ignored = 0
            var classNames: [String] = []
            for partition in Partition.allCases {
                let folder = root + "/" + partition.rawValue
                guard isDirectory(folder) else {
                    if partition == .val { continue }
                    throw DatasetError.missingSplitFolder(root: root, name: partition.rawValue)
                }
                let part = try scanClasses(folder, partition: partition, minimumClasses: minimumClasses)
                if partition == .train {
                    classNames = part.classNames
                } else if part.classNames != classNames {
                    throw DatasetError.classMismatch(root: root, train: classNames, other: partition.rawValue,
                                                     otherClasses: part.classNames)
                }
                files += part.files; skipped += part.skipped; ignored += part.ignored
            }
            return ImageFolderIndex(root: root, layout: layout, classNames: classNames, files: files,
                                    skipped: skipped, ignoredFileCount: ignored)
        }
    }

    public static func hasImageExtension(_ name: String) -> Bool {
        imageExtensions.contains((name as NSString).pathExtension.lowercased())
    }

    // MARK: private

    private struct ScannedPart {
        var classNames: [String] = [], files: [ImageFile] = [], skipped: [SkippedFile] = [], ignored = 0
    }

    private static func scanClasses(_ root: String, partition: Partition?, minimumClasses: Int) throws -> ScannedPart {
        var part = ScannedPart()
        var looseImages = 0
        for name in try listFolder(root) {
            let path = root + "/" + name
            if isDirectory(path) { part.classNames.append(name) } else if hasImageExtension(name) { looseImages += 1 }
        }
        guard !part.classNames.isEmpty else { throw DatasetError.noClassFolders(root: root, looseImages: looseImages) }
        for (label, name) in part.classNames.enumerated() {
            let classFolder = root + "/" + name
            var visited = Set<FileIdentity>()
            let before = part.files.count
            walk(classFolder, label: label, partition: partition, visited: &visited, into: &part)
            if part.files.count == before { throw DatasetError.emptyClassFolder(classFolder) }
        }
        if part.classNames.count < minimumClasses {
            throw DatasetError.tooFewClasses(root: root, nonEmpty: part.classNames)
        }
        return part
    }

    private struct FileIdentity: Hashable { let device: UInt64, inode: UInt64 }

    /// Adds the images under `folder` (recursively) to `part`; problems become `skipped` entries, never errors.
    private static func walk(_ folder: String, label: Int, partition: Partition?, visited: inout Set<FileIdentity>,
                             into part: inout ScannedPart) {
        var info = stat()
        guard stat(folder, &info) == 0 else {
            part.skipped.append(SkippedFile(path: folder, reason: openFailureReason(errno))); return
        }
        guard visited.insert(FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))).inserted else {
            part.skipped.append(SkippedFile(path: folder, reason: "folder link loop (folder already read); remove the link"))
            return
        }
        let names: [String]
        do { names = try listFolder(folder) } catch {
            part.skipped.append(SkippedFile(path: folder, reason: "cannot list the folder; make it readable")); return
        }
        for shown in namesNotUTF8(in: folder) {
            part.skipped.append(SkippedFile(path: folder + "/" + shown, reason: "its name is not valid UTF-8, so it "
                + "cannot be opened by name; rename it (e.g. `convmv -f latin1 -t utf8 --notest FILE`)"))
        }
        for name in names where !name.unicodeScalars.contains("\u{FFFD}") || FileManager.default.fileExists(atPath: folder + "/" + name) {
            let path = folder + "/" + name
            var entry = stat()
            if stat(path, &entry) != 0 {
                // Dangling links and link loops: report those that look like images or could be folders.
                let reason = openFailureReason(errno)
                if hasImageExtension(name) || (name as NSString).pathExtension.isEmpty {
                    part.skipped.append(SkippedFile(path: path, reason: reason))
                } else { part.ignored += 1 }
                continue
            }
            let kind = entry.st_mode & S_IFMT
            if kind == S_IFDIR {
                walk(path, label: label, partition: partition, visited: &visited, into: &part)
            } else if !hasImageExtension(name) {
                part.ignored += 1
            } else if kind == S_IFREG {
                part.files.append(ImageFile(path: path, label: label, partition: partition))
            } else {
                part.skipped.append(SkippedFile(path: path, reason: "is not a regular file; remove it"))
            }
        }
    }

    /// Non-hidden entries, sorted by name (byte order, so the class order does not depend on the locale).
    private static func listFolder(_ folder: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw DatasetError.unreadableImage(path: folder, reason: "cannot list the folder; make it readable")
        }
        return names.filter { !$0.hasPrefix(".") }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Entries of `folder` whose names are not valid UTF-8, shown with the bad bytes as \xNN. Foundation lists
    /// them with U+FFFD in place of those bytes, a name no file has: they are reported here instead of as missing.
    static func namesNotUTF8(in folder: String) -> [String] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var shown: [String] = []
        while let entry = readdir(dir) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if bytes.first == UInt8(ascii: ".") || String(validating: bytes, as: UTF8.self) != nil { continue }
            var text = ""
            var rest = bytes[...]
            while !rest.isEmpty {
                // The longest valid prefix as text, then one bad byte as \xNN.
                var end = rest.endIndex
                while end > rest.startIndex && String(validating: rest[rest.startIndex..<end], as: UTF8.self) == nil { end -= 1 }
                text += String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
                if end < rest.endIndex { text += String(format: "\\x%02X", rest[end]); rest = rest[(end + 1)...] } else { rest = [] }
            }
            shown.append(text)
        }
        return shown.sorted()
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func requireDirectory(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw DatasetError.pathNotFound(path) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw DatasetError.notADirectory(path) }
    }
}
