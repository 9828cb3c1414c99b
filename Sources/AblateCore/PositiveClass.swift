/// The positive class of binary metrics (sensitivity, specificity, ROC-AUC), stated once for the report and
/// `ablate evaluate`.
public enum PositiveClass {
    /// The class a data set without a `report.positive_class` is read for: the monkeypox lesions the course's
    /// data set is about, when it has such a class.
    public static let standardName = "monkeypox"

    /// The index of `wanted` among `classNames` (case-insensitive); without `wanted`, the class named
    /// `standardName`, else class 1 (the second, as scikit-learn's `pos_label=1`). nil when `wanted` is no class.
    public static func index(_ wanted: String?, in classNames: [String]) -> Int? {
        func named(_ name: String) -> Int? { classNames.firstIndex { $0.lowercased() == name.lowercased() } }
        if let wanted { return named(wanted) }
        return named(standardName) ?? min(1, max(0, classNames.count - 1))
    }
}
