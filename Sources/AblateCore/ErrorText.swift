// Foundation's file errors print as `Error Domain=NSCocoaErrorDomain Code=… UserInfo={…}`: true, but not a message
// for a user. These turn them into "what failed, on which path, why" before they reach the terminal or the store.
import Foundation

public enum ErrorText {
    /// The error as a sentence: Foundation file errors as "<path>: <reason>", everything else as it describes itself.
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        return (path.map { "\($0): " } ?? "") + reason(ns)
    }

    /// The operating system's reason ("No space left on device") when there is one, else Foundation's sentence.
    public static func reason(_ error: Error) -> String {
        var ns = error as NSError
        while let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError { ns = underlying }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain, let known = cocoaReasons[ns.code] { return known }
        return ns.localizedDescription
    }

    /// Foundation's file error codes that come without an underlying system error.
    static let cocoaReasons: [Int: String] = [
        4: "no such file or folder", 260: "no such file or folder", 257: "permission denied",
        513: "permission denied", 512: "the file system refused the write", 640: "no space left on device",
        642: "the file system is read-only", 516: "a file of that name already exists",
    ]

    /// Why `path` cannot be created: the first existing part of it that is a file, or is not writable.
    public static func obstacle(creatingFolder path: String) -> String? {
        var existing = path
        while !FileManager.default.fileExists(atPath: existing) && existing != "/" {
            existing = (existing as NSString).deletingLastPathComponent
        }
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: existing, isDirectory: &isFolder)
        if !isFolder.boolValue { return "\(existing) is a file, not a folder" }
        if existing != path && access(existing, W_OK) != 0 { return "\(existing) is not writable" }
        return nil
    }
}
