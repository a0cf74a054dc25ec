@testable import P2MPDaemon
@testable import P2MPProtocol
@testable import P2MPSecurity
import P2MPMetrics
import P2MPWire
import Testing

/// `DaemonMetrics`: the table p2mpd's Prometheus endpoint renders, each series reading the
/// counter its journal events report.
@Suite("daemon metrics")
struct DaemonMetricsTests {
    static func readings(
        drops: DaemonStatistics.Drops = .init(), reception: NativeReception = .init(), hooks: HookStatistics.Counts = .init()
    ) -> DaemonReadings {
        var statistics = DaemonStatistics()
        statistics.reception = reception
        return DaemonReadings(
            statistics: statistics, endpoint: .init(), drops: drops, handshakes: .init(), hooks: hooks, activeTransfers: 0,
            authenticatedSessions: 0, spoolFreeBytes: 0, partials: 0, startTime: 0)
    }

    /// The exposition's samples, by series ("name{labels}").
    static func samples(_ readings: DaemonReadings) -> [String: String] {
        let text = String(decoding: MetricsPublisher(DaemonMetrics.definitions).exposition(of: readings), as: UTF8.self)
        var samples: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            samples[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return samples
    }

    @Test("no two definitions are one series, and every name follows the Prometheus conventions")
    func uniqueSeries() {
        let series = DaemonMetrics.definitions.map { definition in
            definition.name + definition.labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        }
        #expect(Set(series).count == series.count)
        for definition in DaemonMetrics.definitions {
            #expect(definition.name.hasPrefix("p2mpd_"), "\(definition.name)")
            #expect(definition.name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(definition.name)")
        }
    }

    @Test("every cause DaemonStatistics.Drops counts is a series of p2mpd_datagrams_dropped_total, at its count")
    func everyDropCause() {
        let causes = Mirror(reflecting: DaemonStatistics.Drops()).children.count
        let dropSeries = DaemonMetrics.dropped.filter { $0.labels.first?.1 != "simulated_loss" }
        #expect(dropSeries.count == causes, "a new field of Drops needs its line in DaemonMetrics.dropped")

        var drops = DaemonStatistics.Drops()
        drops.notAuthenticated = 1
        drops.storageBusy = 2
        drops.badChecksum = 3
        drops.malformed = 4
        drops.foreignPeer = 5
        drops.unknownTransfer = 6
        drops.duplicate = 7
        drops.secureMalformed = 8
        drops.unknownSession = 9
        drops.replayed = 10
        drops.forged = 11
        drops.handshake = 12
        let samples = Self.samples(Self.readings(drops: drops))
        let shown = dropSeries.compactMap { definition in
            samples["p2mpd_datagrams_dropped_total{cause=\"\(definition.labels[0].1)\"}"].flatMap { Int($0) }
        }
        #expect(shown.count == causes)
        #expect(shown.reduce(0, +) == drops.total, "each cause once, none twice")
        #expect(samples["p2mpd_datagrams_dropped_total{cause=\"bad_checksum\"}"] == "3")
        #expect(samples["p2mpd_datagrams_dropped_total{cause=\"handshake\"}"] == "12")
    }

    @Test("segments lost and repaired by cause are the reception totals the loss events report")
    func segmentsByCause() {
        let reception = NativeReception(
            segments: 1_000, duplicates: 4, network: .init(lost: 20, repaired: 19), simulated: .init(lost: 50, repaired: 48),
            storage: .init(lost: 3, repaired: 3))
        let samples = Self.samples(Self.readings(reception: reception))
        #expect(samples["p2mpd_segments_received_total"] == "1000")
        #expect(samples["p2mpd_segments_duplicate_total"] == "4")
        for cause in NativeLossCause.allCases {
            #expect(samples["p2mpd_segments_lost_total{cause=\"\(cause.rawValue)\"}"] == "\(reception[cause].lost)")
            #expect(samples["p2mpd_segments_repaired_total{cause=\"\(cause.rawValue)\"}"] == "\(reception[cause].repaired)")
        }
        #expect(samples["p2mpd_datagrams_dropped_total{cause=\"simulated_loss\"}"] == "50")
    }

    @Test("hooks are counted where they end, by outcome, and apart when the full queue turns one away")
    func hooks() {
        let statistics = HookStatistics()
        statistics.count(.exited(0))
        statistics.count(.exited(3))
        statistics.count(.timedOut)
        statistics.count(.notStarted("no /bin/sh"))
        statistics.countNotQueued()
        let samples = Self.samples(Self.readings(hooks: statistics.current))
        #expect(samples["p2mpd_hook_runs_total"] == "4", "a hook not queued never ran")
        #expect(samples["p2mpd_hook_failures_total{reason=\"exit_status\"}"] == "1")
        #expect(samples["p2mpd_hook_failures_total{reason=\"timeout\"}"] == "1")
        #expect(samples["p2mpd_hook_failures_total{reason=\"not_started\"}"] == "1")
        #expect(samples["p2mpd_hook_failures_total{reason=\"queue_full\"}"] == "1")
    }
}
