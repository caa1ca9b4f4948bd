import Testing
import XigmpConfig
import XigmpTestSupport

/// What fuzz/run.sh's config fuzzer (fuzz/ConfigFuzz) checks, on the inputs
/// that once broke it.
@Suite struct FuzzRegressionTests {
    /// libFuzzer's crasher: a top-level plain scalar over two lines was
    /// echoed into its issue with the line break, so the error printed as
    /// two lines where ConfigError promises one per issue.
    @Test func echoedLineBreakStaysOnTheIssuesLine() {
        let crasher = """
            # Full IGMP proxy: both directions (goIGMP's third seed setup).
            #
            #castMembepshipResponse: true
              leaveToNetwork:# Full IGMP pr true

            un
            """
        #expect(errors(crasher) == [
            #"x.yaml:4: the top level is 'leaveToNetwork:# Full IGMP pr true\nun'; expected a mapping of keys such as interfaces: and modes:"#,
        ])
    }

    /// A key with a terminal escape sequence is shown escaped, not sent to
    /// the terminal.
    @Test func controlCharactersInKeysAreEscaped() {
        let issues = errors(minimal + "\"a\\e[31m\\u2028b\": 1\n")
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix(#"x.yaml:6: a\u{1B}[31m\u{2028}b: unknown key;"#) == true, "\(issues)")
    }

    /// The rendering wrote a duration finer than a microsecond in whole
    /// microseconds, so it read back as another duration.
    @Test func subMicrosecondDurationRendersToTheNanosecond() throws {
        guard let loaded = parsed(minimal + "upstream:\n  unsolicitedReportInterval: 1.0000001s\n") else { return }
        #expect(loaded.config.upstream.unsolicitedReportInterval == .nanoseconds(1_000_000_100))
        #expect(loaded.config.yaml.contains("  unsolicitedReportInterval: 1.000000100s\n"))
        #expect(try DaemonConfig.parse(text: loaded.config.yaml, fileName: "x.yaml").config == loaded.config)
    }

    /// The rendering wrote characters YAML refuses (C1 controls, U+FFFE) or
    /// folds into spaces (NEL, LS, PS) as they were, so it did not read back.
    @Test(arguments: [#"\x80"#, #"\x9F"#, #"\uFFFE"#, #"\uFEFF"#, #"\N"#, #"\L"#, #"\P"#, #"\t"#])
    func unprintableCharactersRenderEscaped(escape: String) throws {
        guard let loaded = parsed(minimal + "control:\n  socket: \"/run/x\(escape)y\"\n") else { return }
        #expect(try DaemonConfig.parse(text: loaded.config.yaml, fileName: "x.yaml").config == loaded.config)
    }
}
