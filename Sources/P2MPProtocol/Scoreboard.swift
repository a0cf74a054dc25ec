import DequeModule

/// What the sender knows about the segments of one receiver's window: which were sent,
/// selectively acknowledged (SACK) or declared lost, in a ring over
/// `[acknowledged, acknowledged + capacity)`. Memory is fixed by the capacity, never by
/// the file size.
///
/// Invariants: `inFlight` counts segments sent, not SACKed and not marked lost;
/// `lostPending` counts segments marked lost and not yet retransmitted.
struct Scoreboard: Sendable {
    private static let sent: UInt8 = 1
    private static let sacked: UInt8 = 2
    private static let lost: UInt8 = 4

    private var flags: [UInt8]
    private let mask: UInt64
    /// Segments `0..<acknowledged` are cumulatively acknowledged.
    private(set) var acknowledged: UInt64 = 0
    /// One past the highest segment ever sent.
    private(set) var highWater: UInt64 = 0
    private(set) var inFlight = 0
    private(set) var lostPending = 0
    /// The highest SACKed segment + 1 (0 when nothing above `acknowledged` is SACKed).
    private(set) var sackedHigh: UInt64 = 0
    /// Where the next search for a lost segment starts; no lost segment lies below it.
    private var lostCursor: UInt64 = 0
    /// Below this, SACK-based loss detection has already looked.
    private var lossScan: UInt64 = 0
    /// Retransmissions in the order they left: each segment retransmitted and neither
    /// delivered nor marked lost since appears once.
    private var retransmissions = Deque<(segment: UInt64, sentAt: Instant)>()

    /// A ring of at least `capacity` segments (rounded up to a power of two).
    init(capacity: Int) {
        var size = 1
        while size < max(1, capacity) { size <<= 1 }
        flags = Array(repeating: 0, count: size)
        mask = UInt64(size - 1)
    }

    var capacity: Int { flags.count }

    /// Starts the window at `segment`, as when a receiver resumes.
    mutating func reset(at segment: UInt64) {
        for index in flags.indices { flags[index] = 0 }
        acknowledged = segment
        highWater = segment
        inFlight = 0
        lostPending = 0
        sackedHigh = 0
        lostCursor = segment
        lossScan = segment
        retransmissions.removeAll()
    }

    /// Records the first transmission of `highWater`.
    mutating func sendNew() -> UInt64 {
        let segment = highWater
        flags[Int(segment & mask)] = Self.sent
        highWater += 1
        inFlight += 1
        return segment
    }

    /// The lowest segment waiting for retransmission, if any.
    mutating func nextLost() -> UInt64? {
        guard lostPending > 0 else { return nil }
        var segment = max(lostCursor, acknowledged)
        while segment < highWater {
            if flags[Int(segment & mask)] & Self.lost != 0 {
                lostCursor = segment
                return segment
            }
            segment += 1
        }
        lostCursor = segment
        return nil
    }

    /// Records the retransmission of a segment returned by `nextLost()`, at `now`.
    mutating func retransmit(_ segment: UInt64, now: Instant) {
        let index = Int(segment & mask)
        flags[index] &= ~Self.lost
        lostPending -= 1
        inFlight += 1
        retransmissions.append((segment, now))
    }

    /// Advances the cumulative acknowledgement; returns how many segments became newly
    /// acknowledged (not counting ones already SACKed).
    mutating func acknowledge(through cumulative: UInt64) -> Int {
        guard cumulative > acknowledged else { return 0 }
        var newly = 0
        for segment in acknowledged..<cumulative {
            let index = Int(segment & mask)
            let state = flags[index]
            if state & Self.sacked == 0 {
                newly += 1
                if state & Self.lost != 0 {
                    lostPending -= 1
                } else if state & Self.sent != 0 {
                    inFlight -= 1
                }
            }
            flags[index] = 0
        }
        acknowledged = cumulative
        if sackedHigh <= acknowledged { sackedHigh = 0 }
        while let first = retransmissions.first, first.segment < acknowledged { retransmissions.removeFirst() }
        return newly
    }

