import Foundation

/// A GitHub-flavoured markdown table whose columns line up in plain text too.
public struct MarkdownTable: Sendable, Equatable {
    public enum Alignment: Sendable { case left, right, center }

    public struct Column: Sendable, Equatable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public let columns: [Column]
    public private(set) var rows: [[String]] = []

    public init(columns: [Column]) {
        self.columns = columns
    }

    /// Appends a row; throws when its cell count differs from the header's (a shifted row would misalign the
    /// whole table on GitHub).
    public mutating func addRow(_ cells: [String]) throws {
        guard cells.count == columns.count else { throw ReportError.tableShape(expectedCells: columns.count, got: cells.count) }
        rows.append(cells)
    }

    /// Header, alignment row (`:--`, `--:`, `:-:`), then rows, every cell padded to its column's width.
    /// Pipes inside cells are escaped and newlines become spaces so a cell never breaks the row.
    public func render() -> String {
        let header = columns.map { Self.escape($0.title) }
        let body = rows.map { $0.map(Self.escape) }
        var widths = header.map { max(3, $0.count) }
        for row in body { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }

        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, cell in Self.pad(cell, to: widths[i], columns[i].alignment) }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        let rule = columns.enumerated().map { i, column -> String in
            let w = widths[i]
            switch column.alignment {
            case .left: return ":" + String(repeating: "-", count: w - 1)
            case .right: return String(repeating: "-", count: w - 1) + ":"
            case .center: return ":" + String(repeating: "-", count: w - 2) + ":"
            }
        }
        return ([line(header), "| " + rule.joined(separator: " | ") + " |"] + body.map(line)).joined(separator: "\n") + "\n"
    }

    static func escape(_ cell: String) -> String {
        cell.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\r\n", with: " ")
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
    }

    static func pad(_ cell: String, to width: Int, _ alignment: Alignment) -> String {
        let gap = width - cell.count
        switch alignment {
        case .left: return cell + String(repeating: " ", count: gap)
        case .right: return String(repeating: " ", count: gap) + cell
        case .center: return String(repeating: " ", count: gap / 2) + cell + String(repeating: " ", count: gap - gap / 2)
        }
    }
}
