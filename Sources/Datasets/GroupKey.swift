import Foundation

/// How to derive a group key from a file name: files with the same key are copies of one original and must stay
/// on the same side of a split. `pattern` is a regular expression matched against the file name without its
/// extension; the key is the first capture group (or the whole match). Names that do not match are their own group.
public struct GroupKeyRule: Codable, Equatable, Hashable, Sendable {
    public var name: String
    public var pattern: String

    public init(name: String, pattern: String) {
        self.name = name
        self.pattern = pattern
    }

    /// One original photograph: `M01_02_07.jpg` → `M01_02` (the name without its last `_NN`).
    public static let photo = GroupKeyRule(name: "photo", pattern: "^(.+)_[^_]+$")
    /// One patient: `M01_02_07.jpg` → `M01` (the part before the first `_`).
    public static let patient = GroupKeyRule(name: "patient", pattern: "^([^_]+)_")

    /// `photo`, `patient`, or any other text as a regular expression (named `custom`).
    public static func named(_ text: String) throws -> GroupKeyRule {
        switch text {
        case "photo": return .photo
        case "patient": return .patient
        default:
            let rule = GroupKeyRule(name: "custom", pattern: text)
            _ = try rule.matcher()
            return rule
        }
    }

    /// A compiled form; throws `invalidConfiguration` for a bad expression.
    public func matcher() throws -> GroupKeyMatcher { try GroupKeyMatcher(rule: self) }
}

/// A compiled `GroupKeyRule`.
public struct GroupKeyMatcher: @unchecked Sendable {  // NSRegularExpression is immutable and thread-safe
    public let rule: GroupKeyRule
    private let expression: NSRegularExpression

    init(rule: GroupKeyRule) throws {
        self.rule = rule
        do { expression = try NSRegularExpression(pattern: rule.pattern) } catch {
            throw DatasetError.invalidConfiguration(
                "group key pattern '\(rule.pattern)' is not a valid regular expression; use 'photo', 'patient' "
                + "or a regular expression whose first capture group is the key")
        }
    }

    /// The group key of a file name such as `M01_02_07.jpg`; a name the pattern does not match is its own group.
    public func key(forFileName fileName: String) -> String {
        matchedKey(forFileName: fileName) ?? (fileName as NSString).deletingPathExtension
    }

    /// The group key when the pattern matches the name, else nil (the name does not follow the naming scheme).
    public func matchedKey(forFileName fileName: String) -> String? {
        let stem = (fileName as NSString).deletingPathExtension
        let whole = NSRange(stem.startIndex..., in: stem)
        guard let match = expression.firstMatch(in: stem, range: whole) else { return nil }
        let range = match.numberOfRanges > 1 && match.range(at: 1).location != NSNotFound ? match.range(at: 1) : match.range
        return Range(range, in: stem).map { String(stem[$0]) } ?? stem
    }
}
