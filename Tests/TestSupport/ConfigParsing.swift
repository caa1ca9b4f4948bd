import Testing
import XigmpConfig

/// Parses `yaml` as `x.yaml`; the issue lines it fails with, or [] on success.
package func errors(_ yaml: String) -> [String] {
    do {
        _ = try DaemonConfig.parse(text: yaml, fileName: "x.yaml")
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// Parses `yaml` as `x.yaml`, recording an issue when it fails.
package func parsed(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> LoadedConfig? {
    do {
        return try DaemonConfig.parse(text: yaml, fileName: "x.yaml")
    } catch {
        Issue.record("unexpected errors:\n\(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A valid file to vary: interfaces and one mode.
package let minimal = """
    interfaces:
      outside: enp1s0
      inside: dockerbr
    modes:
      proxyOutToIn: true

    """
