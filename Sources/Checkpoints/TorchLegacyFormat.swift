// `torch.save`'s format before PyTorch 1.6 (torchvision's 2017 weight files, e.g. `densenet121-a639ec97.pth`):
// pickles and raw bytes back to back in one stream,
//   1. the magic number 0x1950a86a20f9469cfc6c (a pickled int)
//   2. the protocol version 1001
//   3. sys_info {'protocol_version', 'little_endian', 'type_sizes'}
//   4. the object pickle; each storage is a persistent id
//      ('storage', torch.<Type>Storage, root_key, location, numel, view_metadata), view_metadata being None or
//      (view_key, offset, size) for a view into the root storage (offset and size in elements)
//   5. a pickled list of the storage keys, in the order their bytes follow
//   6. per key: the element count (8 bytes, the writer's byte order), then count · element size bytes
// Reference: torch/serialization.py `_legacy_save` / `_legacy_load`.

enum TorchLegacyFormat {
    /// The pickled magic number: PROTO 2, LONG1 of 10 bytes.
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// Any pickle start (PROTO n): the legacy format, or a bare pickle that is not a checkpoint (an error later).
    static func matches(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x80 && (2...5).contains(bytes[1]) }

    static func read(_ bytes: [UInt8], path: String) throws -> TorchPickle {
        func corrupt(_ why: String) -> CheckpointError { .corrupt(path: path, format: .torchLegacy, reason: why) }
        do {
            var header = Unpickler(bytes)
            guard case .bigInt(let m) = try header.load(), m == magic else {
                throw corrupt("a pickle without torch's magic number: not a torch.save file")
            }
            var next = Unpickler(bytes, at: header.position)
            guard case .int(1001) = try next.load() else { throw corrupt("protocol version is not 1001") }
            var sys = Unpickler(bytes, at: next.position)
            guard case .dict(let info) = try sys.load() else { throw corrupt("sys_info is not a dict") }
            let bigEndian: Bool
            if case .bool(let little)? = info["little_endian"] { bigEndian = !little } else { bigEndian = false }

            var roots: [String: StorageRef] = [:]
            var objects = Unpickler(bytes, at: sys.position) { pid in
                let (root, view) = try storageRef(pid)
                roots[root.key] = root
                return .storage(view)
            }
            let root = try objects.load()
            var keyList = Unpickler(bytes, at: objects.position)
            guard let keys = try keyList.load().asTuple?.map(\.asString), !keys.contains(nil) else {
                throw corrupt("the storage key list is not a list of strings")
            }
            var reader = ByteReader(bytes, at: keyList.position)
            var storages: [String: [UInt8]] = [:]
            for case let key? in keys {
                guard let ref = roots[key] else { throw corrupt("storage '\(key)' is listed but no tensor uses it") }
                let raw = try reader.unsigned(8)
                let count = Int(clamping: bigEndian ? raw.byteSwapped : raw)
                guard count >= ref.count, count <= reader.remaining / ref.dtype.size else {
                    throw corrupt("storage '\(key)' of \(ref.count) values says \(count) and the file has \(reader.remaining) bytes left — truncated file?")
                }
                storages[key] = Array(try reader.take(count * ref.dtype.size))
            }
            for key in roots.keys where storages[key] == nil { throw corrupt("storage '\(key)' is used but its bytes are missing") }
            return TorchPickle(root: root, storages: storages, bigEndian: bigEndian)
        } catch let e as PickleError {
            throw CheckpointError.pickle(path: path, format: .torchLegacy, e)
        }
    }

    /// The root storage a persistent id names (to size its bytes) and the view the tensor uses.
    static func storageRef(_ pid: PickleValue) throws -> (root: StorageRef, view: StorageRef) {
        guard let t = pid.asTuple, let kind = t.first?.asString else { throw PickleError.malformed("a persistent id that is not a tuple") }
        if kind == "module" {
            throw PickleError.malformed("the file pickles a whole nn.Module (its source code); ablate loads only state_dicts — save `model.state_dict()` instead")
        }
        guard kind == "storage", t.count >= 6, case .global(.storageClass(let dtype, _)) = t[1], let key = t[2].asString,
              let count = t[4].asInt, count >= 0 else {
            throw PickleError.malformed("a persistent id that is not ('storage', type, key, location, numel, view)")
        }
        let root = StorageRef(key: key, dtype: dtype, count: count)
        guard let view = t[5].asTuple else { return (root, root) }
        guard view.count == 3, let offset = view[1].asInt, let size = view[2].asInt, offset >= 0, size >= 0, offset + size <= count else {
            throw PickleError.malformed("storage view \(view.count) of '\(key)' is outside its storage")
        }
        return (root, StorageRef(key: key, dtype: dtype, count: size, elementOffset: offset))
    }
}
