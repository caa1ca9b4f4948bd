/// Durations on the command line: a number with a unit, `100ms`, `1s`,
/// `1.5s`, `2m`, `1h`. A bare number is refused: "10" could mean tenths
/// (IGMPv2's wire unit), seconds or milliseconds, and guessing wrong is
/// exactly the kind of mistake the Junos "0.1" note warns about.
public enum DurationParser {
    /// Why a duration did not parse.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        /// The text given.
        public let input: String
        /// What was wrong.
        public let reason: String
        public var description: String { "invalid duration '\(input)': \(reason) (examples: 100ms, 1s, 2.5s, 2m)" }
    }

    /// Seconds in `text`.
    public static func seconds(_ text: String) throws(Failure) -> Double {
        let t = text.trimmingSpaces()
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = String(t.dropLast(suffix.count))
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }),
                  let value = Double(number) else {
                throw Failure(input: text, reason: "'\(number)' is not a number")
            }
            guard value.isFinite, value >= 0 else { throw Failure(input: text, reason: "must not be negative") }
            return value * scale
        }
        if Double(t) != nil { throw Failure(input: text, reason: "a unit is required") }
        throw Failure(input: text, reason: "unknown unit")
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
