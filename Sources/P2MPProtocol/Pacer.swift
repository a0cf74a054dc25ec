/// Spreads one receiver's transmissions over the round trip instead of sending a whole
/// window at once, which overflows queues (and, on loopback, socket buffers) and causes
/// the losses congestion control then reacts to. A short burst is allowed after a pause.
struct Pacer: Sendable {
    static let burst: Int64 = 10

    private var nextSend = Instant.zero
    private var interval: Int64 = 0

    /// Sets the time between two transmissions, in nanoseconds (nil or 0: unpaced), as the
    /// receiver's congestion controller computes it.
    mutating func update(interval: Int64?) {
        self.interval = max(0, interval ?? 0)
    }

    /// When the next transmission may go, or nil for now.
    func blockedUntil(now: Instant) -> Instant? {
        guard interval > 0, nextSend > now else { return nil }
        return nextSend
    }

    mutating func recordSend(now: Instant) {
        guard interval > 0 else { return }
        let earliest = Instant(nanoseconds: now.nanoseconds &- UInt64(min(now.nanoseconds, UInt64(interval * Self.burst))))
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
