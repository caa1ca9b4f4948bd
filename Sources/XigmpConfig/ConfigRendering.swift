extension DaemonConfig {
    /// The configuration as YAML, every key written out (defaults included,
    /// optional values only when set), which parses back to an equal value.
    ///
    /// For `xigmp` to show the configuration in effect.
    public var yaml: String {
        var lines = ["interfaces:", "  outside: \(quoted(interfaces.outside))"]
        if let alt = interfaces.alt { lines.append("  alt: \(quoted(alt))") }
        lines.append("  inside: \(quoted(interfaces.inside))")
        lines.append("activeOutside: \(activeOutside.rawValue)")
        lines.append("datapath: \(datapath.rawValue)")
        lines.append("modes:")
        for (name, isOn) in modes.settings { lines.append("  \(name): \(isOn)") }
        if let unicastFallback { lines.append("unicastFallback: \(unicastFallback)") }
        if let metricsListen { lines += ["metrics:", "  listen: \"\(metricsListen)\""] }
        lines += ["control:", "  socket: \(quoted(controlSocket))"]
        lines.append("logLevel: \(logLevel.rawValue)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar: always safe, whatever the name holds.
    private func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
