/// JSON output for `--json` (ordered keys, no Foundation).
/// A JSON value with object keys kept in the order they were written, so
/// `--json` output is stable and reads in the same order as the table.
public enum JSON: Sendable {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null

    /// Compact one-line rendering.
    public var rendered: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .object(let pairs):
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += "," }
                JSON.string(k).write(to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .string(let s):
            out += "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where u.value < 0x20:
                    out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
                default: out.unicodeScalars.append(u)
                }
            }
            out += "\""
        case .int(let v): out += String(v)
        case .uint(let v): out += String(v)
        case .double(let v): out += v.isFinite ? String(v) : "null"
        case .bool(let v): out += v ? "true" : "false"
        case .null: out += "null"
        }
    }
}

extension JSON {
    /// A number, written without a fraction when it is whole (figures such
    /// as counts and whole nanoseconds read better as `25` than `25.0`);
    /// non-finite values become null.
    public static func number(_ v: Double) -> JSON {
        guard v.isFinite else { return .null }
        if v == v.rounded(), abs(v) < 1e15 { return .int(Int64(v)) }
        return .double(v)
    }

    /// An integer.
    public static func integer(_ v: Int) -> JSON { .int(Int64(v)) }

    /// A number rounded to `digits` decimals (medians of noisy figures do
    /// not deserve 15 digits); non-finite values become null.
    public static func rounded(_ value: Double, _ digits: Int = 3) -> JSON {
        guard value.isFinite else { return .null }
        var scale = 1.0
        var d = 0
        while d < digits { scale *= 10; d += 1 }
        return number((value * scale).rounded() / scale)
    }
}

