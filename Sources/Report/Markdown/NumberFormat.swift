import Foundation

/// Number formats shared by every table, so the same quantity always looks the same.
public enum NumberFormat {
    /// Fixed decimals, "." as separator whatever the locale, and no "-0.000".
    public static func fixed(_ value: Double, digits: Int = 3) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "∞" : "−∞") }
        let text = String(format: "%.\(digits)f", locale: nil, value)
        if text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { return String(text.dropFirst()) }
        return text
    }

    /// A difference with an explicit sign: "+0.012", "-0.004", "0.000".
    public static func signed(_ value: Double, digits: Int = 3) -> String {
        let text = fixed(value, digits: digits)
        return value > 0 && text.contains(where: { $0 != "0" && $0 != "." }) ? "+" + text : text
    }

    /// "0.912 ± 0.008".
    public static func meanStd(_ mean: Double, _ std: Double, digits: Int = 3) -> String {
        "\(fixed(mean, digits: digits)) ± \(fixed(std, digits: digits))"
    }

    /// "[0.901, 0.923]".
    public static func interval(_ ci: ConfidenceInterval, digits: Int = 3, signed showSign: Bool = false) -> String {
        let format: (Double) -> String = { showSign ? signed($0, digits: digits) : fixed($0, digits: digits) }
        return "[\(format(ci.lower)), \(format(ci.upper))]"
    }

    /// "[0.877, 0.933]" for a bootstrap interval.
    public static func interval(_ range: ClosedRange<Double>, digits: Int = 3, signed showSign: Bool = false) -> String {
        interval(ConfidenceInterval(lower: range.lowerBound, upper: range.upperBound, level: ClusterBootstrap.level),
                 digits: digits, signed: showSign)
    }

    /// "p = 0.031", "p < 0.001"; a fourth decimal where three would round onto the significance level
    /// ("p = 0.0496", not a "p = 0.050" beside a significant verdict).
    public static func pValue(_ p: Double) -> String {
        if p < 0.001 { return "p < 0.001" }
        let text = fixed(p, digits: 3)
        return "p = " + (text == fixed(ReportTables.significanceLevel, digits: 3) ? fixed(p, digits: 4) : text)
    }

    /// Counts with a magnitude suffix: 7978856 → "7.98 M", 2865000000 → "2.87 G", 950 → "950".
    public static func magnitude(_ value: Int) -> String {
        let v = Double(value)
        switch abs(v) {
        case 1e9...: return "\(fixed(v / 1e9, digits: 2)) G"
        case 1e6...: return "\(fixed(v / 1e6, digits: 2)) M"
        case 1e3...: return "\(fixed(v / 1e3, digits: 2)) k"
        default: return "\(value)"
        }
    }

    /// "2/3".
    public static func fraction(_ part: Int, of whole: Int) -> String { "\(part)/\(whole)" }
}
