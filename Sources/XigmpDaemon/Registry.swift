import Prometheus

/// A Prometheus registry shared by the daemon's metrics and the HTTP
/// endpoint that exposes them.
public struct PrometheusCollectorRegistryBox: Sendable {
    /// The registry.
    public let registry: PrometheusCollectorRegistry
    /// A fresh registry.
    public init() { registry = PrometheusCollectorRegistry() }
}
