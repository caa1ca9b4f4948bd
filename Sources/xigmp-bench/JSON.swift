import Foundation

/// A JSON value whose objects keep their keys in insertion order, so the
/// report reads in the order the benchmark measured things (JSONSerialization
/// would sort or scramble them).
enum JSON: Sendable {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    /// A number rounded to `digits` decimals (medians of noisy figures do
    /// not deserve 15 digits); non-finite values become null.
    static func rounded(_ value: Double, _ digits: Int = 3) -> JSON {
        guard value.isFinite else { return .null }
        let scale = pow(10.0, Double(digits))
        return .number((value * scale).rounded() / scale)
    }

    /// Compact one-line rendering (what the subcommands print on stdout).
    var rendered: String {
        var out = ""
        render(into: &out)
        return out
    }

    private func render(into out: inout String) {
        switch self {
        case .number(let v):
            if !v.isFinite { out += "null"; return }
            if v == v.rounded(), abs(v) < 1e15 { out += String(Int64(v)); return }
            out += String(v)
        case .integer(let v): out += String(v)
        case .string(let s): Self.quote(s, into: &out)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.render(into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { out += "," }
                Self.quote(key, into: &out)
                out += ":"
                value.render(into: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
