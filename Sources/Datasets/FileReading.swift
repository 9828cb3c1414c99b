import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files larger than this are refused before reading (no image in an ImageFolder dataset is legitimately this big).
let maximumFileBytes = 1 << 30

/// Reads a whole file with POSIX calls so that the error names the real cause (permission, link loop, folder, …).
func readFileBytes(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw DatasetError.unreadableImage(path: path, reason: openFailureReason(errno)) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        throw DatasetError.unreadableImage(path: path, reason: "cannot inspect the file (\(errnoText(errno)))")
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
        throw DatasetError.unreadableImage(path: path, reason: "is not a regular file; remove it or replace it with an image")
    }
    let size = Int(info.st_size)
    guard size > 0 else {
        throw DatasetError.unreadableImage(path: path, reason: "is empty (0 bytes); re-copy or remove it")
    }
    guard size <= maximumFileBytes else {
        throw DatasetError.unreadableImage(path: path, reason: "is \(size >> 20) MiB, too large for an image file; remove it")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    try bytes.withUnsafeMutableBytes { buffer in
        while done < size {
            let n = read(fd, buffer.baseAddress! + done, size - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw DatasetError.unreadableImage(path: path, reason: n == 0 ? "file shrank while being read"
                                                   : "read failed (\(errnoText(errno)))")
            }
            done += n
        }
    }
    return bytes
}

func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A short, actionable reason for a failed open()/stat().
func openFailureReason(_ code: Int32) -> String {
    switch code {
    case EACCES, EPERM: return "permission denied; make the file readable (chmod a+r) or remove it"
    case ELOOP: return "symbolic link loop; fix or remove the link"
    case ENOENT: return "does not exist (broken symbolic link?); fix or remove it"
    case EISDIR: return "is a folder, not an image file"
    default: return "cannot be opened (\(errnoText(code)))"
    }
}
