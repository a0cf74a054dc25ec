import P2MPWire

/// Delivery-rate samples of one receiver, for the model-based controller: how many segments
/// the path delivered while one segment was in flight, over the longer of the time it took to
/// send them and the time it took to acknowledge them (draft-cheng-iccrg-delivery-rate-
/// estimation). Taking the longer interval keeps ACK compression from inflating a sample.
///
/// Only a few first transmissions are tracked at a time (`slots`), spread over the flight,
/// so memory stays fixed whatever the window; the bandwidth filter needs only a few samples
/// per round trip. A tracked segment that is retransmitted is dropped: its acknowledgement
/// could be for either copy.
struct DeliveryRateSampler: Sendable {
    struct Sample: Equatable, Sendable {
        /// Segments per second.
        var rate: Double
        /// Sent while the sender had less to send than it was allowed (end of file, lockstep):
        /// it may understate the path.
        var isApplicationLimited: Bool
    }

    private struct Tracked: Sendable {
        var segment: UInt64
        var sentAt: Instant
        /// The connection's counters when it was sent.
        var delivered: UInt64
        var deliveredAt: Instant
        var firstSentAt: Instant
        var isApplicationLimited: Bool
    }

    static let slots = 8

    private var tracked: [Tracked] = []
    /// Segments delivered (cumulatively or by SACK) since the receiver started.
    private(set) var delivered: UInt64 = 0
    /// When `delivered` last grew.
    private var deliveredAt = Instant.zero
    /// When the most recently delivered segment was sent: the start of a send interval.
    private var firstSentAt = Instant.zero
    /// Samples of segments sent before `delivered` passes this are application limited (0: none).
    private var applicationLimitedUntil: UInt64 = 0
    private var sentSinceTracked = 0

    /// A segment leaves; `inFlight` counts the segments in flight before it.
    mutating func onTransmit(segment: UInt64, isRetransmission: Bool, inFlight: Int, now: Instant) {
        if inFlight == 0 {
            // The flight starts afresh: intervals must not span the idle time.
            firstSentAt = now
            deliveredAt = now
        }
        if isRetransmission {
            tracked.removeAll { $0.segment == segment }
            return
        }
        sentSinceTracked += 1
        let spacing = max(1, inFlight / (Self.slots / 2))
        guard tracked.count < Self.slots, sentSinceTracked >= spacing else { return }
        sentSinceTracked = 0
        tracked.append(
            Tracked(
                segment: segment, sentAt: now, delivered: delivered, deliveredAt: deliveredAt, firstSentAt: firstSentAt,
                isApplicationLimited: applicationLimitedUntil != 0))
    }

    /// The sender had room to send but nothing to send: samples taken until what is in
    /// flight now is delivered say so.
    mutating func onApplicationLimited(inFlight: Int) {
        applicationLimitedUntil = max(1, delivered + UInt64(inFlight))
    }

    /// An acknowledgement delivered `newlyDelivered` segments; `cumulative` and `selective`
    /// are what it reported held. `echoSentAt` is when the segment it echoes was sent, if the
    /// format echoes timestamps. Returns a sample when a tracked segment was among them.
    mutating func onAcknowledgement(
        newlyDelivered: Int, cumulative: UInt64, selective: SACKRanges, echoSentAt: Instant?, minimumInterval: Duration,
        now: Instant
    ) -> Sample? {
        guard newlyDelivered > 0 else { return nil }
        delivered += UInt64(newlyDelivered)
        deliveredAt = now
        if applicationLimitedUntil != 0, delivered > applicationLimitedUntil { applicationLimitedUntil = 0 }
        var latest: Tracked?
        tracked.removeAll { entry in
            guard entry.segment < cumulative || selective.contains(where: { $0.contains(entry.segment) }) else { return false }
            if latest.map({ entry.sentAt > $0.sentAt }) ?? true { latest = entry }
            return true
        }
        if let echoSentAt { firstSentAt = max(firstSentAt, echoSentAt) }
        guard let latest else { return nil }
        if echoSentAt == nil { firstSentAt = max(firstSentAt, latest.sentAt) }
        let sendInterval = latest.sentAt.duration(since: latest.firstSentAt)
        let ackInterval = now.duration(since: latest.deliveredAt)
        let interval = max(sendInterval, ackInterval)
        // Shorter than a round trip: the acknowledgements were compressed, not the path fast.
        guard interval >= minimumInterval, interval > .zero else { return nil }
        let rate = Double(delivered - latest.delivered) / interval.seconds
        return Sample(rate: rate, isApplicationLimited: latest.isApplicationLimited)
    }

    /// A retransmission timeout: every segment in flight is presumed lost, tracked ones too.
    mutating func onTimeout() {
        tracked.removeAll()
    }
}
