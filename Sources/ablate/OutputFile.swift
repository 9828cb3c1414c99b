// Files a command writes where the user points it (`export -o`, `slurm`'s scripts).
import Foundation
import AblateCore

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
            let fd = open(given, O_WRONLY | O_APPEND)
            guard fd >= 0 else { throw CommandFailure("cannot write \(path): " + String(cString: strerror(errno))) }
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            do { try handle.write(contentsOf: Data(text.utf8)) } catch {
                throw CommandFailure("cannot write \(path): " + ErrorText.reason(error))
            }
            return
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
                guard let handle = FileHandle(forWritingAtPath: target) else {
                    throw CommandFailure("cannot write \(path): " + String(cString: strerror(errno)))
                }
                defer { try? handle.close() }
                do { try handle.write(contentsOf: Data(text.utf8)) } catch {
                    throw CommandFailure("cannot write \(path): " + ErrorText.reason(error))
                }
                return
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
}
