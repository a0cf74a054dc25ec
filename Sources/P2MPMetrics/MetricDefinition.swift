/// One exported time series: its Prometheus name and labels, its help text, and how to read
/// its value from `Readings`, the view of the counters the program keeps anyway (its
/// statistics, its machines' counts). The exporter holds no count of its own: it reads
/// these at every scrape.
///
/// A table of these is the whole description of an exporter; adding a series is one line:
///
///     .counter("p2mpd_datagrams_dropped_total", "…", labels: ["cause": "storage_busy"]) { $0.statistics.droppedStorageBusy }
public struct MetricDefinition<Readings>: Sendable {
    /// Where the value comes from, which also says the series' Prometheus type.
    enum Source: Sendable {
        /// A running total that never goes down (`_total`).
        case counter(@Sendable (Readings) -> Int64)
        /// A value that goes up and down.
        case gauge(@Sendable (Readings) -> Double)
    }

    public let name: String
    public let labels: [(String, String)]
    public let help: String
    let source: Source

    /// A counter read from a running total of `Readings`.
    public static func counter<Count: BinaryInteger & SendableMetatype>(
        _ name: String, _ help: String, labels: KeyValuePairs<String, String> = [:],
        _ read: @escaping @Sendable (Readings) -> Count
    ) -> Self {
        Self(name: name, labels: labels.map { ($0.key, $0.value) }, help: help, source: .counter { Int64(clamping: read($0)) })
    }

    /// A gauge read from `Readings`.
    public static func gauge(
        _ name: String, _ help: String, labels: KeyValuePairs<String, String> = [:],
        _ read: @escaping @Sendable (Readings) -> Double
    ) -> Self {
        Self(name: name, labels: labels.map { ($0.key, $0.value) }, help: help, source: .gauge(read))
    }
}
