/// Spreads one receiver's transmissions over the round trip instead of sending a whole
/// window at once, which overflows queues (and, on loopback, socket buffers) and causes
/// the losses congestion control then reacts to. A short burst is allowed after a pause:
/// 10 segments. A sender that pacing held back and that wakes late may catch up more, as
/// much time as the controller allows: the wakeup was late, the pace was not too fast.
struct Pacer: Sendable {
    static let burst: Int64 = 10

    private var nextSend = Instant.zero
    private var interval: Int64 = 0
    private var catchUp: Int64 = 0

    /// Sets the time between two transmissions, in nanoseconds (nil or 0: unpaced), as the
    /// receiver's congestion controller computes it, and how far behind its pace a sender
    /// held back by it may catch up at once.
    mutating func update(interval: Int64?, catchUp: Duration = .zero) {
        self.interval = max(0, interval ?? 0)
        self.catchUp = catchUp.nanoseconds
    }

    /// When the next transmission may go, or nil for now.
    func blockedUntil(now: Instant) -> Instant? {
        guard interval > 0, nextSend > now else { return nil }
        return nextSend
    }

    /// A transmission at `now`; `catchingUp` when pacing held the sender back until now.
    mutating func recordSend(now: Instant, catchingUp: Bool = false) {
        guard interval > 0 else { return }
        let credit = UInt64(max(interval * Self.burst, catchingUp ? catchUp : 0))
        let earliest = Instant(nanoseconds: now.nanoseconds &- min(now.nanoseconds, credit))
        nextSend = max(nextSend, earliest) + .nanoseconds(interval)
    }
}

/// A token bucket over the sender's total rate in bytes per second (`--rate`).
struct RateLimiter: Sendable {
    let bytesPerSecond: Double
    private let depth: Double
    private var tokens: Double
    private var updated = Instant.zero

    /// The burst allowance is 2 ms of traffic, raised to 64 KB for batching but never above
    /// 100 ms of traffic (a low cap stays a cap), and never below one segment.
    init(bytesPerSecond: UInt64, segmentBytes: Int) {
        let rate = Double(max(1, bytesPerSecond))
        self.bytesPerSecond = rate
        depth = max(Double(segmentBytes), min(65_536, rate / 10), rate / 500)
        tokens = depth
    }

    /// When `bytes` may be sent, or nil for now.
    mutating func blockedUntil(bytes: Int, now: Instant) -> Instant? {
        refill(now: now)
        let missing = Double(bytes) - tokens
        guard missing > 0 else { return nil }
        return now + .nanoseconds(Int64((missing / bytesPerSecond * 1e9).rounded(.up)))
    }

    mutating func consume(_ bytes: Int, now: Instant) {
        refill(now: now)
        tokens -= Double(bytes)
    }

    private mutating func refill(now: Instant) {
        let elapsed = now.duration(since: updated).seconds
        updated = max(updated, now)
        tokens = min(depth, tokens + elapsed * bytesPerSecond)
    }
}
