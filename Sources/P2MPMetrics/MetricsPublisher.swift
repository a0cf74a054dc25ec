import CoreMetrics
import Prometheus

/// The metrics of a table of `MetricDefinition`s as swift-metrics handles (a `Counter` or a
/// `Meter` each) on a swift-prometheus registry of their own. `exposition(of:)` brings every
/// handle to the value its definition reads and renders the registry in Prometheus' text
/// format (version 0.0.4).
///
/// Counters are handed the difference from the value they published last, so after every
/// publication a counter equals the running total it reads: the program counts in one
/// place, and this only shows it. Used from one thread at a time (the daemon's loop).
public final class MetricsPublisher<Readings> {
    /// A definition's swift-metrics handle.
    private enum Series {
        /// `published`: what the counter holds now.
        case counter(CoreMetrics.Counter, read: @Sendable (Readings) -> Int64, published: Int64)
        case meter(Meter, read: @Sendable (Readings) -> Double)
    }

    private let registry = PrometheusCollectorRegistry()
    private var series: [Series] = []

    /// Registers every series of `definitions`. Series of one name share its help text and
    /// type, and differ in their labels (checked: a mismatch is a programming error).
    public init(_ definitions: [MetricDefinition<Readings>]) {
        let factory = PrometheusMetricsFactory(registry: registry)
        for definition in definitions {
            let descriptor = MetricNameDescriptor(metricName: definition.name, unitName: "", helpText: definition.help)
            switch definition.source {
            case .counter(let read):
                let handler = registry.makeCounter(descriptor: descriptor, labels: definition.labels)
                let counter = Counter(label: definition.name, dimensions: definition.labels, handler: handler, factory: factory)
                series.append(.counter(counter, read: read, published: 0))
            case .gauge(let read):
                let handler = registry.makeGauge(descriptor: descriptor, labels: definition.labels)
                series.append(.meter(Meter(label: definition.name, dimensions: definition.labels, handler: handler, factory: factory), read: read))
            }
        }
    }

    /// Every series set from `readings`, rendered.
    public func exposition(of readings: Readings) -> [UInt8] {
        for index in series.indices {
            switch series[index] {
            case .counter(let counter, let read, let published):
                // A total that went down (the daemon's cannot) is shown as it was.
                let total = read(readings)
                guard total > published else { continue }
                counter.increment(by: total - published)
                series[index] = .counter(counter, read: read, published: total)
            case .meter(let meter, let read):
                meter.set(read(readings))
            }
        }
        return registry.emitToBuffer()
    }
}
