import Foundation

/// The one JSON coding of the tree: keys sorted and in snake_case, slashes
/// not escaped. Every `--json` output (typed `Codable` replies and ad-hoc
/// `JSON` values alike) and both ends of the daemon's control socket go
/// through it, so they agree on numbers, escapes and key order.
public enum JSONCoding {
    /// `snakeCase`: Swift property names become snake_case keys (typed
    /// replies); hand-built `JSON` keys are written as given.
    public static func encoder(snakeCase: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        if snakeCase { e.keyEncodingStrategy = .convertToSnakeCase }
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    /// `value` as one line of JSON (no newline).
    public static func line<T: Encodable>(_ value: T, snakeCase: Bool = true) -> String {
        do {
            return String(decoding: try encoder(snakeCase: snakeCase).encode(value), as: UTF8.self)
        } catch {
            return #"{"error":"cannot encode: \#(String(describing: error))"}"#
        }
    }
}

/// A JSON value built by hand, for outputs whose shape is a table of figures
/// (bench results, counters, decoded packets). Non-finite numbers become null.
public enum JSON: Sendable {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null

    /// Compact one-line rendering, through `JSONCoding`.
    public var rendered: String { JSONCoding.line(self, snakeCase: false) }
}

extension JSON: Encodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .object(let pairs):
            var c = encoder.container(keyedBy: Key.self)
            for (k, v) in pairs { try c.encode(v, forKey: Key(stringValue: k)) }
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for v in items { try c.encode(v) }
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .int(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .uint(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .double(let v):
            var c = encoder.singleValueContainer()
            if v.isFinite { try c.encode(v) } else { try c.encodeNil() }
        case .bool(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
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

