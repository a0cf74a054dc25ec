import P2MPMetrics
import P2MPProtocol
import P2MPSecurity
import P2MPWire

/// What the metrics read at a scrape: the daemon's own totals and its machines' counts, as
/// they are (`ReceiverDaemon.readings`). Nothing here counts.
struct DaemonReadings {
    var statistics: DaemonStatistics
    var endpoint: IncomingTransfers.Endpoint.Statistics
    /// Every datagram dropped, by cause: what the `drop` and `stop` events report.
    var drops: DaemonStatistics.Drops
    var handshakes: PeerChannels.Responder.Statistics
    var hooks: HookStatistics.Counts
    var activeTransfers: Int
    var authenticatedSessions: Int
    var spoolFreeBytes: UInt64
    var partials: Int
    /// Seconds since 1970.
    var startTime: Double
}

/// p2mpd's metrics (`metrics_listen`, p2mpd(8)): one line per series, each reading the
/// counter that the journal's events report. A new counter is one more line in one of these
/// tables, reading the place that counts it (through `DaemonReadings`).
enum DaemonMetrics {
    typealias Definition = MetricDefinition<DaemonReadings>

    static let definitions: [Definition] = daemon + transfers + datagrams + dropped + segments + trust + spoolAndHooks

    static let daemon: [Definition] = [
        .gauge("p2mpd_build_info", "The running p2mpd's version, as a label; always 1.", labels: ["version": P2MPVersion.string]) { _ in 1 },
        .gauge("p2mpd_start_time_seconds", "When p2mpd started, in seconds since 1970.") { $0.startTime },
    ]

    static let transfers: [Definition] =
        [
            .gauge("p2mpd_transfers_active", "Pushes being received.") { Double($0.activeTransfers) },
            .counter("p2mpd_transfers_completed_total", "Pushes committed, or offered with content the spool held.") {
                $0.statistics.completed
            },
            .counter("p2mpd_received_bytes_total", "File bytes received and written to partials.") { $0.statistics.bytesReceived },
        ]
        + DaemonStatistics.FailureReason.allCases.map { reason in
            .counter("p2mpd_transfers_failed_total", "Pushes that ended without a commit, by reason.", labels: ["reason": reason.rawValue]) {
                $0.statistics.failures[reason] ?? 0
            }
        }

    static let datagrams: [Definition] = [
        .counter("p2mpd_datagrams_received_total", "Native datagrams handed to the receiving side, opened ones included.") {
            $0.statistics.datagramsReceived
        },
        .counter(
            "p2mpd_retransmission_requests_total",
            "ACKs sent that report missing segments (SACK ranges above a gap), asking the sender to retransmit."
        ) { $0.endpoint.retransmissionRequests },
    ]

    /// `p2mpd_datagrams_dropped_total`, one series per cause of `DaemonStatistics.Drops`.
    static let dropped: [Definition] = [
        drop("not_authenticated") { $0.drops.notAuthenticated },
        drop("storage_busy") { $0.drops.storageBusy },
        drop("bad_checksum") { $0.drops.badChecksum },
        drop("malformed") { $0.drops.malformed },
        drop("foreign_peer") { $0.drops.foreignPeer },
        drop("unknown_transfer") { $0.drops.unknownTransfer },
        drop("duplicate") { $0.drops.duplicate },
        drop("sealed_malformed") { $0.drops.secureMalformed },
        drop("unknown_session") { $0.drops.unknownSession },
        drop("replayed") { $0.drops.replayed },
        drop("forged") { $0.drops.forged },
        drop("handshake") { $0.drops.handshake },
        // Every DATA datagram `loss` discarded: the segments lost with cause simulated.
        drop("simulated_loss") { $0.statistics.reception.simulated.lost },
    ]

    /// DATA segments of every transfer, as its loss events and closing event reported them
    /// (`DaemonStatistics.reception`; a running transfer's share lands every
    /// `loss_event_interval`).
    static let segments: [Definition] =
        [
            .counter("p2mpd_segments_received_total", "DATA segments that arrived: new, duplicate, or discarded on purpose.") {
                $0.statistics.reception.segments
            },
            .counter("p2mpd_segments_duplicate_total", "DATA segments that arrived although already held.") {
                $0.statistics.reception.duplicates
            },
        ]
        + NativeLossCause.allCases.flatMap { cause in
            [
                .counter("p2mpd_segments_lost_total", "DATA segments lost, by cause.", labels: ["cause": cause.rawValue]) {
                    $0.statistics.reception[cause].lost
                },
                .counter(
                    "p2mpd_segments_repaired_total", "DATA segments lost and then received, by the cause of their loss.",
                    labels: ["cause": cause.rawValue]
                ) { $0.statistics.reception[cause].repaired },
            ] as [Definition]
        }

    static let trust: [Definition] = [
        .gauge("p2mpd_authenticated_sessions", "Authenticated sessions open now.") { Double($0.authenticatedSessions) },
        handshakes("established") { $0.handshakes.established },
        handshakes("refused") { $0.handshakes.refused },
        handshakes("failed") { $0.handshakes.authenticationFailed + $0.handshakes.forged },
    ]

    static let spoolAndHooks: [Definition] = [
        .gauge("p2mpd_spool_free_bytes", "Bytes p2mpd may still write on the spool's file system.") { Double($0.spoolFreeBytes) },
        .gauge("p2mpd_spool_partials", "Partial files in the spool: being received, or kept for a resume.") {
            Double($0.partials)
        },
        .counter("p2mpd_hook_runs_total", "Post-receive hooks that ended, whatever the outcome.") { $0.hooks.runs },
        hookFailures("exit_status") { $0.hooks.failedStatus },
        hookFailures("timeout") { $0.hooks.timedOut },
        hookFailures("not_started") { $0.hooks.notStarted },
        hookFailures("queue_full") { $0.hooks.notQueued },
    ]

    private static func drop<Count: BinaryInteger & SendableMetatype>(
        _ cause: String, _ read: @escaping @Sendable (DaemonReadings) -> Count
    ) -> Definition {
        .counter("p2mpd_datagrams_dropped_total", "Datagrams dropped, by cause.", labels: ["cause": cause], read)
    }

    private static func handshakes(_ outcome: String, _ read: @escaping @Sendable (DaemonReadings) -> Int) -> Definition {
        .counter("p2mpd_handshakes_total", "Handshakes of senders, by outcome.", labels: ["outcome": outcome], read)
    }

    private static func hookFailures(_ reason: String, _ read: @escaping @Sendable (DaemonReadings) -> Int) -> Definition {
        .counter("p2mpd_hook_failures_total", "Post-receive hooks that failed, by reason.", labels: ["reason": reason], read)
    }
}
