import P2MPMetrics
import Testing

/// `MetricsPublisher`: a table of definitions rendered in Prometheus' text format, each
/// series at the value it reads.
@Suite("metrics publisher")
struct MetricsPublisherTests {
    struct Readings {
        var completed: UInt64 = 0
        var dropped: [String: Int] = [:]
        var active = 0.0
    }

    static let table: [MetricDefinition<Readings>] = [
        .counter("test_completed_total", "Completed things.") { $0.completed },
        .counter("test_dropped_total", "Dropped things, by cause.", labels: ["cause": "bad"]) { $0.dropped["bad", default: 0] },
        .counter("test_dropped_total", "Dropped things, by cause.", labels: ["cause": "late"]) { $0.dropped["late", default: 0] },
        .gauge("test_active", "Things going on.") { $0.active },
    ]

    /// The exposition's lines as a set (the registry's order is its own).
    static func lines(_ bytes: [UInt8]) -> Set<String> {
        Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test("HELP and TYPE once per name, one sample per series")
    func format() {
        let publisher = MetricsPublisher(Self.table)
        let lines = Self.lines(publisher.exposition(of: Readings(completed: 3, dropped: ["late": 2], active: 1.5)))
        #expect(
            lines == [
                "# HELP test_completed_total Completed things.", "# TYPE test_completed_total counter", "test_completed_total 3",
                "# HELP test_dropped_total Dropped things, by cause.", "# TYPE test_dropped_total counter",
                #"test_dropped_total{cause="bad"} 0"#, #"test_dropped_total{cause="late"} 2"#,
                "# HELP test_active Things going on.", "# TYPE test_active gauge", "test_active 1.5",
            ])
    }

    @Test("every scrape shows the readings as they are now, however often it is asked")
    func followsReadings() {
        let publisher = MetricsPublisher(Self.table)
        var readings = Readings(completed: 1, active: 4)
        for step in 1...5 {
            readings.completed += UInt64(step)
            readings.dropped["bad", default: 0] += 1
            readings.active = Double(step)
            for _ in 0..<2 {
                let lines = Self.lines(publisher.exposition(of: readings))
                #expect(lines.contains("test_completed_total \(readings.completed)"))
                #expect(lines.contains(#"test_dropped_total{cause="bad"} \#(step)"#))
                #expect(lines.contains("test_active \(Double(step))"))
            }
        }
    }

    @Test("a counter whose reading went down keeps the value it showed: counters never go back")
    func countersNeverGoBack() {
        let publisher = MetricsPublisher(Self.table)
        _ = publisher.exposition(of: Readings(completed: 10))
        #expect(Self.lines(publisher.exposition(of: Readings(completed: 4))).contains("test_completed_total 10"))
        #expect(Self.lines(publisher.exposition(of: Readings(completed: 12))).contains("test_completed_total 12"))
    }
}
