/// A point on a monotonic clock, in nanoseconds from an arbitrary origin.
///
/// The protocol layer never reads a clock: callers pass the current `Instant` into every
/// event, which is how the deterministic simulation runs the same code on virtual time.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = Instant(nanoseconds: 0)

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// `instant + duration`, saturating instead of overflowing; negative durations count as zero.
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(UInt64(clamping: rhs.nanoseconds))
        return Instant(nanoseconds: overflow ? .max : sum)
    }

    /// `instant - duration`, saturating at the clock's origin; negative durations count as zero.
    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds - min(lhs.nanoseconds, UInt64(clamping: rhs.nanoseconds)))
    }

    /// The earlier of two optional instants; nil only when both are.
    public static func earliest(_ first: Instant?, _ second: Instant?) -> Instant? {
        guard let first else { return second }
        guard let second else { return first }
        return min(first, second)
    }

    /// The instant `duration` after the clock's origin (negative durations count as zero).
    public init(sinceOrigin duration: Duration) {
        self.init(nanoseconds: UInt64(clamping: duration.nanoseconds))
    }

    /// The time from the clock's origin to `self`, for machines that keep time as a `Duration`.
    public var sinceOrigin: Duration { .nanoseconds(Int64(clamping: nanoseconds)) }

    /// The time from `earlier` to `self`, or zero when `earlier` is later.
    public func duration(since earlier: Instant) -> Duration {
        guard nanoseconds > earlier.nanoseconds else { return .zero }
        return .nanoseconds(Int64(clamping: nanoseconds - earlier.nanoseconds))
    }

    public var description: String {
        "\(nanoseconds / 1_000_000_000).\(String(nanoseconds % 1_000_000_000 / 1_000_000).leftPadded(to: 3))s"
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at the bounds of `Int64`.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }

    /// The duration in seconds as a floating-point number, for display.
    public var seconds: Double {
        Double(nanoseconds) / 1e9
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
