// One declaration per setting of the experiment file. A section type (`OptimizerSection`, `DataSection`, …) lists
// its settings once, in `settings`: the key, the Swift property, what values it takes, its default, when it
// applies, an example and what it means. Everything else is derived from that list:
//   - the canonical JSON a config hash is computed from (`jsonValue`) and decoding it back (`init(json:)`);
//   - the keys a section allows (`keys`), and reading and validating the YAML (ExperimentFile's reader, which adds
//     the rules that involve several settings);
//   - the reference table of docs/experiment-file.md (ExperimentFile's `ExperimentSchema`).

/// A value a setting can hold, with its canonical JSON form.
public protocol SettingValue {
    var jsonValue: JSONValue { get }
    init(json: JSONValue) throws
}

/// A section of the experiment file (and of a run's canonical configuration).
public protocol SettingsSection: SettingValue, Equatable, Sendable {
    /// The blank section that reading and decoding fill in. Its values mean nothing: defaults are the settings'.
    init()
    /// Every setting of the section, in the order the file reference and messages list them.
    static var settings: [Setting<Self>] { get }
    /// The settings' descriptions (what code that does not know the section's type reads).
    static var infos: [SettingInfo] { get }
    /// The keys the section allows in the file, in reference order.
    static var keys: [String] { get }
}

extension SettingsSection {
    /// Object of every setting that has a value (unset optional settings are left out, so adding a setting never
    /// changes the hash of configurations that do not use it).
    public var jsonValue: JSONValue {
        var object: [String: JSONValue] = [:]
        for s in Self.settings { if let v = s.get(self) { object[s.key] = v } }
        return .object(object)
    }

    /// Decodes `jsonValue`'s form (unknown keys are ignored).
    public init(json: JSONValue) throws {
        guard case let .object(object) = json else { throw SettingError.wrongType(key: "", expected: "an object") }
        self.init()
        for s in Self.settings {
            do {
                if let v = object[s.key], v != .null {
                    try s.set(&self, v)
                } else if let clear = s.clear {
                    clear(&self)
                } else {
                    throw SettingError.missing(key: s.key)
                }
            } catch let e as SettingError {
                throw e.inside(s.key)
            }
        }
    }

    public static var infos: [SettingInfo] { settings.map(\.info) }

    public static var keys: [String] { settings.filter(\.info.inFile).map(\.key) }

    /// The setting named `key` (a programming error if there is none).
    public static func setting(_ key: String) -> Setting<Self> {
        guard let s = settings.first(where: { $0.key == key }) else { preconditionFailure("\(Self.self) has no setting \(key)") }
        return s
    }
}

/// Why a stored configuration cannot be decoded.
public enum SettingError: Error, Equatable, CustomStringConvertible {
    case missing(key: String)
    case wrongType(key: String, expected: String)
    case unknownValue(key: String, value: String)

    func inside(_ parent: String) -> SettingError {
        func join(_ k: String) -> String { k.isEmpty ? parent : "\(parent).\(k)" }
        switch self {
        case .missing(let k): return .missing(key: join(k))
        case let .wrongType(k, e): return .wrongType(key: join(k), expected: e)
        case let .unknownValue(k, v): return .unknownValue(key: join(k), value: v)
        }
    }

    public var description: String {
        switch self {
        case .missing(let k): return "stored configuration: \(k) is missing"
        case let .wrongType(k, e): return "stored configuration: \(k) is not \(e)"
        case let .unknownValue(k, v): return "stored configuration: \(k) has the unknown value \(v)"
        }
    }
}

// MARK: - what a setting is

/// What values a setting takes. ExperimentFile reads and validates by it; the reference describes it.
public enum SettingKind: Sendable {
    /// A whole number in [min, max]; `why` is added to an out-of-range message.
    case integer(min: Int? = nil, max: Int? = nil, why: String = "")
    case number(NumberRange)
    case flag
    case text
    /// One of these words (case-insensitive in the file).
    case choice([String])
    /// A list of exactly `count` numbers, each in the range.
    case numbers(count: Int, NumberRange)
    /// A non-empty list of whole numbers, each at least `min`.
    case integers(min: Int)
    /// A list of words (possibly empty), e.g. state_dict prefixes.
    case texts
    /// A nested section. `shorthand`: a single value stands for this key of it (`model: densenet121` is
    /// `model: {name: densenet121}`); `switchable`: `true` means the section with its defaults, `false` none.
    case section(any SettingsSection.Type, shorthand: String? = nil, switchable: Bool = false)
    /// `photo`, `patient` or `{regex: '…'}` (`GroupKey`).
    case groupKey
    /// A model name of ModelSpec's grammar (read by ExperimentFile's model reader).
    case modelName
    /// Free-form text with a grammar of its own, described in words (the experiment's `target`, `matrix`).
    case special(String)