    /// Marks `range` (clipped to what was sent and is not yet acknowledged) as SACKed;
    /// returns how many segments were newly SACKed.
    mutating func selectivelyAcknowledge(_ range: Range<UInt64>) -> Int {
        let lower = max(range.lowerBound, acknowledged)
        let upper = min(range.upperBound, highWater)
        guard lower < upper else { return 0 }
        var newly = 0
        for segment in lower..<upper {
            let index = Int(segment & mask)
            let state = flags[index]
            guard state & Self.sacked == 0 else { continue }
            newly += 1
            if state & Self.lost != 0 {
                lostPending -= 1
            } else if state & Self.sent != 0 {
                inFlight -= 1
            }
            flags[index] = Self.sent | Self.sacked
        }
        sackedHigh = max(sackedHigh, upper)
        return newly
    }

    /// RFC 6675-style detection: a segment with at least `threshold` SACKed segments
    /// above it (approximated by its distance below the highest SACK) is lost. Each
    /// segment is examined once. Returns how many were newly marked.
    mutating func detectLosses(threshold: UInt64) -> Int {
        guard sackedHigh > acknowledged + threshold else { return 0 }
        let limit = sackedHigh - threshold
        var segment = max(lossScan, acknowledged)
        var marked = 0
        while segment < limit {
            if markLost(segment) { marked += 1 }
            segment += 1
        }
        lossScan = max(lossScan, limit)
        return marked
    }

    /// RACK-style detection of lost retransmissions (RFC 8985), which the SACK scan above
    /// never looks at again: a retransmission is lost when a segment sent `reorderWindow`
    /// or more after it has been delivered (the one sent at `deliveredSentAt`, which the
    /// acknowledgement echoes). Returns how many were newly marked.
    mutating func detectLostRetransmissions(deliveredSentAt: Instant, reorderWindow: Duration) -> Int {
        var marked = 0
        while let first = retransmissions.first {
            let state = first.segment < acknowledged ? Self.sacked : flags[Int(first.segment & mask)]
            if state & (Self.sacked | Self.lost) == 0 {
                guard first.sentAt + reorderWindow <= deliveredSentAt else { break }
                if markLost(first.segment) { marked += 1 }
            }
            retransmissions.removeFirst()
        }
        return marked
    }

    /// True while some segment was sent and is not cumulatively acknowledged (SACKed ones
    /// included: a receiver may still renege on them, so they keep the timer armed).
    var hasUnacknowledged: Bool { acknowledged < highWater }

    /// Declares every segment in flight lost, as after a retransmission timeout.
    ///
    /// A SACKed segment at the cumulative point means the receiver reneged: it reported the
    /// segment held, yet cannot hold it, or the cumulative point would have passed it (a
    /// receiver that restarted under the same session forgets what it held above its
    /// durable prefix). Then every SACK mark is cleared first, as RFC 2018 (section 8)
    /// asks after a timeout, so those segments are sent again rather than waited for forever.
    mutating func markAllLost() -> Int {
        if acknowledged < highWater, flags[Int(acknowledged & mask)] & Self.sacked != 0 {
            forgetSelectiveAcknowledgements()
        }
        var marked = 0
        var segment = acknowledged
        while segment < highWater {
            if markLost(segment) { marked += 1 }
            segment += 1
        }
        retransmissions.removeAll()
        return marked
    }

    /// Turns every SACKed segment back into one merely sent (and so in flight).
    private mutating func forgetSelectiveAcknowledgements() {
        var segment = acknowledged
        while segment < highWater {
            let index = Int(segment & mask)
            if flags[index] & Self.sacked != 0 {
                flags[index] = Self.sent
                inFlight += 1
            }
            segment += 1
        }
        sackedHigh = 0
        lossScan = acknowledged
    }

    private mutating func markLost(_ segment: UInt64) -> Bool {
        let index = Int(segment & mask)
        let state = flags[index]
        guard state & Self.sent != 0, state & (Self.sacked | Self.lost) == 0 else { return false }
        flags[index] = state | Self.lost
        inFlight -= 1
        lostPending += 1
        lostCursor = min(lostCursor, segment)
        return true
    }
}
