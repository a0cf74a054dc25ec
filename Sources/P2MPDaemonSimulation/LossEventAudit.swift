import Logging
import P2MPProtocol
import Synchronization

/// Records the loss events (`P2MP_EVENT=loss`) and the closing events (complete, fail) a
/// daemon logs, each at the time the run says it is, and checks what the loss events
/// promise (systemd/p2mp.catalog): of one transfer and cause, at most one per interval
/// (periodic ones at least `interval` apart, each with something lost) and one at its end;
/// none for a transfer that lost nothing; summed, the totals its closing event carries.
public final class LossEventAudit: Sendable {
    public struct Record: Sendable {
        public var at: Instant
        /// The logger's label: one per daemon incarnation.
        public var daemon: String
        public var event: String
        public var fields: [String: String]
    }

    private struct State {
        var now = Instant.zero
        var records: [Record] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// The time the records that follow are logged at.
    public func setTime(_ now: Instant) {
        state.withLock { $0.now = now }
    }

    public var records: [Record] { state.withLock { $0.records } }

    /// A logger whose loss and closing events this audit records.
    public func logger(label: String) -> Logger {
        var logger = Logger(label: label) { [self] label in Handler(label: label, audit: self) }
        logger.logLevel = .info
        return logger
    }

    fileprivate func record(_ event: String, daemon: String, fields: [String: String]) {
        state.withLock { $0.records.append(Record(at: $0.now, daemon: daemon, event: event, fields: fields)) }
    }

    /// Every broken promise of the loss events.
    public func violations(interval: Duration) -> [String] {
        let transfers = Dictionary(grouping: records.filter { $0.fields["p2mp_transfer_id"] != nil }) {
            "\($0.daemon) transfer \($0.fields["p2mp_transfer_id"]!)"
        }
        return transfers.flatMap { transfer, records in Self.violations(of: transfer, records, interval: interval) }
    }

    /// The broken promises of one transfer's events, in the order they were logged.
    private static func violations(of transfer: String, _ records: [Record], interval: Duration) -> [String] {
        var found: [String] = []
        let closing = records.first { (["complete", "fail"].contains($0.event)) && $0.fields["p2mp_lost_segments"] != nil }
        let losses = records.filter { $0.event == "loss" }
        var byCause: [String: [Record]] = [:]
        for loss in losses { byCause[loss.fields["p2mp_loss_cause"] ?? "?", default: []].append(loss) }
        for (cause, events) in byCause {
            // The last may come with the closing event, at any distance from the one before.
            let periodic = events.last?.at == closing?.at ? events.dropLast() : events[...]
            for (earlier, later) in zip(periodic, periodic.dropFirst()) where later.at.duration(since: earlier.at) < interval {
                found.append("\(transfer): \(cause) loss events at \(earlier.at) and \(later.at), closer than \(interval)")
            }
            for event in periodic where number(event, "p2mp_lost_segments") == 0 {
                found.append("\(transfer): a \(cause) loss event at \(event.at) with nothing lost")
            }
        }
        guard let closing else { return found }  // A crash ended it: nothing to add up to.
        if losses.contains(where: { $0.at > closing.at }) { found.append("\(transfer): a loss event after its \(closing.event)") }
        if number(closing, "p2mp_lost_segments") == 0, !losses.isEmpty {
            found.append("\(transfer): \(losses.count) loss events, yet its \(closing.event) says nothing was lost")
        }
        func expectSum(_ field: String, of events: [Record], _ what: String) {
            let sum = events.reduce(UInt64(0)) { $0 + number($1, field) }
            if sum != number(closing, field) {
                found.append("\(transfer): its \(what) add up to \(field) \(sum), its \(closing.event) says \(number(closing, field))")
            }
        }
        expectSum("p2mp_lost_segments", of: losses, "loss events")
        expectSum("p2mp_repaired_segments", of: losses, "loss events")
        for (cause, events) in byCause {
            expectSum("p2mp_segments", of: events, "\(cause) loss events")
            expectSum("p2mp_duplicate_segments", of: events, "\(cause) loss events")
        }
        return found
    }

    private static func number(_ record: Record, _ field: String) -> UInt64 { UInt64(record.fields[field] ?? "") ?? 0 }

    private struct Handler: LogHandler {
        let label: String
        let audit: LossEventAudit
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            guard let kind = event.metadata?["p2mp_event"].map({ "\($0)" }), ["loss", "complete", "fail"].contains(kind) else {
                return
            }
            audit.record(kind, daemon: label, fields: (event.metadata ?? [:]).mapValues { "\($0)" })
        }
    }
}