    /// The words for a `CaseIterable` enum's raw values.
    public static func choice<E: CaseIterable & RawRepresentable>(of _: E.Type) -> SettingKind where E.RawValue == String {
        .choice(E.allCases.map(\.rawValue))
    }
}

/// Bounds of a number (each inclusive unless open).
public struct NumberRange: Sendable, Equatable {
    public var min: Double?, max: Double?
    public var openMin: Bool, openMax: Bool

    public init(min: Double? = nil, max: Double? = nil, openMin: Bool = false, openMax: Bool = false) {
        self.min = min; self.max = max; self.openMin = openMin; self.openMax = openMax
    }

    /// Any finite number.
    public static let any = NumberRange()
    /// x > 0.
    public static let positive = NumberRange(min: 0, openMin: true)
    /// x ≥ 0.
    public static let nonNegative = NumberRange(min: 0)
    /// 0 ≤ x ≤ 1.
    public static let unit = NumberRange(min: 0, max: 1)
}

/// What a setting is, without its Swift property: what the reader, messages and the reference need.
public struct SettingInfo: Sendable {
    public let key: String
    public let kind: SettingKind
    /// A value to show in messages ("Write e.g. `lr: 0.001`").
    public let example: String
    /// "required", the default value, or what leaving it out means.
    public let defaultText: String
    public let isRequired: Bool
    /// When the setting applies (e.g. "sgd", "grouped", "DenseNet"); nil: always.
    public let appliesTo: String?
    /// What it means.
    public let doc: String
    /// False for what is in the canonical JSON but not in the file (`config_version`).
    public let inFile: Bool

    public init(key: String, kind: SettingKind, example: String, defaultText: String, isRequired: Bool = false,
                appliesTo: String? = nil, doc: String, inFile: Bool = true) {
        self.key = key; self.kind = kind; self.example = example; self.defaultText = defaultText
        self.isRequired = isRequired; self.appliesTo = appliesTo; self.doc = doc; self.inFile = inFile
    }
}

/// A setting's value when the file leaves it out.
public enum Default<Root, Value> {
    /// The file must give it.
    case required
    /// This value.
    case value(Value)
    /// A value that depends on settings declared before it in the same section (described for the reference).
    case computed(String, (Root) -> Value?)
    /// Left unset; what that means is described (e.g. "all cores") and decided where the value is used.
    case described(String)
}

/// When a setting applies: outside it the setting is read (and checked) but not kept, so it cannot change the
/// configuration or its hash (e.g. `momentum` with Adam).
public struct Condition<Root>: @unchecked Sendable {
    /// For the reference, e.g. "sgd".
    public let doc: String
    public let test: (Root) -> Bool
    public init(_ doc: String, _ test: @escaping (Root) -> Bool) { self.doc = doc; self.test = test }
}

/// One setting of a section: its description and how it maps onto the section's Swift property.
public struct Setting<Root>: @unchecked Sendable {
    public let info: SettingInfo
    /// The value when the file leaves the setting out (nil: none).
    public let fallback: (Root) -> JSONValue?
    public let condition: Condition<Root>?
    /// The property as canonical JSON; nil when unset.
    public let get: (Root) -> JSONValue?
    /// Stores a JSON value into the property.
    public let set: (inout Root, JSONValue) throws -> Void
    /// Unsets an optional property; nil for a property that always has a value.
    public let clear: ((inout Root) -> Void)?

    public var key: String { info.key }

    /// A setting whose property always has a value.
    public init<V: SettingValue>(_ key: String, _ path: WritableKeyPath<Root, V>, _ kind: SettingKind,
                                 default fallback: Default<Root, V>, example: String, inFile: Bool = true,
                                 _ doc: String) {
        self.init(key: key, kind: kind, fallback: fallback, when: nil, example: example, inFile: inFile, doc: doc,
                  get: { $0[keyPath: path].jsonValue }, set: { $0[keyPath: path] = try V(json: $1) }, clear: nil)
    }

