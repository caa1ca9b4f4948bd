import CXigmp
import DatapathKernel

/// libbpf's diagnostic output, captured instead of printed so an error can
/// show the verifier's last lines rather than the whole log.
public enum LibBPFLog {
    /// Starts capturing; with `echo`, warnings also go to stderr.
    public static func capture(echo: Bool = false) {
        cxigmp_log_capture(echo)
    }

    /// Returns and clears what libbpf printed since the last call.
    public static func take() -> String {
        let cap = 64 * 1024
        var buffer = [CChar](repeating: 0, count: cap)
        let n = buffer.withUnsafeMutableBufferPointer { cxigmp_log_take($0.baseAddress, cap) }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The last `count` non-empty lines of `text`.
    public static func tail(_ text: String, lines count: Int) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        return lines.suffix(count).joined(separator: "\n")
    }
}
