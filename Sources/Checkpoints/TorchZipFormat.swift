// `torch.save`'s zip format (PyTorch ≥ 1.6, `_use_new_zipfile_serialization`): one folder `<name>/` holding
//   data.pkl          the object pickle; each storage is a persistent id
//                     ('storage', torch.<Type>Storage, key, location, numel)
//   data/<key>        that storage's raw bytes (numel · element size), stored uncompressed
//   byteorder         "little" or "big" (absent in files from before 1.10: little)
//   version, .format_version, .storage_alignment, .data/serialization_id   (not needed to read)
import Foundation
import ZIPFoundation

enum TorchZipFormat {
    /// Zip archives start with a local file header ("PK\3\4").
    static func matches(_ bytes: [UInt8]) -> Bool { bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) }

    static func read(_ data: Data, path: String) throws -> TorchPickle {
        func corrupt(_ why: String) -> CheckpointError { .corrupt(path: path, format: .torchZip, reason: why) }
        let archive: Archive
        do { archive = try Archive(data: data, accessMode: .read) } catch Archive.ArchiveError.missingEndOfCentralDirectoryRecord {
            throw corrupt("the zip directory at the end of the file is missing — truncated file?")
        } catch {
            throw corrupt("not a readable zip archive (\(error)) — truncated or damaged file?")
        }
        // The folder's name is the file's stem when saved, so find data.pkl one level down.
        let entries = Array(archive)
        guard let pickleEntry = entries.first(where: { $0.path.hasSuffix("/data.pkl") && $0.path.split(separator: "/").count == 2 }) else {
            throw corrupt("a zip archive without <name>/data.pkl: not a torch.save file")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        func contents(_ entry: Entry) throws -> [UInt8] {
            var out = [UInt8]()
            out.reserveCapacity(Int(clamping: entry.uncompressedSize))
            let crc: CRC32
            do { crc = try archive.extract(entry, consumer: { out.append(contentsOf: $0) }) } catch {
                throw corrupt("entry '\(entry.path)' cannot be read (\(error)) — truncated or damaged file?")
            }
            // `extract` with a consumer returns the checksum without comparing it.
            guard crc == entry.checksum else { throw corrupt("entry '\(entry.path)' fails its CRC-32 check — damaged file?") }
            return out
        }
        var bigEndian = false
        if let order = archive[prefix + "byteorder"] {
            let text = String(decoding: try contents(order), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text == "little" || text == "big" else { throw corrupt("byteorder record says '\(text)'") }
            bigEndian = text == "big"
        }
        let pickle = try contents(pickleEntry)
        var storages: [String: StorageRef] = [:]
        var unpickler = Unpickler(pickle) { pid in
            let ref = try storageRef(pid)
            storages[ref.key] = ref
            return .storage(ref)
        }
        let root: PickleValue
        do { root = try unpickler.load() } catch let e as PickleError {
            throw CheckpointError.pickle(path: path, format: .torchZip, e)
        }
        var bytes: [String: [UInt8]] = [:]
        for (key, ref) in storages {
            guard let entry = archive[prefix + "data/" + key] else { throw corrupt("storage '\(key)' has no entry data/\(key)") }
            let b = try contents(entry)
            guard b.count >= ref.count * ref.dtype.size else {
                throw corrupt("storage '\(key)' holds \(b.count) bytes, \(ref.count) \(ref.dtype.rawValue) values need \(ref.count * ref.dtype.size)")
            }
            bytes[key] = b
        }
        return TorchPickle(root: root, storages: bytes, bigEndian: bigEndian)
    }

    /// ('storage', torch.<Type>Storage, key, location, numel) → the storage it names.
    static func storageRef(_ pid: PickleValue) throws -> StorageRef {
        guard let t = pid.asTuple, t.count >= 5, t[0].asString == "storage", case .global(.storageClass(let dtype, _)) = t[1],
              let key = t[2].asString, let count = t[4].asInt, count >= 0 else {
            throw PickleError.malformed("a persistent id that is not ('storage', type, key, location, numel)")
        }
        return StorageRef(key: key, dtype: dtype, count: count)
    }
}

/// A torch file's object pickle with the bytes of every storage it names, by key.
struct TorchPickle {
    let root: PickleValue
    let storages: [String: [UInt8]]
    let bigEndian: Bool
}
