import Testing
import XigmpTestSupport
@testable import XigmpTools

@Suite struct DurationParserTests {
    @Test("units", arguments: [("100ms", 0.1), ("1s", 1), ("2.5s", 2.5), ("2m", 120), ("1h", 3600), ("250us", 0.00025), (" 3s ", 3)])
    func units(text: String, seconds: Double) throws {
        #expect(abs(try DurationParser.seconds(text) - seconds) < 1e-12)
    }

    @Test("bare numbers, unknown units, junk and negatives are refused", arguments: ["10", "1d", "s", "ms", "-1s", "1..5s", "abc", ""])
    func refused(text: String) {
        #expect(throws: DurationParser.Failure.self) { try DurationParser.seconds(text) }
    }

    @Test("the error names the input and shows examples")
    func message() {
        do {
            _ = try DurationParser.seconds("10")
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("'10'"))
            #expect(error.description.contains("a unit is required"))
            #expect(error.description.contains("100ms"))
        }
    }
}
