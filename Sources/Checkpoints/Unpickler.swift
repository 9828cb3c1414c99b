// A restricted unpickler: the opcodes of pickle protocols 0–5 that a state_dict needs, run as a stack machine
// that only builds `PickleValue`s. Globals resolve through `AllowedGlobal` (anything else is an error naming
// it); persistent ids (torch's storages) go to the format's `persistentLoad`. Opcodes that construct arbitrary
// objects (INST, OBJ, NEWOBJ, NEWOBJ_EX), the extension registry (EXT1/2/4) and out-of-band buffers are refused.
//
// Opcode reference: CPython's Lib/pickletools.py.
import Foundation

struct Unpickler {
    private var reader: ByteReader
    private var stack: [PickleValue] = []
    /// Stack heights at each MARK.
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private let persistentLoad: (PickleValue) throws -> PickleValue

    /// A pickle starting at `position` of `bytes`; `persistentLoad` answers PERSID/BINPERSID (an error when nil).
    init(_ bytes: [UInt8], at position: Int = 0, persistentLoad: ((PickleValue) throws -> PickleValue)? = nil) {
        reader = ByteReader(bytes, at: position)
        self.persistentLoad = persistentLoad ?? { _ in throw PickleError.malformed("a persistent id outside a torch file") }
    }

    /// Where the pickle ended (after STOP): the legacy format puts the next pickle or the storages there.
    var position: Int { reader.position }

    /// Runs the pickle to its STOP and returns its value.
    mutating func load() throws -> PickleValue {
        while true {
            let at = reader.position
            let op = try reader.byte()
            if op == 0x2E { // STOP
                guard let top = stack.popLast() else { throw PickleError.malformed("STOP on an empty stack") }
                return top
            }
            try step(op, at: at)
        }
    }

