/// Errors the report throws on input it cannot use; the message says what to fix.
public enum ReportError: Error, Equatable, CustomStringConvertible {
    case insufficientData(what: String, needed: Int, got: Int)
    case lengthMismatch(what: String, left: Int, right: Int)
    case invalidValue(what: String, value: String)
    case classOutOfRange(what: String, index: Int, classCount: Int)
    case tableShape(expectedCells: Int, got: Int)
    case cairo(operation: String, status: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .insufficientData(what, needed, got):
            return "\(what): needs at least \(needed) values, got \(got)"
        case let .lengthMismatch(what, left, right):
            return "\(what): lengths differ (\(left) vs \(right))"
        case let .invalidValue(what, value):
            return "\(what): invalid value \(value)"
        case let .classOutOfRange(what, index, classCount):
            return "\(what): class index \(index) outside 0..<\(classCount)"
        case let .tableShape(expectedCells, got):
            return "markdown table: row has \(got) cells, header has \(expectedCells)"
        case let .cairo(operation, status):
            return "cairo \(operation) failed: \(status)"
        case let .io(path, reason):
            return "\(path): \(reason)"
        }
    }
}
