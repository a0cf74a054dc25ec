/// The retransmission timeout estimator of RFC 6298, one per receiver.
///
/// Before the first sample the timeout is `bounds.initial`. Each sample updates the
/// smoothed RTT and its variation (alpha 1/8, beta 1/4, K = 4); each timeout doubles the
/// timeout (exponential backoff) until the next sample. The result is clamped to
/// `bounds.minimum ... bounds.maximum`.
public struct RTTEstimator: Sendable {
    /// Limits for the computed timeout.
    public struct Bounds: Sendable, Equatable {
        public var initial: Duration
        public var minimum: Duration
        public var maximum: Duration

        public init(initial: Duration, minimum: Duration, maximum: Duration) {
            self.initial = initial
            self.minimum = minimum
            self.maximum = maximum
        }

        /// RFC 6298's initial 1 s, with a 10 ms floor suited to LANs and a 3 s ceiling
        /// that keeps a lost final ACK recoverable within a receiver's linger time.
        public static let standard = Bounds(initial: .seconds(1), minimum: .milliseconds(10), maximum: .seconds(3))
    }

    public let bounds: Bounds
    /// The smoothed round-trip time, once there has been a sample.
    public private(set) var smoothed: Duration?
    private var variationNanoseconds: Int64 = 0
    private var baseTimeoutNanoseconds: Int64
    private var backoffShift = 0

    public init(bounds: Bounds = .standard) {
        self.bounds = bounds
        self.baseTimeoutNanoseconds = bounds.initial.nanoseconds
    }

    /// The current retransmission timeout, backoff included.
    public var timeout: Duration {
        let shifted = baseTimeoutNanoseconds.multipliedReportingOverflow(by: 1 << min(backoffShift, 30))
        let raw = shifted.overflow ? Int64.max : shifted.partialValue
        return .nanoseconds(min(max(raw, bounds.minimum.nanoseconds), bounds.maximum.nanoseconds))
    }

    /// Feeds one round-trip measurement of a segment that was not retransmitted (Karn).
    public mutating func addSample(_ rtt: Duration) {
        let sample = max(rtt.nanoseconds, 1)
        if let smoothed {
            let srtt = smoothed.nanoseconds
            variationNanoseconds = (3 * variationNanoseconds + abs(srtt - sample)) / 4
            self.smoothed = .nanoseconds((7 * srtt + sample) / 8)
        } else {
            smoothed = .nanoseconds(sample)
            variationNanoseconds = sample / 2
        }
        // RFC 6298 (2.3): RTO = SRTT + max(G, K * RTTVAR); 1 ms clock granularity.
        baseTimeoutNanoseconds = smoothed!.nanoseconds + max(1_000_000, 4 * variationNanoseconds)
        backoffShift = 0
    }

    /// Doubles the timeout after it expired (RFC 6298 5.5).
    public mutating func backOff() {
        if timeout < bounds.maximum { backoffShift += 1 }
    }
}

/// How a sender chooses its retransmission timeout.
public enum RetransmissionTimeout: Sendable, Equatable {
    /// Per-receiver RFC 6298 estimate.
    case adaptive(RTTEstimator.Bounds)
    /// A fixed timeout, without backoff, as the seed's sender had (`--timeout SECONDS`).
    case fixed(Duration)
}