    // MARK: stack

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw PickleError.malformed("pop from an empty stack") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw PickleError.malformed("no MARK") }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }

    private mutating func top() throws -> PickleValue {
        guard let v = stack.last else { throw PickleError.malformed("empty stack") }
        return v
    }

    private mutating func memoGet(_ i: Int) throws -> PickleValue {
        guard let v = memo[i] else { throw PickleError.malformed("memo \(i) used before it is set") }
        return v
    }

    private mutating func setItems(_ items: [PickleValue]) throws {
        guard items.count % 2 == 0, case .dict(let d) = try top() else { throw PickleError.malformed("SETITEMS on a non-dict") }
        for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
    }

    private mutating func append(_ items: [PickleValue]) throws {
        guard case .list(let l) = try top() else { throw PickleError.malformed("APPENDS on a non-list") }
        l.items += items
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        guard let g = AllowedGlobal(module: module, name: name) else {
            if module.hasPrefix("torch"), name.hasSuffix("Storage") { throw PickleError.unsupportedStorage("\(module).\(name)") }
            throw PickleError.forbiddenGlobal("\(module).\(name)")
        }
        return .global(g)
    }

    // MARK: opcodes

    private mutating func step(_ op: UInt8, at: Int) throws {
        switch op {
        case 0x80: _ = try reader.byte()                                   // PROTO n
        case 0x95: _ = try reader.take(8)                                  // FRAME: framing only
        case 0x28: marks.append(stack.count)                               // MARK
        case 0x30: _ = try pop()                                           // POP
        case 0x31: _ = try popMark()                                       // POP_MARK
        case 0x32: stack.append(try top())                                 // DUP
        case 0x4E: stack.append(.none)                                     // NONE
        case 0x88: stack.append(.bool(true))                               // NEWTRUE
        case 0x89: stack.append(.bool(false))                              // NEWFALSE
        case 0x4A: stack.append(.int(Int64(Int32(truncatingIfNeeded: try reader.unsigned(4)))))  // BININT
        case 0x4B: stack.append(.int(Int64(try reader.unsigned(1))))       // BININT1
        case 0x4D: stack.append(.int(Int64(try reader.unsigned(2))))       // BININT2
        case 0x8A: stack.append(Self.long(try reader.take(try reader.length(1))))  // LONG1
        case 0x8B: stack.append(Self.long(try reader.take(try reader.length(4))))  // LONG4
        case 0x47: stack.append(.float(Double(bitPattern: try reader.take(8).reduce(0) { $0 << 8 | UInt64($1) })))  // BINFLOAT (big-endian)
        case 0x49, 0x4C, 0x46: stack.append(try Self.text(op, try reader.line()))  // INT, LONG, FLOAT (protocol 0)
        case 0x58: stack.append(.string(try reader.take(try reader.length(4)).text))  // BINUNICODE
        case 0x8C: stack.append(.string(try reader.take(try reader.length(1)).text))  // SHORT_BINUNICODE
        case 0x8D: stack.append(.string(try reader.take(try reader.length(8)).text))  // BINUNICODE8
        case 0x56: stack.append(.string(Self.rawUnicodeEscape(try reader.line().text)))  // UNICODE (protocol 0)
        case 0x54: stack.append(.string(try reader.take(try reader.length(4)).text))  // BINSTRING (Python 2 str)
        case 0x55: stack.append(.string(try reader.take(try reader.length(1)).text))  // SHORT_BINSTRING
        case 0x53: stack.append(.string(Self.quoted(try reader.line().text)))          // STRING (protocol 0)
        case 0x42: stack.append(.bytes(Array(try reader.take(try reader.length(4)))))  // BINBYTES
        case 0x43: stack.append(.bytes(Array(try reader.take(try reader.length(1)))))  // SHORT_BINBYTES
        case 0x8E: stack.append(.bytes(Array(try reader.take(try reader.length(8)))))  // BINBYTES8
        case 0x29: stack.append(.tuple([]))                                // EMPTY_TUPLE
        case 0x74: stack.append(.tuple(try popMark()))                     // TUPLE
        case 0x85, 0x86, 0x87:                                             // TUPLE1/2/3
            let n = Int(op - 0x84)
            guard stack.count >= n else { throw PickleError.malformed("TUPLE\(n) on a short stack") }
            let items = Array(stack.suffix(n)); stack.removeLast(n); stack.append(.tuple(items))
        case 0x5D: stack.append(.list(PickleList()))                       // EMPTY_LIST
        case 0x6C: stack.append(.list(PickleList(try popMark())))          // LIST
        case 0x61: try append([try pop()])                                 // APPEND
        case 0x65: try append(try popMark())                               // APPENDS
        case 0x7D: stack.append(.dict(PickleDict()))                       // EMPTY_DICT
        case 0x64:                                                         // DICT
            let items = try popMark()
            stack.append(.dict(PickleDict()))
            try setItems(items)
        case 0x73: let v = try pop(), k = try pop(); try setItems([k, v])  // SETITEM
        case 0x75: try setItems(try popMark())                             // SETITEMS
        case 0x8F: stack.append(.list(PickleList()))                       // EMPTY_SET
        case 0x90: try append(try popMark())                               // ADDITEMS
        case 0x91: stack.append(.list(PickleList(try popMark())))          // FROZENSET
        case 0x70: memo[try Self.decimal(try reader.line())] = try top()   // PUT
        case 0x71: memo[Int(try reader.unsigned(1))] = try top()           // BINPUT
        case 0x72: memo[Int(try reader.unsigned(4))] = try top()           // LONG_BINPUT
        case 0x94: memo[memo.count] = try top()                            // MEMOIZE
        case 0x67: stack.append(try memoGet(try Self.decimal(try reader.line())))  // GET
        case 0x68: stack.append(try memoGet(Int(try reader.unsigned(1))))  // BINGET
        case 0x6A: stack.append(try memoGet(Int(try reader.unsigned(4))))  // LONG_BINGET
        case 0x63:                                                         // GLOBAL module\nname\n
            let module = try reader.line().text, name = try reader.line().text
            stack.append(try global(module, name))
        case 0x93:                                                         // STACK_GLOBAL
            guard let name = try pop().asString, let module = try pop().asString else {
                throw PickleError.malformed("STACK_GLOBAL without two strings")
            }
            stack.append(try global(module, name))
        case 0x69:                                                         // INST: a class named inline
            let module = try reader.line().text, name = try reader.line().text
            throw PickleError.forbiddenGlobal("\(module).\(name)")
        case 0x52:                                                         // REDUCE
            let args = try pop(), callable = try pop()
            guard case .global(let g) = callable, let a = args.asTuple else {
                throw PickleError.malformed("REDUCE of \(callable.typeName) with \(args.typeName)")
            }
            stack.append(try g.apply(a))
        case 0x62: _ = try pop(); _ = try top()                            // BUILD: attributes (OrderedDict's _metadata) are not kept
        case 0x51: stack.append(try persistentLoad(try pop()))             // BINPERSID
        case 0x50: stack.append(try persistentLoad(.string(try reader.line().text)))  // PERSID
        default: throw PickleError.unsupportedOpcode(op, at: at)
        }
    }

    // MARK: argument decoding

    /// LONG1/LONG4's little-endian two's complement: an Int64 when it fits, else the bytes.
    static func long(_ bytes: ArraySlice<UInt8>) -> PickleValue {
        guard bytes.count <= 8 else { return .bigInt(Array(bytes)) }
        guard let last = bytes.last else { return .int(0) }
        var v = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if last & 0x80 != 0 && bytes.count < 8 { v |= ~UInt64(0) << (8 * UInt64(bytes.count)) } // sign-extend
        return .int(Int64(bitPattern: v))
    }

    /// Protocol 0's INT ("I01" is True, "I00" False), LONG ("L12L") and FLOAT text.
    static func text(_ op: UInt8, _ line: ArraySlice<UInt8>) throws -> PickleValue {
        let s = line.text
        if op == 0x46 {
            guard let d = Double(s) else { throw PickleError.malformed("FLOAT '\(s)'") }
            return .float(d)
        }
        if op == 0x49 && s == "01" { return .bool(true) }
        if op == 0x49 && s == "00" { return .bool(false) }
        guard let v = Int64(s.hasSuffix("L") ? String(s.dropLast()) : s) else { throw PickleError.malformed("integer '\(s)'") }
        return .int(v)
    }

    static func decimal(_ line: ArraySlice<UInt8>) throws -> Int {
        guard let v = Int(line.text) else { throw PickleError.malformed("memo index '\(line.text)'") }
        return v
    }

    /// Protocol 0's STRING argument: a Python literal in quotes (escapes other than quotes are left as they are).
    static func quoted(_ s: String) -> String {
        guard s.count >= 2, let q = s.first, q == s.last, q == "'" || q == "\"" else { return s }
        return String(s.dropFirst().dropLast()).replacingOccurrences(of: "\\\(q)", with: String(q))
    }

    /// Protocol 0's UNICODE argument: `\uXXXX` and `\UXXXXXXXX` escapes (raw-unicode-escape).
    static func rawUnicodeEscape(_ s: String) -> String {
        var out = "", scalars = Array(s.unicodeScalars), i = 0
        while i < scalars.count {
            if scalars[i] == "\\", i + 1 < scalars.count, scalars[i + 1] == "u" || scalars[i + 1] == "U" {
                let n = scalars[i + 1] == "u" ? 4 : 8
                if i + 2 + n <= scalars.count, let v = UInt32(String(String.UnicodeScalarView(scalars[(i + 2)..<(i + 2 + n)])), radix: 16),
                   let u = Unicode.Scalar(v) {
                    out.unicodeScalars.append(u); i += 2 + n; continue
                }
            }
            out.unicodeScalars.append(scalars[i]); i += 1
        }
        return out
    }
}
