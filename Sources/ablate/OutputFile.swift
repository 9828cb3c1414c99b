// Files a command writes where the user points it (`export -o`, `slurm`'s scripts).
import AblateCore
import Foundation

enum OutputFile {
    /// Writes `text` to `path`. A regular file is replaced atomically (a temporary file beside it, then a rename),
    /// so a reader never sees half of it; missing folders are created. A symbolic link is written through (its
    /// target is replaced, the link stays), and a device or pipe (a FIFO, `/dev/null`) is written to as it is:
    /// renaming a file over them would replace the device node or the pipe itself. A process's own descriptors
    /// (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`) are appended to, never replaced: under
    /// `ablate export -o /dev/stdout >> all.json` they lead to a file the shell opened for appending.
    static func write(_ text: String, to path: String) throws {
        let given = URL(fileURLWithPath: path).standardizedFileURL.path
        if ["/dev/stdout", "/dev/stderr"].contains(given) || given.hasPrefix("/dev/fd/") || given.hasPrefix("/proc/") {
            return try writeInPlace(text, to: given, flags: O_WRONLY | O_APPEND, shownAs: path)
        }
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var info = stat()
        if stat(target, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                throw CommandFailure("cannot write \(path): it is a folder; name a file (e.g. \(path)/runs.json)")
            case S_IFREG:
                break
            default:
                return try writeInPlace(text, to: target, flags: O_WRONLY, shownAs: path)
            }
        }
        let folder = (target as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw CommandFailure("cannot write \(path): "
                                     + (ErrorText.obstacle(creatingFolder: folder) ?? ErrorText.reason(error)))
            }
        }
        do { try text.write(toFile: target, atomically: true, encoding: .utf8) } catch {
            throw CommandFailure("cannot write \(path): " + ErrorText.reason(error))
        }
    }

    /// Opens `file` with `flags` and writes `text` into it, without creating or renaming anything.
    private static func writeInPlace(_ text: String, to file: String, flags: Int32, shownAs path: String) throws {
        let fd = open(file, flags)
        guard fd >= 0 else { throw CommandFailure("cannot write \(path): " + String(cString: strerror(errno))) }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do { try handle.write(contentsOf: Data(text.utf8)) } catch {
            throw CommandFailure("cannot write \(path): " + ErrorText.reason(error))
        }
    }
}