    /// A setting whose property may be unset (nil: left out of the JSON).
    public init<V: SettingValue>(_ key: String, _ path: WritableKeyPath<Root, V?>, _ kind: SettingKind,
                                 default fallback: Default<Root, V>, when: Condition<Root>? = nil, example: String,
                                 inFile: Bool = true, _ doc: String) {
        self.init(key: key, kind: kind, fallback: fallback, when: when, example: example, inFile: inFile, doc: doc,
                  get: { $0[keyPath: path]?.jsonValue }, set: { $0[keyPath: path] = try V(json: $1) },
                  clear: { $0[keyPath: path] = nil })
    }

    private init<V: SettingValue>(key: String, kind: SettingKind, fallback: Default<Root, V>, when: Condition<Root>?,
                                  example: String, inFile: Bool, doc: String, get: @escaping (Root) -> JSONValue?,
                                  set: @escaping (inout Root, JSONValue) throws -> Void,
                                  clear: ((inout Root) -> Void)?) {
        let defaultText: String
        switch fallback {
        case .required: defaultText = "required"; self.fallback = { _ in nil }
        case .value(let v): defaultText = v.jsonValue.settingText; self.fallback = { _ in v.jsonValue }
        case let .computed(text, f): defaultText = text; self.fallback = { f($0)?.jsonValue }
        case .described(let text): defaultText = text; self.fallback = { _ in nil }
        }
        var isRequired = false
        if case .required = fallback { isRequired = true }
        info = SettingInfo(key: key, kind: kind, example: example, defaultText: defaultText, isRequired: isRequired,
                           appliesTo: when?.doc, doc: doc, inFile: inFile)
        condition = when
        self.get = get
        self.set = set
        self.clear = clear
    }
}

extension JSONValue {
    /// The value as an experiment file would write it (`[0.9, 0.999]`, `false`, `random`, `{regex: '…'}`).
    public var settingText: String {
        switch self {
        case .string(let s): return s
        case .array(let items): return "[" + items.map(\.settingText).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { "\($0): \(o[$0]!.settingText)" }.joined(separator: ", ") + "}"
        default: return canonical
        }
    }

    public var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// A number (integers too).
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

// MARK: - values

extension Int: SettingValue {
    public var jsonValue: JSONValue { .int(self) }
    public init(json: JSONValue) throws {
        guard let i = json.intValue else { throw SettingError.wrongType(key: "", expected: "a whole number") }
        self = i
    }
}

extension Double: SettingValue {
    public var jsonValue: JSONValue { .double(self) }
    public init(json: JSONValue) throws {
        guard let d = json.doubleValue else { throw SettingError.wrongType(key: "", expected: "a number") }
        self = d
    }
}

extension Bool: SettingValue {
    public var jsonValue: JSONValue { .bool(self) }
    public init(json: JSONValue) throws {
        guard case .bool(let b) = json else { throw SettingError.wrongType(key: "", expected: "true or false") }
        self = b
    }
}

extension String: SettingValue {
    public var jsonValue: JSONValue { .string(self) }
    public init(json: JSONValue) throws {
        guard let s = json.stringValue else { throw SettingError.wrongType(key: "", expected: "text") }
        self = s
    }
}

extension Array: SettingValue where Element: SettingValue {
    public var jsonValue: JSONValue { .array(map(\.jsonValue)) }
    public init(json: JSONValue) throws {
        guard case .array(let items) = json else { throw SettingError.wrongType(key: "", expected: "a list") }
        self = try items.map(Element.init(json:))
    }
}

/// Enums written as their raw value.
extension SettingValue where Self: RawRepresentable, RawValue == String {
    public var jsonValue: JSONValue { .string(rawValue) }
    public init(json: JSONValue) throws {
        guard let s = json.stringValue else { throw SettingError.wrongType(key: "", expected: "text") }
        guard let v = Self(rawValue: s) else { throw SettingError.unknownValue(key: "", value: s) }
        self = v
    }
}

extension SEPlacement: SettingValue {}
extension ResidualBlockKind: SettingValue {}
