import Foundation

/// Everything that can go wrong while reading a dataset. Each message names the file or folder and says what to do.
public enum DatasetError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case pathNotFound(String)
    case notADirectory(String)
    case noClassFolders(root: String, looseImages: Int)
    case emptyClassFolder(String)
    case tooFewClasses(root: String, nonEmpty: [String])
    case missingSplitFolder(root: String, name: String)
    case classMismatch(root: String, train: [String], other: String, otherClasses: [String])
    /// One image file that cannot be used; `reason` says why.
    case unreadableImage(path: String, reason: String)
    /// Strict mode: at least one image could not be used.
    case brokenImages([SkippedFile])
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .pathNotFound(let path):
            return "\(path) does not exist; give the path of a folder with one subfolder per class."
        case .notADirectory(let path):
            return "\(path) is not a folder; give the path of a folder with one subfolder per class."
        case .noClassFolders(let root, let loose):
            let hint = loose > 0 ? " It holds \(loose) image file(s) directly: move them into one subfolder per class." : ""
            return "\(root) has no class folders (expected one subfolder per class, e.g. \(root)/cats/*.jpg).\(hint)"
        case .emptyClassFolder(let path):
            return "class folder \(path) has no .jpg/.jpeg/.png images; add images or remove the folder."
        case .tooFewClasses(let root, let nonEmpty):
            let found = nonEmpty.isEmpty ? "none" : nonEmpty.joined(separator: ", ")
            return "\(root) needs at least two classes with usable images to train a classifier (found: \(found)); "
                + "add a subfolder with images for each class."
        case .missingSplitFolder(let root, let name):
            return "\(root) has no \(name)/ subfolder; the 'folders' split needs \(root)/train/<class>/ and "
                + "\(root)/test/<class>/ (optionally val/); use another split strategy for a plain class-folder dataset."
        case .classMismatch(let root, let train, let other, let otherClasses):
            return "\(root)/\(other) has classes [\(otherClasses.joined(separator: ", "))] but \(root)/train has "
                + "[\(train.joined(separator: ", "))]; every split folder must hold the same class folders."
        case .unreadableImage(let path, let reason):
            return "\(path): \(reason)"
        case .brokenImages(let files):
            let list = files.prefix(20).map { "  \($0.path): \($0.reason)" }.joined(separator: "\n")
            let more = files.count > 20 ? "\n  … and \(files.count - 20) more" : ""
            return "\(files.count) image file(s) cannot be used (strict mode); fix or remove them, or run without "
                + "strict mode to skip them:\n\(list)\(more)"
        case .invalidConfiguration(let message):
            return message
        }
    }

    public var errorDescription: String? { description }
}

/// A file that was left out, and why (kept for the run record).
public struct SkippedFile: Codable, Equatable, Hashable, Sendable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

extension SkippedFile {
    /// The record of a file that failed with `error` (a `DatasetError.unreadableImage` keeps its own path and reason).
    init(path: String, error: Error) {
        if case let DatasetError.unreadableImage(failedPath, reason) = error {
            self.init(path: failedPath, reason: reason)
        } else {
            self.init(path: path, reason: "\(error)")
        }
    }
}
